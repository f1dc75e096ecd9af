//! voicetune: lint fine-tuning data, build datasets from real sources, fine-tune a voice model
//! (locally with candle or remotely on the OpenAI API) and ghostwrite with it.
//!
//! Layers, top to bottom, each using only those below (see `docs/ARCHITECTURE.md`):
//! faces (`main.rs`, [`lsp`]) -> services ([`ghost`], [`infer`], [`train`]) -> core ([`lint`], [`import`])
//! -> primitives ([`dataset`], [`clean`], [`tokens`], [`model`], [`config`], [`fsutil`], [`hashkey`], [`voices`]).

pub mod clean;
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
pub mod report;
pub mod tokens;
pub mod train;
pub mod voices;
