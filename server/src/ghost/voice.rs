//! One voice ready to ghostwrite: its backend, the prompt shape it was trained on, and its last
//! suggestion (typing that follows it is answered without the model).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::dataset::prompt_shape::PromptShape;
use crate::infer::local::{AdapterMode, LocalModel};
use crate::voices::{Registry, Voice};

use super::local::LocalBackend;
use super::remote::RemoteBackend;
use super::stats::Stats;
use super::{lock, post, prompt, GhostConfig, GhostError, Ghostwriter, SuggestRequest};
use super::{Suggestion, Timing};

enum Backend {
    Local(LocalBackend),
    Remote(RemoteBackend),
}

/// The last suggestion: the prompt it answered and its text.
struct Last {
    messages: Vec<crate::model::tokenizer::Message>,
    before: String,
    text: String,
    json_string: bool,
}

pub struct VoiceEngine {
    backend: Backend,
    shape: PromptShape,
    last: Mutex<Option<Last>>,
}

/// Builds the engine of `voice` (None: the local base model, which must already be pulled: a
/// keystroke never starts a download).
pub(super) fn load(gw: &Ghostwriter, voice: Option<&str>) -> Result<VoiceEngine, GhostError> {
    let other = |e: anyhow::Error| GhostError::Other(format!("{e:#}"));
    let registry = Registry::load(&gw.workspace).map_err(|e| GhostError::Other(e.to_string()))?;
    let shape = voice
        .and_then(|v| registry.prompt(v).cloned())
        .unwrap_or_default();
    let (base, adapter) = match voice {
        None => {
            let path = crate::model::pull::default_model_path().map_err(other)?;
            if !path.is_file() {
                return Err(GhostError::ModelMissing(format!(
                    "the base model is not downloaded yet ({}): run `voicetune model pull`",
                    path.display()
                )));
            }
            (path, None)
        }
        Some(name) => match registry.get(name) {
            Some(Voice::Local {
                base_model,
                adapter,
                ..
            }) => (base_model.clone(), adapter.clone()),
            Some(Voice::Remote {
                model,
                base_url,
                api_key_env,
                provider,
                ..
            }) => {
                let config = crate::openai::RemoteConfig::load(&gw.workspace)
                    .map_err(|e| GhostError::Other(e.to_string()))?
                    .with_key_env(api_key_env.as_deref());
                let backend = RemoteBackend::new(&config, model, base_url.as_deref())?
                    .served_by(provider.as_deref());
                return Ok(VoiceEngine::new(Backend::Remote(backend), shape));
            }
            None => {
                return Err(GhostError::UnknownVoice(format!(
                    "no voice named `{name}` in {}",
                    crate::voices::registry_path(&gw.workspace).display()
                )))
            }
        },
    };
    for file in std::iter::once(&base).chain(adapter.as_ref()) {
        if !file.exists() {
            return Err(GhostError::ModelMissing(format!(
                "{}: the voice's model file is missing",
                file.display()
            )));
        }
    }
    let key = (base.clone(), adapter.clone());
    let existing = lock(&gw.models).get(&key).cloned();
    let model = match existing {
        Some(m) => m,
        None => {
            let m = Arc::new(
                LocalModel::load(&base, adapter.as_deref(), AdapterMode::Auto).map_err(other)?,
            );
            lock(&gw.models).insert(key, m.clone());
            m
        }
    };
    Ok(VoiceEngine::local(model, shape))
}

impl VoiceEngine {
    fn new(backend: Backend, shape: PromptShape) -> VoiceEngine {
        VoiceEngine {
            backend,
            shape,
            last: Mutex::new(None),
        }
    }

    /// A local engine on an already loaded model (tests, benches).
    pub fn local(model: Arc<LocalModel>, shape: PromptShape) -> VoiceEngine {
        VoiceEngine::new(Backend::Local(LocalBackend::new(model)), shape)
    }

