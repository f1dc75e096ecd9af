//! `voicetune eval`: perplexity of held-out texts under the base model and a voice model.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

use super::config::LongExamples;
use super::data::load_jsonl;
use super::trainer::mean_loss;
use crate::model::adapter::load_adapter;
use crate::model::gguf::GgufFile;
use crate::model::llama::{Llama, Mode};
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

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The voice model to compare with its base model.
    #[arg(long)]
    pub model: String,
    /// Held-out JSONL (chat lines, or `{"text": ...}` lines).
    pub heldout: PathBuf,
    #[arg(long, default_value_t = 512)]
    pub max_seq_len: usize,
}

pub fn cli_eval(args: &EvalArgs) -> Result<()> {
    super::keep_freed_memory_for_reuse();
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let registry = Registry::load(&workspace)?;
    let (base, adapter) = match registry.get(&args.model) {
        Some(Voice::Local {
            base_model,
            adapter: Some(a),
            ..
        }) => (base_model.clone(), a.clone()),
        Some(Voice::Local { adapter: None, .. }) => bail!("voice `{}` has no adapter", args.model),
        Some(Voice::Remote { .. }) => bail!(
            "voice `{}` is remote; eval scores local models only",
            args.model
        ),
        None => bail!("no voice named `{}` in this workspace", args.model),
    };
    let p = compare_perplexity(&base, &adapter, &args.heldout, args.max_seq_len)?;
    println!(
        "{} held-out tokens from {}",
        p.tokens,
        args.heldout.display()
    );
    println!("{:<12} {:>10} {:>12}", "model", "loss", "perplexity");
    println!("{:<12} {:>10.4} {:>12.3}", "base", p.base_nll, p.base_ppl);
    println!(
        "{:<12} {:>10.4} {:>12.3}",
        args.model, p.voice_nll, p.voice_ppl
    );
    Ok(())
}
