//! voicetune: lint fine-tuning data, build datasets from real sources, fine-tune a voice model
//! (locally with candle or remotely on the OpenAI API) and ghostwrite with it.
//!
//! Layers, top to bottom, each using only those below (see `docs/ARCHITECTURE.md`):
//! faces (`main.rs` with its `cli/`, [`lsp`]) -> services ([`ghost`], [`train`], [`compare`])
//! -> core ([`lint`], [`import`], [`infer`]) -> primitives ([`dataset`], [`clean`], [`tokens`], [`model`],
//! [`openai`], [`config`], [`fsutil`], [`hashkey`], [`voices`]).

pub mod clean;
pub mod compare;
pub mod config;
pub mod dataset;
pub mod fsutil;
pub mod ghost;
pub mod hashkey;
pub mod import;
pub mod infer;
pub mod lint;
pub mod lsp;
pub mod model;
pub mod openai;
pub mod tokens;
pub mod train;
pub mod voices;
