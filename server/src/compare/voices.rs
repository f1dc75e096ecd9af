//! The voices of a bake-off and how each one writes: local (the default base model, or a LoRA
//! voice from the registry) through [`crate::infer::local`], remote (a fine-tuned model or any
//! OpenAI-compatible endpoint) through [`crate::infer::remote`]; every voice with the same
//! sampling settings and seed. Also the held-out perplexity of local voices.

use super::heldout::HeldOut;
use crate::infer::local::{AdapterMode, LocalModel};
use crate::infer::remote::{CompletionOptions, RemoteVoice};
use crate::model::generate::SamplingParams;
use crate::model::tokenizer::{GgufTokenizer, Message};
use crate::openai::RemoteConfig;
use crate::voices::{Registry, Voice};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The name that means the default local base model.
pub const BASE: &str = "base";

/// Where a voice runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VoiceSource {
    Local {
        base_model: PathBuf,
        adapter: Option<PathBuf>,
    },
    Remote {
        model: String,
        base_url: String,
        /// The variable the provider's key is in (None: `[remote]`'s).
        #[serde(skip_serializing_if = "Option::is_none")]
        api_key_env: Option<String>,
        /// Who serves it (`together` takes its length limit differently).
        #[serde(skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
    },
}

/// A voice named on the command line, resolved against the registry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VoiceSpec {
    pub name: String,
    pub source: VoiceSource,
}

/// Resolves `names` (`base` or registered voices) in `workspace`.
pub fn resolve(
    workspace: &Path,
    names: &[String],
    remote: &RemoteConfig,
) -> Result<Vec<VoiceSpec>> {
    let registry = Registry::load(workspace)?;
    let mut out: Vec<VoiceSpec> = Vec::new();
    for name in names {
        if out.iter().any(|v| &v.name == name) {
            bail!("voice `{name}` is named twice");
        }
        let source = match registry.get(name) {
            Some(Voice::Local {
                base_model,
                adapter,
                ..
            }) => VoiceSource::Local {
                base_model: base_model.clone(),
                adapter: adapter.clone(),
            },
            Some(Voice::Remote {
                model,
                base_url,
                api_key_env,
                provider,
                ..
            }) => VoiceSource::Remote {
                model: model.clone(),
                base_url: base_url.clone().unwrap_or_else(|| remote.resolved_base_url()),
                api_key_env: api_key_env.clone(),
                provider: provider.clone(),
            },
            None if name == BASE => VoiceSource::Local {
                base_model: crate::model::pull::ensure_default_model()?,
                adapter: None,
            },
            None => bail!(
                "no voice named `{name}` in {} (use `base` for the base model, or train one with `voicetune train DATA.jsonl --name {name}`)",
                crate::voices::registry_path(workspace).display()
            ),
        };
        out.push(VoiceSpec {
            name: name.clone(),
            source,
        });
    }
    Ok(out)
}

/// One voice's answer to one held-out prompt, with its timings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Output {
    pub text: String,
    /// `stop`, `length` or `cancelled`.
    pub finish: String,
    pub tokens: usize,
    /// Seconds from the request to the first token.
    pub first_token_secs: f64,
    /// Tokens per second after the first one.
    pub tokens_per_sec: f64,
}

/// The sampling settings every voice gets.
pub fn completion_options(params: &SamplingParams) -> CompletionOptions {
    CompletionOptions {
        system: None,
        max_tokens: Some(params.max_tokens as u32),
        temperature: Some(params.temperature),
        top_p: Some(params.top_p),
        seed: Some(params.seed),
        stop: params.stop.clone(),
    }
}

