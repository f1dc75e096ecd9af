//! A remote voice model: completions through an OpenAI-compatible chat completions endpoint
//! (`POST /chat/completions`). Prompt in, completion text out.

use crate::openai::{Client, Error, RemoteConfig};
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
    pub top_p: Option<f32>,
    /// Asks for deterministic sampling (best effort on OpenAI's side).
    pub seed: Option<u64>,
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
    /// What Together's chat completions take instead of `max_completion_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<&'a [String]>,
    n: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
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

/// `CreateChatCompletionStreamResponse` (the fields we read).
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
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
    /// Send the length limit as `max_tokens` (Together) rather than `max_completion_tokens`.
    max_tokens_field: bool,
}

impl RemoteVoice {
    pub fn new(client: Client, model: impl Into<String>) -> RemoteVoice {
        RemoteVoice {
            client,
            model: model.into(),
            max_tokens_field: false,
        }
    }

    /// This voice as served by `provider` (a voice's recorded provider): Together reads the
    /// length limit from `max_tokens`.
    pub fn served_by(mut self, provider: Option<&str>) -> RemoteVoice {
        self.max_tokens_field = provider == Some("together");
        self
    }

    /// The backend for a registered remote voice (its own base URL, else the configured one;
    /// the key from the configured environment variable).
    pub fn from_voice(config: &RemoteConfig, voice: &Voice) -> anyhow::Result<RemoteVoice> {
        match voice {
            Voice::Remote {
                model,
                base_url,
                api_key_env,
                provider,
                ..
            } => Ok(RemoteVoice::new(
                config
                    .with_key_env(api_key_env.as_deref())
                    .client(base_url.as_deref())?,
                model.clone(),
            )
            .served_by(provider.as_deref())),
            Voice::Local { .. } => anyhow::bail!("this voice is a local model, not a remote one"),
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    fn request<'a>(
        &'a self,
        prompt: &'a str,
        options: &'a CompletionOptions,
        stream: bool,
    ) -> Request<'a> {
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
        self.request_for(messages, options, stream)
    }

    fn request_for<'a>(
        &'a self,
        messages: Vec<Message<'a>>,
        options: &'a CompletionOptions,
        stream: bool,
    ) -> Request<'a> {
        Request {
            model: &self.model,
            messages,
            max_completion_tokens: options.max_tokens.filter(|_| !self.max_tokens_field),
            max_tokens: options.max_tokens.filter(|_| self.max_tokens_field),
            temperature: options.temperature,
            top_p: options.top_p,
            seed: options.seed,
            stop: (!options.stop.is_empty()).then_some(&options.stop[..options.stop.len().min(4)]),
            n: 1,
            stream,
        }
    }

    /// Completes `prompt` (sent as the user message). Transient failures are retried: a chat
    /// completion changes nothing on the server, so repeating it is safe.
    pub async fn complete(
        &self,
        prompt: &str,
        options: &CompletionOptions,
    ) -> Result<Completion, Error> {
        let what = format!("completing with {}", self.model);
        let response: Response = self
            .client
            .post_json(
                &what,
                "chat/completions",
                &self.request(prompt, options, false),
            )
            .await?;
        let choice = response
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Error::Protocol {
                what: what.clone(),
                message: "the answer has no choices".into(),
            })?;
        if let (None, Some(refusal)) = (&choice.message.content, &choice.message.refusal) {
            return Err(Error::Protocol {
                what,
                message: format!("the model refused: {refusal}"),
            });
        }
        Ok(Completion {
            text: choice.message.content.unwrap_or_default(),
            finish_reason: choice.finish_reason,
        })
    }

    /// As [`complete`](Self::complete), streamed: `on_delta` gets each piece of text as it
    /// arrives (server-sent events). Failures before the stream starts are retried; a stream
    /// cut short is an error (its text was already delivered, so it is not repeated).
    pub async fn complete_streaming(
        &self,
        prompt: &str,
        options: &CompletionOptions,
        on_delta: impl FnMut(&str),
    ) -> Result<Completion, Error> {
        self.stream(&self.request(prompt, options, true), on_delta)
            .await
    }

    /// Answers a whole conversation (`options.system` is not used: the messages carry their
    /// own), streamed as [`complete_streaming`](Self::complete_streaming).
    pub async fn chat_streaming(
        &self,
        messages: &[crate::model::tokenizer::Message],
        options: &CompletionOptions,
        on_delta: impl FnMut(&str),
    ) -> Result<Completion, Error> {
        let messages = messages
            .iter()
            .map(|m| Message {
                role: &m.role,
                content: &m.content,
            })
            .collect();
        self.stream(&self.request_for(messages, options, true), on_delta)
            .await
    }

    async fn stream(
        &self,
        request: &Request<'_>,
        mut on_delta: impl FnMut(&str),
    ) -> Result<Completion, Error> {
        use futures_util::StreamExt;
        let what = format!("completing with {}", self.model);
        let response = self
            .client
            .post_streaming(&what, "chat/completions", request)
            .await?;
        let mut body = response.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        let mut completion = Completion {
            text: String::new(),
            finish_reason: None,
        };
        while let Some(bytes) = body.next().await {
            let bytes = bytes.map_err(|e| Error::Transport {
                what: what.clone(),
                message: format!("the stream broke off: {e}"),
            })?;
            pending.extend_from_slice(&bytes);
            // Events are lines; only `data:` lines carry chunks.
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim_end().strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim_start();
                if data == "[DONE]" {
                    return Ok(completion);
                }
                let chunk: Chunk = serde_json::from_str(data).map_err(|e| Error::Protocol {
                    what: what.clone(),
                    message: format!("bad stream chunk: {e}"),
                })?;
                for choice in chunk.choices {
                    if let Some(refusal) = choice.delta.refusal.filter(|r| !r.is_empty()) {
                        return Err(Error::Protocol {
                            what,
                            message: format!("the model refused: {refusal}"),
                        });
                    }
                    if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                        on_delta(&text);
                        completion.text.push_str(&text);
                    }
                    if choice.finish_reason.is_some() {
                        completion.finish_reason = choice.finish_reason;
                    }
                }
            }
        }
        Err(Error::Transport {
            what,
            message: "the stream ended without [DONE]".into(),
        })
    }
}
