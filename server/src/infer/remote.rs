//! A remote voice model: completions through an OpenAI-compatible chat completions endpoint
//! (`POST /chat/completions`). Prompt in, completion text out.

use crate::train::remote::client::{Client, Error};
use crate::train::remote::RemoteConfig;
use crate::voices::Voice;
use serde::{Deserialize, Serialize};

/// Options of one completion.
#[derive(Debug, Clone, Default)]
pub struct CompletionOptions {
    /// Sent as a system message before the prompt (use the one the voice was trained with).
    pub system: Option<String>,
    /// `max_completion_tokens`; None lets the server decide.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// Up to 4 stop sequences.
    pub stop: Vec<String>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

/// `CreateChatCompletionRequest` (the fields we send).
#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a [String]>,
    n: u32,
}

/// `CreateChatCompletionResponse` (the fields we read).
#[derive(Deserialize)]
struct Response {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ResponseMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

/// A completion and why it stopped (`stop`, `length`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub finish_reason: Option<String>,
}

/// A model behind an OpenAI-compatible API.
#[derive(Debug, Clone)]
pub struct RemoteVoice {
    client: Client,
    model: String,
}

impl RemoteVoice {
    pub fn new(client: Client, model: impl Into<String>) -> RemoteVoice {
        RemoteVoice {
            client,
            model: model.into(),
        }
    }

    /// The backend for a registered remote voice (its own base URL, else the configured one;
    /// the key from the configured environment variable).
    pub fn from_voice(config: &RemoteConfig, voice: &Voice) -> anyhow::Result<RemoteVoice> {
        match voice {
            Voice::Remote {
                model, base_url, ..
            } => Ok(RemoteVoice::new(
                config.client(base_url.as_deref())?,
                model.clone(),
            )),
            Voice::Local { .. } => anyhow::bail!("this voice is a local model, not a remote one"),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Completes `prompt` (sent as the user message). Transient failures are retried: a chat
    /// completion changes nothing on the server, so repeating it is safe.
    pub async fn complete(
        &self,
        prompt: &str,
        options: &CompletionOptions,
    ) -> Result<Completion, Error> {
        let mut messages = Vec::new();
        if let Some(system) = options.system.as_deref().filter(|s| !s.is_empty()) {
            messages.push(Message {
                role: "system",
                content: system,
            });
        }
        messages.push(Message {
            role: "user",
            content: prompt,
        });
        let request = Request {
            model: &self.model,
            messages,
            max_completion_tokens: options.max_tokens,
            temperature: options.temperature,
            stop: (!options.stop.is_empty()).then_some(&options.stop[..options.stop.len().min(4)]),
            n: 1,
        };
        let response: Response = self
            .client
            .post_json(
                &format!("completing with {}", self.model),
                "chat/completions",
                &request,
            )
            .await?;
        let choice = response
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Error::Protocol {
                what: format!("completing with {}", self.model),
                message: "the answer has no choices".into(),
            })?;
        if let (None, Some(refusal)) = (&choice.message.content, &choice.message.refusal) {
            return Err(Error::Protocol {
                what: format!("completing with {}", self.model),
                message: format!("the model refused: {refusal}"),
            });
        }
        Ok(Completion {
            text: choice.message.content.unwrap_or_default(),
            finish_reason: choice.finish_reason,
        })
    }
}
