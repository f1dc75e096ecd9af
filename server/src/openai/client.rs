//! The HTTP client shared by every OpenAI call: JSON requests, server-sent-event streams, and
//! the retry loop.
//!
//! Every call goes through one retry loop ([`Client::execute`]): 429, 408/409 and 5xx answers,
//! timeouts and dropped connections are retried with backoff (honouring `Retry-After`). Calls
//! that create something (an upload, a job) are not simply repeated after an ambiguous failure:
//! the loop first asks the server whether the first attempt took effect, so nothing is created
//! twice. The API key lives only in the `Authorization` header (marked sensitive) and is scrubbed
//! from any message the server sends back.

use super::error::{Error, ErrorResponse};
use super::retry::{self, Failure, RetryPolicy};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The API key. Its `Debug` never shows it, so it cannot leak through `{:?}` of a struct.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// Reads the key from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<ApiKey, Error> {
        match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Ok(ApiKey(k.trim().to_string())),
            _ => Err(Error::Config(format!(
                "no API key: set the environment variable {var} (the variable's name is \
                 `api_key_env` in the [remote] section of voicetune.toml, or in [together] for Together AI)"
            ))),
        }
    }

    /// Replaces any occurrence of the key in `text`: servers sometimes echo what they were sent.
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() >= 4 && text.contains(&self.0) {
            text.replace(&self.0, "[redacted]")
        } else {
            text.to_string()
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Everything a [`Client`] needs besides the key.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// e.g. `https://api.openai.com/v1` (no trailing slash needed).
    pub base_url: String,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
}

/// How long each kind of call may take. A server that accepts the connection and never answers
/// costs a metadata call seconds, not minutes, before it is retried (with a notice).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    /// Opening the connection (TCP and TLS).
    pub connect: Duration,
    /// A GET of metadata: a job's status, a list of jobs, files, events or models.
    pub metadata: Duration,
    /// Any other call (creating a job, a chat completion's first byte); uploads get this plus
    /// time in proportion to the file's size.
    pub call: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            metadata: Duration::from_secs(15),
            call: Duration::from_secs(60),
        }
    }
}

/// A failed attempt that is about to be retried: shown to the user so a slow or silent API is
/// never a silent command.
#[derive(Debug)]
pub struct Waiting<'a> {
    /// The attempt that failed (1 = the first).
    pub attempt: u32,
    /// How long until the next attempt.
    pub delay: Duration,
    pub error: &'a Error,
}

impl std::fmt::Display for Waiting<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waiting for the API (attempt {} failed, retry in {:.1}s): {}",
            self.attempt,
            self.delay.as_secs_f64(),
            self.error
        )
    }
}

/// Called before each retry with what failed and how long the wait is.
pub type WaitNotice = Arc<dyn Fn(&Waiting) + Send + Sync>;

/// Called with (bytes sent, total bytes) while a file uploads.
pub type UploadProgress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// One attempt's outcome when it failed.
struct Attempted {
    failure: Failure,
    retry_after: Option<Duration>,
    error: Error,
}

/// Whether a call may simply be sent again after an ambiguous failure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    Safe,
    /// Creates something: probe before repeating.
    Probe,
}

