//! The local model: GGUF loading, tokenizer from GGUF metadata, our llama forward with LoRA.
//!
//! - [`pull`]: download and verify the default base model (SmolLM2-135M-Instruct Q4_1).
//! - [`gguf`]: read a llama-family GGUF: hyper-parameters and tensors.
//! - [`tokenizer`]: byte-level BPE tokenizer and chat template from the GGUF metadata.
//! - [`llama`]: our llama forward (quantized for inference, dequantized f32 and differentiable
//!   for training) with LoRA adapters on any of q/k/v/o/gate/up/down.
//! - [`ops`]: the frozen-weight matmul custom op (backward computes only the activation gradient).
//! - [`loss`]: per-token loss of sequences (training objective, held-out perplexity).
//! - [`adapter`]: LoRA adapter save/load in Hugging Face PEFT layout.
//! - [`generate`]: sampling, stop sequences, streaming and cancellation.
//! - [`rng`]: the seedable random numbers of sampling, dropout and initialisation.

pub mod adapter;
pub mod attend;
pub mod generate;
pub mod gguf;
pub mod llama;
pub mod loss;
pub mod ops;
pub mod pull;
pub mod q4;
pub mod rng;
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

/// For a process that trains (or evaluates in f32): candle's own pool worker, which runs the
/// element-wise ops, spins 25,000 times after each op before it sleeps, while the f32 matmuls
/// run on rayon's threads; on two cores that spinning took a quarter of the CPU from the
/// matmuls. A short spin gives training 137 -> ~170 tok/s at 128 tokens/example; decoding, whose
/// quantized matmuls run on candle's pool, wants the long spin, so this is per process. Call it
/// before the first candle op (it sets an environment variable read when the pool starts).
pub fn prefer_f32_matmul_threads() {
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var("CANDLE_BARRIER_POOL_SPIN_LIMIT", "100");
    }
}
