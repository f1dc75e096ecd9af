//! The local model: GGUF loading, tokenizer from GGUF metadata, our llama forward with LoRA.
//!
//! - [`pull`]: download and verify the default base model (SmolLM2-135M-Instruct Q4_1).
//! - [`gguf`]: read a llama-family GGUF: hyper-parameters and tensors.
//! - [`tokenizer`]: byte-level BPE tokenizer and chat template from the GGUF metadata.
//! - [`llama`]: our llama forward (quantized for inference, dequantized f32 and differentiable
//!   for training) with LoRA adapters on any of q/k/v/o/gate/up/down.
//! - [`ops`]: the frozen-weight matmul custom op (backward computes only the activation gradient).
//! - [`adapter`]: LoRA adapter save/load in Hugging Face PEFT layout.
//! - [`generate`]: sampling, stop sequences, streaming and cancellation.

pub mod adapter;
pub mod generate;
pub mod gguf;
pub mod llama;
pub mod ops;
pub mod pull;
pub mod tokenizer;

pub use llama::{Llama, LlamaConfig, LoraConfig};
pub use tokenizer::GgufTokenizer;

/// `voicetune model ...` subcommands.
pub mod cli {
    #[derive(Debug, clap::Subcommand)]
    pub enum ModelCommand {
        /// Download the default base model (SmolLM2-135M-Instruct Q4_1) into the cache, checking
        /// its sha256.
        Pull,
    }

    pub fn run(cmd: &ModelCommand) -> anyhow::Result<()> {
        match cmd {
            ModelCommand::Pull => super::pull::cli_pull(),
        }
    }
}
