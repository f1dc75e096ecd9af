//! HTTP client for the OpenAI API and compatible providers: files, fine-tuning jobs, events,
//! checkpoints, and plain JSON calls (chat completions).
//!
//! Every call goes through one retry loop ([`Client::execute`]): 429, 408/409 and 5xx answers,
//! timeouts and dropped connections are retried with backoff (honouring `Retry-After`). Calls
//! that create something (an upload, a job) are not simply repeated after an ambiguous failure:
//! the loop first asks the server whether the first attempt took effect, so nothing is created
//! twice. The API key lives only in the `Authorization` header (marked sensitive) and is scrubbed
//! from any message the server sends back.

use super::api::{
    CheckpointList, CreateJobRequest, ErrorResponse, EventList, FileList, FineTuningJob, JobEvent,
    JobList, OpenAiFile,
};
use super::retry::{self, Failure, RetryPolicy};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::path::Path;
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
                 `api_key_env` in the [remote] section of voicetune.toml)"
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
    /// Time limit of one JSON call (uploads get more, in proportion to the file size).
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// A failed call, after any retries.
#[derive(Debug)]
pub enum Error {
    /// The API answered with an error status; `message` is the API's own message.
    Api {
        status: u16,
        message: String,
        kind: Option<String>,
        code: Option<String>,
        what: String,
    },
    /// No usable answer: connection refused, timed out, dropped (after retries).
    Transport { what: String, message: String },
    /// The answer did not have the shape the spec promises.
    Protocol { what: String, message: String },
    /// Missing key, bad base URL, bad id.
    Config(String),
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Api {
                status,
                message,
                kind,
                code,
                what,
            } => {
                write!(f, "{what}: the API answered {status}")?;
                match (kind, code) {
                    (Some(k), Some(c)) => write!(f, " ({k}, {c})")?,
                    (Some(x), None) | (None, Some(x)) => write!(f, " ({x})")?,
                    (None, None) => {}
                }
                write!(f, ": {message}")
            }
            Error::Transport { what, message } => write!(f, "{what}: {message}"),
            Error::Protocol { what, message } => {
                write!(f, "{what}: unexpected answer from the API: {message}")
            }
            Error::Config(m) => f.write_str(m),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

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
enum Repeat {
    Safe,
    /// Creates something: probe before repeating.
    Probe,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    key: ApiKey,
    timeout: Duration,
    retry: RetryPolicy,
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
            .connect_timeout(Duration::from_secs(15).min(options.timeout))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base_url,
            key,
            timeout: options.timeout,
            retry: options.retry,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    // ---- files ----

