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

/// Counts the threads candle will use once, at start, and leaves the answer where candle looks
/// first. candle asks for its thread count on every f32 matmul and, without `RAYON_NUM_THREADS`
/// or `CANDLE_NUM_THREADS`, counts physical cores by parsing `/proc/cpuinfo` each time: ~10% of
/// decoding time here. Call it before any thread is started (it sets an environment variable).
pub fn settle_thread_count() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_some()
        || std::env::var_os("RAYON_NUM_THREADS").is_some()
    {
        return;
    }
    let threads = candle_core::utils::get_num_threads();
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
}

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
