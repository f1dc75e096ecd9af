//! Local LoRA fine-tuning with candle over [`crate::model`].
//!
//! - [`config`]: the `[local]` section of `voicetune.toml` (model, LoRA and optimiser settings).
//! - [`data`]: chat JSONL -> token ids with a loss mask on the assistant tokens.
//! - [`optim`]: AdamW and the warmup + cosine learning-rate schedule.
//! - [`trainer`]: the loop (gradient accumulation, validation, checkpoints, resume, cancel,
//!   progress events).
//! - [`eval`]: perplexity of held-out texts, base vs voice model.
//! - [`voice`]: train a named voice as a job and register it; the entry point of `voicetune
//!   train` and of the language server's `voicetune.trainLocal`.

pub mod config;
pub mod data;
pub mod eval;
pub mod optim;
pub mod trainer;
pub mod voice;

pub use config::LocalConfig;
pub use trainer::{train, TrainEvent, TrainOutcome, TrainStatus};
pub use voice::{
    check_voice_name, lint_errors, train_voice, voice_dir, LintErrors, TrainOverrides,
    VoiceTraining,
};

/// Keeps freed memory in the process for the next step instead of handing it back to the OS.
/// A training step frees and re-allocates tensors of megabytes; glibc returns such blocks to
/// the OS, so every step faulted in freshly zeroed pages (perf: ~12% of a step in page clearing
/// and faults). Measured with the model_speed bench: +5% tokens/s at 128 and 512 tokens per
/// example, same peak RSS. One arena for all threads: the step runs on a rayon thread and the
/// element-wise ops on candle's, and glibc's per-thread arenas (heaps of at most 64 MiB, trimmed
/// on their own terms) still gave back and re-faulted pages: 188 -> 197 tok/s at 512 tokens, and
/// 187 -> 208 at 128. For training processes only, called before any thread starts (the
/// language server keeps its own allocator settings).
pub fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets allocator tunables; it takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