#[derive(Clone)]
pub struct Client {
    pub(super) http: reqwest::Client,
    base_url: String,
    key: ApiKey,
    pub(super) timeouts: Timeouts,
    retry: RetryPolicy,
    on_wait: Option<WaitNotice>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(options: ClientOptions, key: ApiKey) -> Result<Client, Error> {
        let base_url = options.base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::Config(format!("invalid base URL `{base_url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "invalid base URL `{base_url}`: use http:// or https://"
            )));
        }
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.0)).map_err(|_| {
            Error::Config("the API key contains characters not allowed in an HTTP header".into())
        })?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        for (name, value) in [
            ("OpenAI-Organization", &options.organization),
            ("OpenAI-Project", &options.project),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                let v = HeaderValue::from_str(v)
                    .map_err(|_| Error::Config(format!("invalid {name} header value `{v}`")))?;
                headers.insert(name, v);
            }
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("voicetune/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.timeouts.connect.min(options.timeouts.call))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base_url,
            key,
            timeouts: options.timeouts,
            retry: options.retry,
            on_wait: None,
        })
    }

    /// This client, telling `notice` before each retry.
    pub fn with_wait_notice(mut self, notice: WaitNotice) -> Client {
        self.on_wait = Some(notice);
        self
    }

    /// Waits before retry number `retry` (0 = the first), after telling the notice.
    async fn wait(&self, retry: u32, delay: Duration, error: &Error) {
        if let Some(notice) = &self.on_wait {
            notice(&Waiting {
                attempt: retry + 1,
                delay,
                error,
            });
        }
        tokio::time::sleep(delay).await;
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// A POST to `path` with the per-call time limit; send it through [`Client::execute`].
    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).timeout(self.timeouts.call)
    }

    // ---- generic JSON ----

    /// GET `path` with a query string, retried freely.
    pub async fn get_json<T, K>(
        &self,
        what: &str,
        path: &str,
        query: &[(K, String)],
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
        K: AsRef<str>,
    {
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        let build = || async {
            Ok(self
                .http
                .get(self.url(path))
                .query(&query)
                .timeout(self.timeouts.metadata))
        };
        self.execute(what, Repeat::Safe, build, no_probe).await
    }

    /// POST a JSON body to a call that is safe to repeat (it creates nothing that persists),
    /// such as chat completions.
    pub async fn post_json<T, B>(&self, what: &str, path: &str, body: &B) -> Result<T, Error>
    where
        T: DeserializeOwned,
        B: Serialize + ?Sized,
    {
        let build = || async {
            Ok(self
                .http
                .post(self.url(path))
                .json(body)
                .timeout(self.timeouts.call))
        };
        self.execute(what, Repeat::Safe, build, no_probe).await
    }

    /// The retry loop shared by every call. `build` makes a fresh request for each attempt;
    /// `probe` (for [`Repeat::Probe`] calls) tells whether an attempt whose answer was lost
    /// took effect after all.
    pub(crate) async fn execute<T, B, BF, P, PF>(
        &self,
        what: &str,
        repeat: Repeat,
        build: B,
        probe: P,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
        B: Fn() -> BF,
        BF: Future<Output = Result<reqwest::RequestBuilder, Error>>,
        P: Fn() -> PF,
        PF: Future<Output = Result<Option<T>, Error>>,
    {
        let mut retry = 0;
        loop {
            let attempted = match self.attempt(what, build().await?).await {
                Ok(value) => return Ok(value),
                Err(a) => a,
            };
            if !attempted.failure.is_transient() {
                return Err(attempted.error);
            }
            let Some(delay) = self.retry.delay(retry, attempted.retry_after) else {
                return Err(attempted.error);
            };
            self.wait(retry, delay, &attempted.error).await;
            retry += 1;
            if repeat == Repeat::Probe && attempted.failure.maybe_applied() {
                if let Some(done) = probe().await? {
                    return Ok(done);
                }
            }
        }
    }

    /// Sends one request and reads its answer.
    async fn attempt<T: DeserializeOwned>(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Attempted> {
        let response = self.send_once(what, request).await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_failure(what, e))?;
        serde_json::from_slice(&body).map_err(|e| Attempted {
            failure: Failure::Status(status.as_u16()),
            retry_after: None,
            error: Error::Protocol {
                what: what.to_string(),
                message: format!("{e}"),
            },
        })
    }

    /// Sends one request; a success status returns the response with its body unread, any
    /// other status becomes an error carrying the API's message.
    async fn send_once(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Attempted> {
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_failure(what, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry::retry_after(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_failure(what, e))?;
        let (message, kind, code) = match serde_json::from_slice::<ErrorResponse>(&body) {
            Ok(r) if !r.error.message.is_empty() => (
                r.error.message,
                r.error.kind,
                r.error.code.and_then(|c| match c {
                    serde_json::Value::String(s) => Some(s),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                }),
            ),
            _ => {
                let text = String::from_utf8_lossy(&body[..body.len().min(500)])
                    .trim()
                    .to_string();
                let reason = status.canonical_reason().unwrap_or("error").to_string();
                (if text.is_empty() { reason } else { text }, None, None)
            }
        };
        Err(Attempted {
            failure: Failure::Status(status.as_u16()),
            retry_after,
            error: Error::Api {
                status: status.as_u16(),
                message: self.key.scrub(&message),
                kind,
                code,
                what: what.to_string(),
            },
        })
    }

    fn transport_failure(&self, what: &str, e: reqwest::Error) -> Attempted {
        let failure = if e.is_connect() {
            Failure::Connect
        } else {
            Failure::Ambiguous
        };
        Attempted {
            failure,
            retry_after: None,
            error: Error::Transport {
                what: what.to_string(),
                message: self.key.scrub(&describe(&e)),
            },
        }
    }

    /// POST a JSON body to a call that is safe to repeat and answers with a stream (server-sent
    /// events): retried until a success status arrives, then the body is the caller's to read.
    pub async fn post_streaming<B>(
        &self,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<reqwest::Response, Error>
    where
        B: Serialize + ?Sized,
    {
        self.streaming(what, || self.http.post(self.url(path)).json(body))
            .await
    }

    /// GET `path` with a query, answered with a body too large to hold (a download): retried
    /// until a success status arrives, then the body is the caller's to stream.
    pub async fn get_streaming(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<reqwest::Response, Error> {
        self.streaming(what, || self.http.get(self.url(path)).query(query))
            .await
    }

    /// The retry loop of a call whose answer is streamed: the time limit covers the wait for
    /// the answer's head only.
    async fn streaming(
        &self,
        what: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let mut retry = 0;
        loop {
            let attempted =
                match tokio::time::timeout(self.timeouts.call, self.send_once(what, build())).await
                {
                    Ok(Ok(response)) => return Ok(response),
                    Ok(Err(a)) => a,
                    Err(_) => Attempted {
                        failure: Failure::Ambiguous,
                        retry_after: None,
                        error: Error::Transport {
                            what: what.to_string(),
                            message: "timed out".into(),
                        },
                    },
                };
            if !attempted.failure.is_transient() {
                return Err(attempted.error);
            }
            let Some(delay) = self.retry.delay(retry, attempted.retry_after) else {
                return Err(attempted.error);
            };
            self.wait(retry, delay, &attempted.error).await;
            retry += 1;
        }
    }

    /// The retry policy, for callers that repeat a whole streamed transfer.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// The `probe` of a call that is safe to repeat: nothing to look up.
pub(crate) async fn no_probe<T>() -> Result<Option<T>, Error> {
    Ok(None)
}

/// A reqwest error with its causes, which is where the useful part ("connection refused") is.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_never_in_debug_output_and_is_scrubbed() {
        let key = ApiKey::new("sk-test-SECRET123456");
        assert!(!format!("{key:?}").contains("SECRET"));
        assert_eq!(
            key.scrub("Incorrect API key provided: sk-test-SECRET123456."),
            "Incorrect API key provided: [redacted]."
        );
        let client = Client::new(
            ClientOptions {
                base_url: "http://127.0.0.1:9/v1/".into(),
                organization: Some("org-1".into()),
                project: None,
                timeouts: Timeouts::default(),
                retry: RetryPolicy::default(),
            },
            key,
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
        assert_eq!(client.url("files"), "http://127.0.0.1:9/v1/files");
    }

    #[test]
    fn bad_base_urls_are_refused() {
        let opts = |u: &str| ClientOptions {
            base_url: u.into(),
            organization: None,
            project: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        };
        assert!(Client::new(opts("ftp://x"), ApiKey::new("k")).is_err());
        assert!(Client::new(opts("not a url"), ApiKey::new("k")).is_err());
    }
}
