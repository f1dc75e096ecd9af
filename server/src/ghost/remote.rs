//! The remote backend: a fine-tuned model behind an OpenAI-compatible chat completions endpoint
//! (OpenAI, llama.cpp's server, Ollama, vLLM). Chat models cannot be handed a half-written
//! assistant turn, so the draft goes into the user turn with the request to continue it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::infer::remote::{CompletionOptions, RemoteVoice};
use crate::model::tokenizer::Message;
use crate::openai::RemoteConfig;
use crate::openai::RetryPolicy;
use crate::openai::{ApiKey, Client, ClientOptions, Error, Timeouts};

use super::GhostError;

pub struct RemoteBackend {
    voice: RemoteVoice,
}

/// Requests give up quickly: a suggestion that comes late is worthless, and a retry loop would
/// hold up the next keystroke's request.
const TIMEOUT_SECS: f64 = 10.0;

impl RemoteBackend {
    /// `base_url`: the voice's own endpoint, else the configured one. A key is required only by
    /// OpenAI itself; other compatible servers usually run without one.
    pub fn new(
        config: &RemoteConfig,
        model: &str,
        base_url: Option<&str>,
    ) -> Result<RemoteBackend, GhostError> {
        let url = base_url
            .map(str::to_string)
            .unwrap_or_else(|| config.resolved_base_url());
        let key = match ApiKey::from_env(&config.api_key_env) {
            Ok(key) => key,
            Err(_) if url.contains("api.openai.com") => {
                return Err(GhostError::MissingKey {
                    env: config.api_key_env.clone(),
                })
            }
            // A local server ignores the key.
            Err(_) => ApiKey::new("none"),
        };
        let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let options = ClientOptions {
            base_url: url,
            organization: config.organization.clone().or_else(|| env("OPENAI_ORG_ID")),
            project: config.project.clone().or_else(|| env("OPENAI_PROJECT_ID")),
            timeouts: Timeouts {
                call: Duration::from_secs_f64(TIMEOUT_SECS),
                ..Timeouts::default()
            },
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
        };
        let client = Client::new(options, key).map_err(|e| GhostError::Other(e.to_string()))?;
        Ok(RemoteBackend {
            voice: RemoteVoice::new(client, model),
        })
    }

    /// This backend as served by `provider` (the voice's recorded one).
    pub fn served_by(self, provider: Option<&str>) -> RemoteBackend {
        RemoteBackend {
            voice: self.voice.served_by(provider),
        }
    }

    /// The continuation of `before` in the conversation `messages`.
    pub async fn complete(
        &self,
        messages: &[Message],
        before: &str,
        max_tokens: usize,
        cancel: &AtomicBool,
    ) -> Result<Option<String>, GhostError> {
        let system = messages
            .iter()
            .find(|m| m.role == "system")
            .map(|m| m.content.clone());
        let prompt = continuation_prompt(messages, before);
        let options = CompletionOptions {
            system,
            max_tokens: Some(max_tokens as u32),
            temperature: Some(0.7),
            stop: vec!["\n\n".into()],
            ..Default::default()
        };
        let request = self.voice.complete(&prompt, &options);
        let cancelled = async {
            while !cancel.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            result = request => result.map(|c| Some(c.text)).map_err(|e| classify(e, self.voice.model())),
            () = cancelled => Ok(None),
        }
    }
}

/// The user turn: the turns before (the title request for a draft) and the draft so far.
pub fn continuation_prompt(messages: &[Message], before: &str) -> String {
    let mut prompt = String::new();
    for m in messages.iter().filter(|m| m.role != "system") {
        prompt.push_str(&m.content);
        prompt.push_str("\n\n");
    }
    prompt.push_str(
        "Continue the text below from exactly where it stops, in the same voice. Reply with \
         only the next words, without repeating any of the text.\n\n",
    );
    prompt.push_str(before);
    prompt
}

/// Missing model, bad key, unreachable endpoint: settings problems, shown once.
fn classify(e: Error, model: &str) -> GhostError {
    match &e {
        Error::Api { status: 401, .. } | Error::Api { status: 403, .. } => {
            GhostError::KeyRejected(e.to_string())
        }
        Error::Api { status: 404, .. } => GhostError::ModelMissing(format!(
            "the endpoint does not know the model `{model}`: {e}"
        )),
        Error::Transport { .. } => GhostError::Unreachable(e.to_string()),
        Error::Config(m) => GhostError::Other(m.clone()),
        _ => GhostError::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_is_continued_inside_the_user_turn() {
        let p = continuation_prompt(
            &[
                Message::new("system", "S"),
                Message::new("user", "Write a blog post titled: T"),
            ],
            "I began",
        );
        assert!(p.starts_with("Write a blog post titled: T\n\nContinue"));
        assert!(p.ends_with("\n\nI began"));
        assert!(
            !p.starts_with('S'),
            "the system prompt goes in its own message"
        );
    }
}
