//! The OpenAI API transport (and that of compatible providers), shared by remote fine-tuning
//! (`train/remote/`) and remote inference (`infer/remote.rs`). It imports no service.
//!
//! - [`client`]: the HTTP client, its API key, JSON and streamed calls, and the retry loop.
//! - [`retry`]: backoff with jitter and `Retry-After`.
//! - [`files`]: streamed uploads that are never sent twice.
//! - [`error`]: what a failed call reports.
//! - [`config`]: the `[remote]` section of `voicetune.toml`, which makes clients.
//!
//! Endpoint-specific calls live with their users (fine-tuning jobs in
//! `train/remote/endpoints.rs`, chat completions in `infer/remote.rs`).

pub mod client;
pub mod config;
pub mod error;
pub mod files;
pub mod retry;

pub use client::{ApiKey, Client, ClientOptions, Timeouts, UploadProgress, WaitNotice, Waiting};
pub use config::{Provider, RemoteConfig, TogetherConfig, DEFAULT_BASE_URL, TOGETHER_BASE_URL};
pub use error::Error;
pub use files::{upload_name, OpenAiFile, UploadRoute, OPENAI_UPLOAD, TOGETHER_UPLOAD};
pub use retry::RetryPolicy;
