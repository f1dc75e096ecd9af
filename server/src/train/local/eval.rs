//! Perplexity of held-out texts under the base model and a voice model (`voicetune eval`).

use anyhow::{bail, Result};
use std::path::Path;

use super::config::LongExamples;
use super::data::load_jsonl;
use crate::model::adapter::load_adapter;
use crate::model::gguf::GgufFile;
use crate::model::llama::{Llama, Mode};
use crate::model::loss::mean_loss;
use crate::model::tokenizer::GgufTokenizer;
use crate::voices::{Registry, Voice};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Perplexities {
    pub tokens: usize,
    pub base_nll: f64,
    pub base_ppl: f64,
    pub voice_nll: f64,
    pub voice_ppl: f64,
}

/// Scores `heldout` (JSONL: chat lines are scored on assistant tokens, `text` lines on all
/// tokens) under `base` and under `base` + `adapter`.
pub fn compare_perplexity(
    base: &Path,
    adapter: &Path,
    heldout: &Path,
    max_seq_len: usize,
) -> Result<Perplexities> {
    let mut gguf = GgufFile::open(base)?;
    super::data::check_seq_len(max_seq_len, gguf.llama_config()?.context_length)?;
    let tok = GgufTokenizer::from_gguf(&gguf)?;
    let (examples, _) = load_jsonl(heldout, &tok, max_seq_len, LongExamples::Split)?;
    let mut model = Llama::load(&mut gguf, Mode::F32)?;
    let (base_nll, tokens) = mean_loss(&model, &examples)?;
    load_adapter(&mut model, adapter)?;
    let (voice_nll, _) = mean_loss(&model, &examples)?;
    Ok(Perplexities {
        tokens,
        base_nll,
        base_ppl: base_nll.exp(),
        voice_nll,
        voice_ppl: voice_nll.exp(),
    })
}

/// Scores `heldout` under voice `name` of `workspace` and under its base model.
pub fn compare_voice(
    workspace: &Path,
    name: &str,
    heldout: &Path,
    max_seq_len: usize,
) -> Result<Perplexities> {
    let registry = Registry::load(workspace)?;
    let (base, adapter) = match registry.get(name) {
        Some(Voice::Local {
            base_model,
            adapter: Some(a),
            ..
        }) => (base_model.clone(), a.clone()),
        Some(Voice::Local { adapter: None, .. }) => bail!("voice `{name}` has no adapter"),
        Some(Voice::Remote { .. }) => {
            bail!("voice `{name}` is remote; eval scores local models only")
        }
        None => bail!("no voice named `{name}` in this workspace"),
    };
    compare_perplexity(&base, &adapter, heldout, max_seq_len)
}
