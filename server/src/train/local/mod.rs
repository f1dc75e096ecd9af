//! Local LoRA fine-tuning with candle over [`crate::model`].
//!
//! - [`config`]: the `[local]` section of `voicetune.toml` (model, LoRA and optimiser settings).
//! - [`data`]: chat JSONL -> token ids with a loss mask on the assistant tokens.
//! - [`optim`]: AdamW and the warmup + cosine learning-rate schedule.
//! - [`trainer`]: the loop (gradient accumulation, validation, checkpoints, resume, cancel,
//!   progress events).
//! - [`eval`]: perplexity of held-out texts, base vs voice model.
//! - [`cli`]: `voicetune train` and the entry point the language server calls.

pub mod cli;
pub mod config;
pub mod data;
pub mod eval;
pub mod optim;
pub mod trainer;

pub use config::LocalConfig;
pub use trainer::{train, TrainEvent, TrainOutcome, TrainStatus};
