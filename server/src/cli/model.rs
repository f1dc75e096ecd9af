//! `voicetune model pull`: the default base model, downloaded and checked.

use anyhow::Result;
use voicetune::model::pull::{
    default_model_path, ensure_default_model, sha256_file, DEFAULT_MODEL_SHA256,
};

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Download the default base model (SmolLM2-135M-Instruct Q4_1) into the cache, checking
    /// its sha256.
    Pull,
}

pub(crate) fn run(cmd: &ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Pull => pull(),
    }
}

fn pull() -> Result<()> {
    let path = default_model_path()?;
    let cached = path.exists() && sha256_file(&path)? == DEFAULT_MODEL_SHA256;
    let path = ensure_default_model()?;
    println!(
        "{} ({}, sha256 {DEFAULT_MODEL_SHA256})",
        path.display(),
        if cached {
            "already cached"
        } else {
            "downloaded"
        }
    );
    Ok(())
}
