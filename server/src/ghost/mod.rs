//! Ghostwriting: the next words of a draft, in the writer's voice, for inline completion.
//!
//! [`Ghostwriter`] is the service the editor face calls: one per workspace, it loads each voice's
//! model once (local models are shared between voices on the same files) and answers
//! [`Ghostwriter::suggest`] with a [`Suggestion`] for the cursor of a markdown draft or a JSONL
//! assistant message. Settings problems (no model, no key, unreachable endpoint) are returned
//! once as a [`GhostError`], then the voice stays silent until [`Ghostwriter::settings_changed`].
//!
//! Memory, local voices: the model once per (base, adapter) files (~230 MB RSS for the default
//! SmolLM2-135M Q4_1), plus one KV cache per voice of 46 KB per token (30 layers x 3 key/value
//! heads x 64 x 2 x f32), about 25 MB at the default 512-token budget and 32-token suggestion.
//!
//! - [`prompt`]: the document as the conversation the voice was trained on.
//! - [`post`]: sentence ends, HTML/URL removal, repeats dropped.
//! - [`local`]: the local model with the KV cache of the last prompt, reused as the user types.
//! - [`remote`]: an OpenAI-compatible chat completions endpoint.
//! - [`learn`]: opt-in, local log of accepted suggestions, turned into training examples.

pub mod learn;
pub mod local;
pub mod post;
pub mod prompt;
pub mod remote;
pub mod stats;
mod voice;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::model::generate::SamplingParams;

pub use stats::StatsSnapshot;
pub use voice::VoiceEngine;

/// What kind of document the cursor is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Markdown,
    Jsonl,
}

impl DocKind {
    /// From a file name: `.jsonl` is JSONL, `.md`/`.markdown` markdown.
    pub fn from_path(path: &Path) -> Option<DocKind> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" => Some(DocKind::Jsonl),
            "md" | "markdown" | "mdx" => Some(DocKind::Markdown),
            _ => None,
        }
    }
}

/// One request: the whole document and the cursor as a byte offset into it (the LSP layer
/// converts its UTF-16 position).
#[derive(Debug, Clone)]
pub struct SuggestRequest {
    /// The voice's name in the registry; None for the local base model.
    pub voice: Option<String>,
    pub text: String,
    pub kind: DocKind,
    pub cursor: usize,
}

/// How the suggestion was made.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Timing {
    pub prompt_tokens: usize,
    /// Prompt tokens served from the KV cache (not run again).
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    pub first_token_ms: f64,
    pub total_ms: f64,
}

/// Text to insert at the cursor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    /// What to insert (JSON-escaped when the cursor is inside a JSON string).
    pub insert_text: String,
    /// The words themselves.
    pub text: String,
    /// Served from the previous suggestion: the user typed its beginning.
    pub from_previous: bool,
    pub timing: Timing,
}

/// Settings of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct GhostConfig {
    /// Tokens of text before the cursor given to the model: 512 by default, the tail kept. A
    /// draft's voice shows within a few paragraphs, and the prompt's cost (cold, or after a
    /// jump) grows with it.
    pub prompt_budget: usize,
    /// Sampling, including the suggestion's length (`max_tokens`, 32 by default: a sentence).
    pub sampling: SamplingParams,
    /// End at a sentence or line end (else only at `max_tokens` or the end of the turn).
    pub stop_at_sentence: bool,
    /// Log accepted suggestions locally as training examples ([`learn`]); off by default.
    pub learn: bool,
}

/// The sampling defaults of ghostwriting: greedy, repetition penalty 1.05 and no repeated
/// 6-gram, both over the last 64 tokens.
///
/// Chosen on held-out posts of a real markdown blog (12 posts, every fourth from the end; the
/// first 150 body tokens are the draft, each setting continues it by 48 tokens; base model;
/// `examples/ghost_tune.rs`). "loops": continuations with a repeated 8-gram; "log-lik": mean
/// log-likelihood per token of the post's real next 48 tokens under the setting's penalised
/// distribution (how far the setting pushes the model from what the writer wrote):
///
/// | setting (greedy)              | loops | distinct bigrams | log-lik |
/// |-------------------------------|-------|------------------|---------|
/// | none                          | 6/12  | 0.652            | -2.652  |
/// | penalty 1.05                  | 1/12  | 0.879            | -2.713  |
/// | penalty 1.15                  | 0/12  | 0.975            | -3.199  |
/// | no-repeat 4                   | 0/12  | 0.860            | -3.089  |
/// | penalty 1.05 + no-repeat 4    | 0/12  | 0.939            | -3.148  |
/// | **penalty 1.05 + no-repeat 6**| 0/12  | 0.899            | -2.917  |
/// | penalty 1.1 + no-repeat 6     | 0/12  | 0.970            | -3.115  |
///
/// Without control the model loops in half the drafts. The chosen pair is the loop-free setting
/// that stays closest to the writer's own text: a stronger penalty also punishes the draft's own
/// words (names, terms, commands that a post rightly repeats), and a 4-gram ban forbids the
/// short phrases real prose repeats. Greedy keeps a suggestion stable while the user types on.
pub fn default_sampling() -> SamplingParams {
    SamplingParams {
        max_tokens: 32,
        temperature: 0.0,
        repetition_penalty: 1.05,
        repeat_last_n: 64,
        no_repeat_ngram: 6,
        stop: Vec::new(),
        ..SamplingParams::default()
    }
}

