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
