//! `workspace/executeCommand`. Long work runs in a task and reports through `$/progress`
//! (work-done progress with a cancel button) and `window/showMessage`; the request returns at
//! once.

use super::backend::{fix_all_edits, token_key, Backend};
use super::info;
use super::local_commands;
use super::remote_commands;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{
    ExecuteCommandParams, MessageType, NumberOrString, ProgressToken, Uri,
};

pub const FIX_ALL: &str = "voicetune.fixAll";
pub const STATS: &str = "voicetune.stats";
pub const BUILD_DATASET: &str = "voicetune.buildDataset";
pub const ALL: &[&str] = &[
    FIX_ALL,
    STATS,
    BUILD_DATASET,
    local_commands::TRAIN_LOCAL,
    remote_commands::TUNE_REMOTE,
    remote_commands::JOBS,
    remote_commands::CANCEL_JOB,
];

/// The progress token of a command: the client's, else one we make (when the client shows
/// progress); the flag says we made it, so the client must be asked to create it.
pub(super) fn progress_token(
    backend: &Backend,
    client_token: Option<ProgressToken>,
    what: &str,
) -> (Option<ProgressToken>, bool) {
    match client_token {
        Some(t) => (Some(t), false),
        None if backend.progress.load(Ordering::Relaxed) => {
            let n = backend.next_token.fetch_add(1, Ordering::Relaxed);
            (
                Some(NumberOrString::String(format!("voicetune/{what}/{n}"))),
                true,
            )
        }
        None => (None, false),
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

pub async fn execute(backend: &Backend, params: ExecuteCommandParams) -> Result<Option<Value>> {
    match params.command.as_str() {
        STATS => stats(backend, &params.arguments).await,
        remote_commands::TUNE_REMOTE => {
            let token = params.work_done_progress_params.work_done_token.clone();
            remote_commands::tune(backend, &params.arguments, token).await
        }
        local_commands::TRAIN_LOCAL => {
            let token = params.work_done_progress_params.work_done_token.clone();
            local_commands::train_local(backend, &params.arguments, token).await
        }
        remote_commands::JOBS => remote_commands::jobs(backend).await,
        remote_commands::CANCEL_JOB => remote_commands::cancel(backend, &params.arguments).await,
        BUILD_DATASET => {
            let token = params.work_done_progress_params.work_done_token.clone();
            start_build(backend, &params.arguments, token).await
        }
        FIX_ALL => {
            let uri = uri_arg(&params.arguments)?;
            let token = params.work_done_progress_params.work_done_token.clone();
            start_fix_all(backend, uri, token).await
        }
        other => Err(Error::invalid_params(format!(
            "unknown command {other:?}; voicetune knows {}",
            ALL.join(", ")
        ))),
    }
}

async fn stats(backend: &Backend, args: &[Value]) -> Result<Option<Value>> {
    let uri = uri_arg(args)?;
    let slot = backend
        .slot(&uri)
        .ok_or_else(|| Error::invalid_params("the document is not open"))?;
    let guard = slot.state.lock().await;
    let open = guard
        .as_ref()
        .ok_or_else(|| Error::invalid_params("the document is not open"))?;
    let stats = info::stats(&open.doc, &open.opts);
    drop(guard);
    backend
        .client
        .show_message(
            MessageType::INFO,
            format!("voicetune: {}", info::stats_line(&stats)),
        )
        .await;
    Ok(serde_json::to_value(stats).ok())
}

/// Starts a fix-all of the document in a task; returns `{ "started": true }` at once.
async fn start_fix_all(
    backend: &Backend,
    uri: Uri,
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let (snap, opts) = backend.snapshot(&uri).await?;
    let (token, created_here) = progress_token(backend, client_token, "fixAll");
    let cancel = Arc::new(AtomicBool::new(false));
    if let (Some(t), Ok(mut cancels)) = (&token, backend.cancels.lock()) {
        cancels.insert(token_key(t), cancel.clone());
    }
    let client = backend.client.clone();
    let cancels_key = token.as_ref().map(token_key);
    let reply = serde_json::json!({ "started": true, "token": token });
    let file = snap
        .uri
        .to_file_path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| snap.uri.as_str().to_string());
    let cancels = backend.cancels.clone();
    tokio::spawn(async move {
        let progress = match &token {
            Some(t) => {
                if created_here && client.create_work_done_progress(t.clone()).await.is_err() {
                    None
                } else {
                    Some(
                        client
                            .progress(t.clone(), "voicetune: fix all")
                            .with_message(format!("fixing {file}"))
                            .with_cancel_button()
                            .begin()
                            .await,
                    )
                }
            }
            None => None,
        };
        let (round_tx, mut round_rx) = tokio::sync::mpsc::unbounded_channel();
        let work = fix_all_edits(snap.clone(), opts, cancel.clone(), move |round, total| {
            let _ = round_tx.send((round, total));
        });
        tokio::pin!(work);
        let result = loop {
            tokio::select! {
                done = &mut work => break done,
                Some((round, total)) = round_rx.recv() => {
                    if let Some(p) = &progress {
                        p.report_with_message(format!("round {round}: {total} fixes"), Some(true)).await;
                    }
                }
            }
        };
        let message = match result {
            None if cancel.load(Ordering::Relaxed) => {
                (MessageType::INFO, "fix-all cancelled".to_string())
            }
            None => (MessageType::ERROR, format!("fix-all failed on {file}")),
            Some((edits, _)) if edits.is_empty() => {
                (MessageType::INFO, format!("nothing to fix in {file}"))
            }
            Some((edits, n)) => match client.apply_edit(snap.workspace_edit(&edits)).await {
                Ok(r) if r.applied => (MessageType::INFO, format!("fixed {n} problems in {file}")),
                Ok(r) => (
                    MessageType::WARNING,
                    format!(
                        "the editor did not apply the fixes ({}); run fix-all again",
                        r.failure_reason.unwrap_or_else(|| "no reason given".into())
                    ),
                ),
                Err(e) => (
                    MessageType::ERROR,
                    format!("applying the fixes failed: {e}"),
                ),
            },
        };
        if let Some(p) = progress {
            p.finish_with_message(message.1.clone()).await;
        }
        if let (Some(key), Ok(mut c)) = (cancels_key, cancels.lock()) {
            c.remove(&key);
        }
        client
            .show_message(message.0, format!("voicetune: {}", message.1))
            .await;
    });
    Ok(Some(reply))
}

/// `voicetune.buildDataset {sources, output, options}`: the same build as `voicetune build`,
/// in a task with `$/progress`; the report goes to `window/showMessage` and the output is
/// opened with `window/showDocument`. Returns `{ "started": true }` at once.
async fn start_build(
    backend: &Backend,
    args: &[Value],
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let request: crate::import::BuildRequest = args
        .first()
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::invalid_params(format!("voicetune.buildDataset: {e}")))?
        .ok_or_else(|| {
            Error::invalid_params("voicetune.buildDataset expects {sources, output, options}")
        })?;
    let root = backend.workspace_root();
    let config = crate::config::Config::for_file(&root)
        .map(|(c, _)| c)
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    let options = request
        .resolve(&config, &root)
        .map_err(|e| Error::invalid_params(e.describe(|f| format!("options.{}", f.key()))))?;
    let (token, created_here) = progress_token(backend, client_token, "build");
    let client = backend.client.clone();
    let reply = serde_json::json!({ "started": true, "token": token });
    tokio::spawn(async move {
        let progress = match &token {
            Some(t)
                if !created_here || client.create_work_done_progress(t.clone()).await.is_ok() =>
            {
                Some(
                    client
                        .progress(t.clone(), "voicetune: build dataset")
                        .with_message(format!("writing {}", options.output.display()))
                        .begin()
                        .await,
                )
            }
            _ => None,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let output = options.output.clone();
        let work = tokio::task::spawn_blocking(move || {
            crate::import::build(&options, &mut |p| {
                let _ = tx.send(format!(
                    "source {}/{}: {} items read, {} examples",
                    p.source_index + 1,
                    p.source_count,
                    p.items_read,
                    p.examples_written
                ));
            })
        });
        tokio::pin!(work);
        let result = loop {
            tokio::select! {
                done = &mut work => break done,
                Some(message) = rx.recv() => {
                    if let Some(p) = &progress {
                        p.report(message).await;
                    }
                }
            }
        };
        let (kind, message, ok) = match result {
            Ok(Ok(report)) => (
                MessageType::INFO,
                format!("built {}: {}", output.display(), report.summary_line()),
                true,
            ),
            Ok(Err(e)) => (MessageType::ERROR, format!("build failed: {e}"), false),
            Err(e) => (MessageType::ERROR, format!("build failed: {e}"), false),
        };
        if let Some(p) = progress {
            p.finish_with_message(message.clone()).await;
        }
        client
            .show_message(kind, format!("voicetune: {message}"))
            .await;
        if ok {
            if let Some(uri) = Uri::from_file_path(&output) {
                let _ = client
                    .show_document(tower_lsp_server::ls_types::ShowDocumentParams {
                        uri,
                        external: Some(false),
                        take_focus: Some(true),
                        selection: None,
                    })
                    .await;
            }
        }
    });
    Ok(Some(reply))
}