impl Default for GhostConfig {
    fn default() -> Self {
        GhostConfig {
            prompt_budget: 512,
            sampling: default_sampling(),
            stop_at_sentence: true,
            learn: false,
        }
    }
}

/// Why a voice cannot ghostwrite. All but [`GhostError::Other`] are settings problems: shown
/// once, then silence until the settings change.
#[derive(Debug, Clone, PartialEq)]
pub enum GhostError {
    /// No voice by that name in the registry.
    UnknownVoice(String),
    /// The model file, or the endpoint's model, is missing.
    ModelMissing(String),
    /// No API key for an endpoint that needs one.
    MissingKey {
        env: String,
    },
    /// The endpoint refused the key.
    KeyRejected(String),
    /// No answer from the endpoint.
    Unreachable(String),
    Other(String),
}

impl std::fmt::Display for GhostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GhostError::UnknownVoice(m)
            | GhostError::ModelMissing(m)
            | GhostError::KeyRejected(m)
            | GhostError::Unreachable(m)
            | GhostError::Other(m) => f.write_str(m),
            GhostError::MissingKey { env } => write!(
                f,
                "ghostwriting needs an API key: set the environment variable {env} (named by \
                 `api_key_env` in the [remote] section of voicetune.toml)"
            ),
        }
    }
}

impl std::error::Error for GhostError {}

impl GhostError {
    /// A problem of the settings (the user must act), as opposed to a passing failure.
    pub fn is_settings_problem(&self) -> bool {
        !matches!(self, GhostError::Other(_))
    }
}

/// A local model's base GGUF and adapter folder.
type ModelFiles = (PathBuf, Option<PathBuf>);

/// The ghostwriting service of one workspace.
pub struct Ghostwriter {
    workspace: PathBuf,
    config: GhostConfig,
    /// Loaded voices by name (None: the base model).
    engines: Mutex<HashMap<Option<String>, Arc<VoiceEngine>>>,
    /// Voices whose settings problem was already reported, with it.
    failed: Mutex<HashMap<Option<String>, GhostError>>,
    /// Local models by (base, adapter) file: loaded once, shared by every voice on them.
    models: Mutex<HashMap<ModelFiles, Arc<crate::infer::local::LocalModel>>>,
    stats: stats::Stats,
}

impl Ghostwriter {
    pub fn new(workspace: &Path, config: GhostConfig) -> Ghostwriter {
        Ghostwriter {
            workspace: workspace.to_path_buf(),
            config,
            engines: Mutex::default(),
            failed: Mutex::default(),
            models: Mutex::default(),
            stats: stats::Stats::default(),
        }
    }

    pub fn config(&self) -> &GhostConfig {
        &self.config
    }

    /// Counters since the service started.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The settings (voice, registry, `voicetune.toml`, environment) changed: voices are looked
    /// up again and problems are reported again. Loaded model files stay loaded.
    pub fn settings_changed(&self) {
        lock(&self.engines).clear();
        lock(&self.failed).clear();
    }

    /// Uses `model` for every voice on these files instead of loading them again (a model the
    /// caller already holds, or one loaded another way, e.g. with candle's kernels in tests).
    pub fn share_local_model(
        &self,
        base: &Path,
        adapter: Option<&Path>,
        model: Arc<crate::infer::local::LocalModel>,
    ) {
        let key = (base.to_path_buf(), adapter.map(Path::to_path_buf));
        lock(&self.models).insert(key, model);
    }

    /// Loads `voice` now (the first suggestion otherwise pays for it).
    pub fn preload(&self, voice: Option<&str>) -> Result<Arc<VoiceEngine>, GhostError> {
        let key = voice.map(str::to_string);
        if let Some(engine) = lock(&self.engines).get(&key) {
            return Ok(engine.clone());
        }
        let engine = Arc::new(voice::load(self, voice)?);
        lock(&self.engines).insert(key, engine.clone());
        Ok(engine)
    }

    /// The suggestion at the request's cursor, or None (nothing to suggest here, cancelled, or
    /// a settings problem already reported). Blocking and CPU-bound for a local voice: call it
    /// from a blocking thread (`tokio::task::spawn_blocking`), never from an async task. `cancel`
    /// is checked between tokens.
    pub fn suggest(
        &self,
        request: &SuggestRequest,
        cancel: &AtomicBool,
    ) -> Result<Option<Suggestion>, GhostError> {
        let key = request.voice.clone();
        if lock(&self.failed).contains_key(&key) {
            return Ok(None);
        }
        let result = self
            .preload(request.voice.as_deref())
            .and_then(|engine| engine.suggest(request, &self.config, cancel, &self.stats));
        match result {
            Err(e) if e.is_settings_problem() => {
                lock(&self.failed).insert(key, e.clone());
                Err(e)
            }
            other => other,
        }
    }

    /// [`Ghostwriter::suggest`] on tokio's blocking pool, for an async caller (the language
    /// server). Raising `cancel` stops the model at its next token.
    pub async fn suggest_async(
        self: Arc<Self>,
        request: SuggestRequest,
        cancel: Arc<AtomicBool>,
    ) -> Result<Option<Suggestion>, GhostError> {
        tokio::task::spawn_blocking(move || self.suggest(&request, &cancel))
            .await
            .map_err(|e| GhostError::Other(format!("the ghostwriting task failed: {e}")))?
    }

    /// The problem reported for `voice`, if it is silenced.
    pub fn reported_problem(&self, voice: Option<&str>) -> Option<GhostError> {
        lock(&self.failed).get(&voice.map(str::to_string)).cloned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