    pub(super) fn suggest(
        &self,
        request: &SuggestRequest,
        config: &GhostConfig,
        cancel: &AtomicBool,
        stats: &Stats,
    ) -> Result<Option<Suggestion>, GhostError> {
        let start = Instant::now();
        stats.add(&stats.requests, 1);
        let Some(parts) = prompt::build(&request.text, request.kind, request.cursor, &self.shape)
        else {
            return Ok(None);
        };
        if let Some(s) = self.rest_of_last(&parts) {
            stats.add(&stats.served_from_suggestion, 1);
            stats.add(&stats.suggestions, 1);
            return Ok(Some(s));
        }
        // The model sees no trailing spaces (a space is part of the next word's token); they are
        // given back by not repeating them in the suggestion.
        let before = parts.before.trim_end_matches([' ', '\t']);
        let mut timing = Timing::default();
        let raw = match &self.backend {
            Backend::Local(local) => {
                let (header, body) = local
                    .prompt_ids(&parts.messages, before, config.prompt_budget)
                    .map_err(|e| GhostError::Other(format!("{e:#}")))?;
                let stop_at_sentence = config.stop_at_sentence;
                let should_stop =
                    |text: &str| stop_at_sentence && post::natural_end(text).is_some();
                let g = local
                    .generate(
                        &header,
                        &body,
                        &config.sampling,
                        cancel,
                        stats,
                        &should_stop,
                    )
                    .map_err(|e| GhostError::Other(format!("{e:#}")))?;
                timing.prompt_tokens = g.prompt_tokens;
                timing.reused_tokens = g.reused_tokens;
                timing.generated_tokens = g.tokens;
                timing.first_token_ms = g.first_token_ms;
                g.text
            }
            Backend::Remote(remote) => {
                let budget_chars = config.prompt_budget * 4;
                let mut cut = before.len().saturating_sub(budget_chars);
                while !before.is_char_boundary(cut) {
                    cut += 1;
                }
                let text = run_async(remote.complete(
                    &parts.messages,
                    &before[cut..],
                    config.sampling.max_tokens,
                    cancel,
                ))??;
                text.unwrap_or_default()
            }
        };
        if cancel.load(Ordering::Relaxed) {
            stats.add(&stats.cancelled, 1);
            return Ok(None);
        }
        let (text, stripped) = if config.stop_at_sentence {
            post::finish(&parts.before, &raw)
        } else {
            let (t, s) = post::strip_markup(&raw);
            (Some(t).filter(|t| !t.trim().is_empty()), s)
        };
        stats.add(&stats.html_tags_stripped, stripped.html_tags);
        stats.add(&stats.urls_stripped, stripped.urls);
        let Some(text) = text else {
            stats.add(&stats.dropped_repeats, 1);
            return Ok(None);
        };
        timing.total_ms = start.elapsed().as_secs_f64() * 1e3;
        stats.add(&stats.suggestions, 1);
        *lock(&self.last) = Some(Last {
            messages: parts.messages,
            before: parts.before,
            text: text.clone(),
            json_string: parts.json_string,
        });
        Ok(Some(make_suggestion(
            text,
            parts.json_string,
            false,
            timing,
        )))
    }

    /// The rest of the last suggestion when the user typed its beginning.
    fn rest_of_last(&self, parts: &prompt::PromptParts) -> Option<Suggestion> {
        let last = lock(&self.last);
        let last = last.as_ref()?;
        if last.messages != parts.messages || last.json_string != parts.json_string {
            return None;
        }
        let typed = parts.before.strip_prefix(last.before.as_str())?;
        let rest = last.text.strip_prefix(typed)?;
        if rest.trim().is_empty() {
            return None;
        }
        Some(make_suggestion(
            rest.to_string(),
            parts.json_string,
            true,
            Timing::default(),
        ))
    }
}

fn make_suggestion(text: String, json_string: bool, from_previous: bool, t: Timing) -> Suggestion {
    Suggestion {
        insert_text: if json_string {
            prompt::escape_json_fragment(&text)
        } else {
            text.clone()
        },
        text,
        from_previous,
        timing: t,
    }
}

/// Runs a future to completion from synchronous code: on the caller's runtime when there is one
/// (the caller is a blocking thread of it), else on a small runtime of its own.
fn run_async<F: std::future::Future>(future: F) -> Result<F::Output, GhostError> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => Ok(handle.block_on(future)),
        Err(_) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| GhostError::Other(e.to_string()))?;
            Ok(rt.block_on(future))
        }
    }
}
