//! `voicetune eval`: the perplexity table of a voice against its base model.

use anyhow::{Context, Result};
use std::path::PathBuf;
use voicetune::train::local::eval::compare_voice;
use voicetune::train::local::keep_freed_memory_for_reuse;

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

pub(crate) fn run(args: &EvalArgs) -> Result<()> {
    keep_freed_memory_for_reuse();
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let p = compare_voice(&workspace, &args.model, &args.heldout, args.max_seq_len)?;
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
