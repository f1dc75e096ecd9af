//! `workspace/executeCommand`: each command by name (see [`crate::lsp::commands`]) to its file
//! in [`crate::lsp::api::commands`]. Long work runs through
//! [`crate::lsp::api::background::Job`]; the request returns at once.

use crate::lsp::api::commands::{
    accept_suggestion, build_dataset, compare, fix_all, ghost_stats, select_voice, stats,
    train_local, tune_remote,
};
use crate::lsp::commands::*;
use crate::lsp::session::Session;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{ExecuteCommandParams, Uri};

pub async fn execute_command(
    session: &Session,
    params: ExecuteCommandParams,
) -> Result<Option<Value>> {
    let token = params.work_done_progress_params.work_done_token;
    let args = &params.arguments;
    match params.command.as_str() {
        STATS => stats::stats(session, uri_arg(args)?).await,
        TUNE_REMOTE => tune_remote::tune(session, args, token).await,
        TRAIN_LOCAL => train_local::train_local(session, args, token).await,
        JOBS => tune_remote::jobs(session).await,
        CANCEL_JOB => tune_remote::cancel(session, args).await,
        BUILD_DATASET => build_dataset::start_build(session, args, token).await,
        SELECT_VOICE => select_voice::select_voice(session, args).await,
        GHOST_STATS => ghost_stats::ghost_stats(session).await,
        COMPARE => compare::start_compare(session, args, token).await,
        ACCEPT_SUGGESTION => accept_suggestion::accept_suggestion(session, args).await,
        FIX_ALL => fix_all::start_fix_all(session, uri_arg(args)?, token).await,
        other => Err(Error::invalid_params(format!(
            "unknown command {other:?}; voicetune knows {}",
            ALL.join(", ")
        ))),
    }
}

/// The document a command is about: its first argument, a URI string or `{ "uri": ... }`.
fn uri_arg(args: &[Value]) -> Result<Uri> {
    let first = args
        .first()
        .ok_or_else(|| Error::invalid_params("expected the document URI as the first argument"))?;
    let text = first
        .as_str()
        .or_else(|| first.get("uri").and_then(Value::as_str))
        .ok_or_else(|| Error::invalid_params("the first argument must be a document URI"))?;
    text.parse()
        .map_err(|_| Error::invalid_params(format!("not a URI: {text}")))
}
