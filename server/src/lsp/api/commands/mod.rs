//! `workspace/executeCommand` commands, one file each (names in [`crate::lsp::commands`]).
//! Long ones start a [`super::background::Job`] and return `{ "started": true, ... }` at once.

pub mod accept_suggestion;
pub mod build_dataset;
pub mod compare;
pub mod fix_all;
pub mod ghost_stats;
pub mod select_voice;
pub mod stats;
pub mod train_local;
pub mod tune_remote;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};

/// A command's one argument object as `T`. A malformed one is an error naming the command and
/// serde's reason; a missing one names the fields the command `expects` (`{a, b?}`).
pub fn argument<T: DeserializeOwned>(command: &str, args: &[Value], expects: &str) -> Result<T> {
    let value = args
        .first()
        .cloned()
        .ok_or_else(|| Error::invalid_params(format!("{command} expects {expects}")))?;
    serde_json::from_value(value).map_err(|e| Error::invalid_params(format!("{command}: {e}")))
}