    /// Uploads `path` for fine-tuning, streamed from disk, unless a file with the same name and
    /// size is already there (names carry a content hash, see [`upload_name`]), in which case
    /// that one is returned: a retry or a restart never uploads the same data twice.
    pub async fn upload_file(
        &self,
        path: &Path,
        purpose: &str,
        progress: Option<UploadProgress>,
    ) -> Result<OpenAiFile, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = tokio::fs::metadata(path).await.map_err(io)?.len();
        let name = upload_name(path).await.map_err(io)?;
        if let Some(existing) = self.find_file(&name, len, purpose).await? {
            return Ok(existing);
        }
        let what = format!("uploading {}", path.display());
        // A slow link must not trip the per-call timeout: allow 4 s per MB on top (>= 256 KB/s).
        let timeout = self.timeout + Duration::from_secs(4 * len / 1_000_000);
        let build = || {
            let path = path.to_path_buf();
            let name = name.clone();
            let purpose = purpose.to_string();
            let progress = progress.clone();
            async move {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                let mut sent = 0u64;
                let stream = futures_util::StreamExt::inspect(
                    tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024),
                    move |chunk| {
                        if let (Ok(c), Some(p)) = (chunk, &progress) {
                            sent += c.len() as u64;
                            p(sent, len);
                        }
                    },
                );
                let part = reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::wrap_stream(stream),
                    len,
                )
                .file_name(name)
                .mime_str("application/jsonl")
                .expect("static mime type is valid");
                let form = reqwest::multipart::Form::new()
                    .text("purpose", purpose)
                    .part("file", part);
                Ok(self
                    .http
                    .post(self.url("files"))
                    .multipart(form)
                    .timeout(timeout))
            }
        };
        let probe = || self.find_file(&name, len, purpose);
        self.execute(&what, Repeat::Probe, build, probe).await
    }

    /// A file already uploaded with this name and size (and not in error).
    pub async fn find_file(
        &self,
        name: &str,
        len: u64,
        purpose: &str,
    ) -> Result<Option<OpenAiFile>, Error> {
        let mut after: Option<String> = None;
        // Bounded: a project with more files than this simply gets a fresh upload.
        for _ in 0..20 {
            let mut query = vec![("purpose", purpose.to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let list: FileList = self.get_json("listing files", "files", &query).await?;
            if let Some(f) = list.data.iter().find(|f| {
                f.filename == name && f.bytes == len && f.status.as_deref() != Some("error")
            }) {
                return Ok(Some(f.clone()));
            }
            match (list.has_more, list.data.last()) {
                (true, Some(last)) => after = Some(last.id.clone()),
                _ => break,
            }
        }
        Ok(None)
    }

    // ---- jobs ----

    /// Creates a job. The request must carry a unique `voicetune_request` metadata value: if the
    /// answer is lost, the job is looked up by it instead of being created a second time.
    pub async fn create_job(&self, request: &CreateJobRequest) -> Result<FineTuningJob, Error> {
        let tag = request.metadata.get(REQUEST_TAG).cloned().ok_or_else(|| {
            Error::Config(format!("create_job needs a `{REQUEST_TAG}` metadata value"))
        })?;
        let build = || async {
            Ok(self
                .http
                .post(self.url("fine_tuning/jobs"))
                .json(request)
                .timeout(self.timeout))
        };
        let probe = || self.find_job_by_tag(&tag);
        self.execute("creating the fine-tuning job", Repeat::Probe, build, probe)
            .await
    }

    /// The job created with metadata `voicetune_request = tag`, if any.
    pub async fn find_job_by_tag(&self, tag: &str) -> Result<Option<FineTuningJob>, Error> {
        let query = vec![
            (format!("metadata[{REQUEST_TAG}]"), tag.to_string()),
            ("limit".to_string(), "100".to_string()),
        ];
        let list: JobList = self
            .get_json("looking up the fine-tuning job", "fine_tuning/jobs", &query)
            .await?;
        // Check the tag ourselves: a compatible provider may ignore the metadata filter.
        Ok(list.data.into_iter().find(|j| {
            j.metadata
                .as_ref()
                .and_then(|m| m.get(REQUEST_TAG))
                .is_some_and(|t| t == tag)
        }))
    }

    pub async fn get_job(&self, id: &str) -> Result<FineTuningJob, Error> {
        check_id(id)?;
        self.get_json::<_, &str>(
            &format!("getting job {id}"),
            &format!("fine_tuning/jobs/{id}"),
            &[],
        )
        .await
    }

    /// One page of jobs, newest first.
    pub async fn list_jobs(&self, after: Option<&str>, limit: u32) -> Result<JobList, Error> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        self.get_json("listing jobs", "fine_tuning/jobs", &query)
            .await
    }

    /// Cancels a job. Repeating a cancel is harmless, so it is retried like a read; a refusal
    /// because the job is already cancelled counts as success.
    pub async fn cancel_job(&self, id: &str) -> Result<FineTuningJob, Error> {
        check_id(id)?;
        let what = format!("cancelling job {id}");
        let build = || async {
            Ok(self
                .http
                .post(self.url(&format!("fine_tuning/jobs/{id}/cancel")))
                .timeout(self.timeout))
        };
        match self.execute(&what, Repeat::Safe, build, no_probe).await {
            Ok(job) => Ok(job),
            Err(
                e @ Error::Api {
                    status: 400..=499, ..
                },
            ) => {
                let job = self.get_job(id).await?;
                if job.status == "cancelled" {
                    Ok(job)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// One page of events, newest first; `after` is the id of the last event of the previous
    /// page (so the page holds older events).
    pub async fn list_events(
        &self,
        id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<EventList, Error> {
        check_id(id)?;
        let mut query = vec![("limit", limit.to_string())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        self.get_json(
            &format!("listing events of job {id}"),
            &format!("fine_tuning/jobs/{id}/events"),
            &query,
        )
        .await
    }

    /// The events newer than `seen` (all of them if None), oldest first, paging back as far as
    /// needed.
    pub async fn new_events(&self, id: &str, seen: Option<&str>) -> Result<Vec<JobEvent>, Error> {
        let mut out: Vec<JobEvent> = Vec::new();
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self.list_events(id, after.as_deref(), 100).await?;
            for event in page.data.iter() {
                if Some(event.id.as_str()) == seen {
                    break 'pages;
                }
                out.push(event.clone());
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.clone()),
                _ => break,
            }
        }
        out.reverse();
        Ok(out)
    }

    /// All checkpoints of a job, newest first.
    pub async fn list_checkpoints(&self, id: &str) -> Result<Vec<super::api::Checkpoint>, Error> {
        check_id(id)?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page: CheckpointList = self
                .get_json(
                    &format!("listing checkpoints of job {id}"),
                    &format!("fine_tuning/jobs/{id}/checkpoints"),
                    &query,
                )
                .await?;
            let last = page.data.last().map(|c| c.id.clone());
            out.extend(page.data);
            match (page.has_more, last) {
                (true, Some(last)) => after = Some(last),
                _ => break,
            }
        }
        Ok(out)
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
                .timeout(self.timeout))
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
                .timeout(self.timeout))
        };
        self.execute(what, Repeat::Safe, build, no_probe).await
    }

    /// The retry loop shared by every call. `build` makes a fresh request for each attempt;
    /// `probe` (for [`Repeat::Probe`] calls) tells whether an attempt whose answer was lost
    /// took effect after all.
    async fn execute<T, B, BF, P, PF>(
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
            tokio::time::sleep(delay).await;
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
        let mut retry = 0;
        loop {
            // The time limit covers the wait for the answer's head only: a stream may last.
            let request = self.http.post(self.url(path)).json(body);
            let attempted =
                match tokio::time::timeout(self.timeout, self.send_once(what, request)).await {
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
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }
}

async fn no_probe<T>() -> Result<Option<T>, Error> {
    Ok(None)
}

/// The metadata key that makes job creation safe to repeat.
pub const REQUEST_TAG: &str = "voicetune_request";

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

/// Ids go into URL paths: refuse anything that is not a plain id.
fn check_id(id: &str) -> Result<(), Error> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && id != "."
        && id != ".."
    {
        Ok(())
    } else {
        Err(Error::Config(format!("`{id}` is not a valid job id")))
    }
}

/// The name a file is uploaded under: `<stem>-<first 12 hex digits of its SHA-256>.jsonl`, so
/// the same content always has the same name and an earlier upload can be recognised.
pub async fn upload_name(path: &Path) -> std::io::Result<String> {
    let p = path.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        use sha2::Digest;
        use std::io::Read;
        let mut file = std::fs::File::open(&p)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect())
    })
    .await
    .map_err(std::io::Error::other)??;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    // Keep names portable: letters, digits, - _ . only.
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    Ok(format!("{stem}-{digest}.jsonl"))
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
                timeout: Duration::from_secs(1),
                retry: RetryPolicy::default(),
            },
            key,
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
        assert_eq!(client.url("files"), "http://127.0.0.1:9/v1/files");
    }

    #[test]
    fn ids_are_checked_before_going_into_a_path() {
        assert!(check_id("ftjob-abc123").is_ok());
        assert!(check_id("../etc").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id("").is_err());
    }

    #[test]
    fn bad_base_urls_are_refused() {
        let opts = |u: &str| ClientOptions {
            base_url: u.into(),
            organization: None,
            project: None,
            timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        };
        assert!(Client::new(opts("ftp://x"), ApiKey::new("k")).is_err());
        assert!(Client::new(opts("not a url"), ApiKey::new("k")).is_err());
    }
}