/// Writes an answer to every example with `voice`; `on_done(i)` after each. Stops with an
/// error when `cancel` is set.
pub fn generate_all(
    voice: &VoiceSpec,
    examples: &[HeldOut],
    params: &SamplingParams,
    remote: &RemoteConfig,
    cancel: &AtomicBool,
    on_done: &mut dyn FnMut(usize),
) -> Result<Vec<Output>> {
    match &voice.source {
        VoiceSource::Local {
            base_model,
            adapter,
        } => {
            let lm = LocalModel::load(base_model, adapter.as_deref(), AdapterMode::Auto)
                .with_context(|| format!("loading voice `{}`", voice.name))?;
            let mut out = Vec::new();
            for (i, ex) in examples.iter().enumerate() {
                check(cancel)?;
                let c = lm.chat(&ex.prompt, params, Some(cancel), &mut |_| {})?;
                check(cancel)?;
                out.push(Output {
                    text: c.text,
                    finish: serde_json::to_value(c.finish)?
                        .as_str()
                        .unwrap_or("stop")
                        .to_string(),
                    tokens: c.completion_tokens,
                    first_token_secs: c.prompt_secs,
                    tokens_per_sec: c.completion_tokens.saturating_sub(1) as f64
                        / c.decode_secs.max(1e-9),
                });
                on_done(i);
            }
            Ok(out)
        }
        VoiceSource::Remote {
            model,
            base_url,
            api_key_env,
            provider,
        } => {
            let client = remote
                .with_key_env(api_key_env.as_deref())
                .client(Some(base_url))?;
            let backend = RemoteVoice::new(client, model).served_by(provider.as_deref());
            let options = completion_options(params);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut out = Vec::new();
            for (i, ex) in examples.iter().enumerate() {
                check(cancel)?;
                let start = Instant::now();
                let mut first: Option<f64> = None;
                let c = runtime
                    .block_on(backend.chat_streaming(&ex.prompt, &options, |_| {
                        first.get_or_insert(start.elapsed().as_secs_f64());
                    }))
                    .with_context(|| {
                        format!("voice `{}`, held-out line {}", voice.name, ex.line)
                    })?;
                let total = start.elapsed().as_secs_f64();
                let first = first.unwrap_or(total);
                let tokens = crate::tokens::count_text(priced_model(model), &c.text);
                out.push(Output {
                    text: c.text,
                    finish: c.finish_reason.unwrap_or_else(|| "stop".into()),
                    tokens,
                    first_token_secs: first,
                    tokens_per_sec: tokens.saturating_sub(1) as f64 / (total - first).max(1e-9),
                });
                on_done(i);
            }
            Ok(out)
        }
    }
}

fn check(cancel: &AtomicBool) -> Result<()> {
    if cancel.load(Ordering::Relaxed) {
        bail!("cancelled");
    }
    Ok(())
}

/// The base model a remote model's price is looked up under: `ft:BASE:org::id` -> `BASE`.
pub fn priced_model(model: &str) -> &str {
    model
        .strip_prefix("ft:")
        .map_or(model, |rest| rest.split(':').next().unwrap_or(rest))
}

/// USD per 1,000 generated tokens: 0 for local voices, the price table's for remote models it
/// knows, None for others (an OpenAI-compatible server of unknown price).
pub fn cost_per_1000(source: &VoiceSource) -> Option<f64> {
    match source {
        VoiceSource::Local { .. } => Some(0.0),
        VoiceSource::Remote { model, .. } => {
            let base = priced_model(model);
            crate::tokens::models::MODELS
                .iter()
                .find(|m| m.name == base || m.name.starts_with(&format!("{base}-")))
                .map(|m| m.output_usd_per_million / 1000.0)
        }
    }
}

/// Held-out perplexity of a local voice: the mean loss of the author's reference texts given
/// their prompts (f32 model, as `voicetune eval`), windows of `max_seq_len` tokens. None for
/// remote voices (chat completions give no log probabilities of a given text).
pub fn perplexity(
    source: &VoiceSource,
    examples: &[HeldOut],
    max_seq_len: usize,
) -> Result<Option<(f64, usize)>> {
    let VoiceSource::Local {
        base_model,
        adapter,
    } = source
    else {
        return Ok(None);
    };
    let mut gguf = crate::model::gguf::GgufFile::open(base_model)?;
    let tok = GgufTokenizer::from_gguf(&gguf)?;
    let mut model = crate::model::Llama::load(&mut gguf, crate::model::llama::Mode::F32)?;
    if let Some(dir) = adapter {
        crate::model::adapter::load_adapter(&mut model, dir)?;
    }
    let mut sequences = Vec::new();
    for ex in examples {
        let mut messages = ex.prompt.clone();
        messages.push(Message::new("assistant", &ex.reference));
        let (ids, mask) = tok.encode_chat_for_training(&messages)?;
        // Only the reference is scored: earlier assistant turns are context.
        let reference_start = ids.len()
            - tok.encode(&format!("{}<|im_end|>", ex.reference))?.len()
            - tok.encode("\n")?.len();
        let mask = mask
            .iter()
            .enumerate()
            .map(|(i, &m)| m && i >= reference_start)
            .collect();
        sequences.extend(crate::model::loss::Example { ids, mask }.windows(max_seq_len));
    }
    if sequences.is_empty() {
        return Ok(None);
    }
    let (nll, tokens) = crate::model::loss::mean_loss(&model, &sequences)?;
    Ok(Some((nll, tokens)))
}
