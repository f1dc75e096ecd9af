//! `voicetune.fixAll URI`: every safe fix, to a fixed point, applied through
//! `workspace/applyEdit` with cancellable progress per round. The fix-all edit of
//! `source.fixAll.voicetune` (code actions) is computed here too, off the request loop.

use crate::lint::{Edit, LintOptions};
use crate::lsp::actions::{self, Snapshot};
use crate::lsp::api::background::{Job, Outcome};
use crate::lsp::session::Session;
use serde_json::Value;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageType, ProgressToken, Uri, WorkspaceEdit};

/// Starts a fix-all of the document in a task; returns `{ "started": true }` at once.
pub async fn start_fix_all(
    session: &Session,
    uri: Uri,
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let (snap, opts) = session.snapshot(&uri).await?;
    let file = snap
        .uri
        .to_file_path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| snap.uri.as_str().to_string());
    let job = Job::new(session, client_token, "fixAll", "voicetune: fix all")
        .with_message(format!("fixing {file}"))
        .cancellable();
    let reply = serde_json::json!({ "started": true, "token": job.token() });
    job.spawn(move |progress| async move {
        let rounds = progress.clone();
        let result = fix_all_edits(
            snap.clone(),
            opts,
            progress.cancel_flag(),
            move |round, total| {
                rounds.report(format!("round {round}: {total} fixes"));
            },
        )
        .await;
        let client = progress.client();
        match result {
            None if progress.is_cancelled() => Outcome::info("fix-all cancelled"),
            None => Outcome::error(format!("fix-all failed on {file}")),
            Some((edits, _)) if edits.is_empty() => {
                Outcome::info(format!("nothing to fix in {file}"))
            }
            Some((edits, n)) => match client.apply_edit(snap.workspace_edit(&edits)).await {
                Ok(r) if r.applied => Outcome::info(format!("fixed {n} problems in {file}")),
                Ok(r) => Outcome::new(
                    MessageType::WARNING,
                    format!(
                        "the editor did not apply the fixes ({}); run fix-all again",
                        r.failure_reason.unwrap_or_else(|| "no reason given".into())
                    ),
                ),
                Err(e) => Outcome::error(format!("applying the fixes failed: {e}")),
            },
        }
    });
    Ok(Some(reply))
}

/// The fix-all edit of a snapshot, computed on the blocking pool.
pub async fn fix_all_edit(
    snap: Snapshot,
    opts: Arc<LintOptions>,
    cancel: Arc<AtomicBool>,
) -> Result<WorkspaceEdit> {
    fix_all_edits(snap.clone(), opts, cancel, |_, _| {})
        .await
        .map(|(edits, _)| snap.workspace_edit(&edits))
        .ok_or_else(Error::request_cancelled)
}

/// Fix-all edits and the number of fixes, or None when cancelled or failed (a panic in the
/// rules ends the blocking task with an error).
pub async fn fix_all_edits(
    snap: Snapshot,
    opts: Arc<LintOptions>,
    cancel: Arc<AtomicBool>,
    on_round: impl FnMut(usize, usize) + Send + 'static,
) -> Option<(Vec<Edit>, usize)> {
    tokio::task::spawn_blocking(move || {
        let text = snap.rope.to_string();
        actions::fix_all_edits(&text, snap.kind, &opts, &cancel, on_round)
    })
    .await
    .ok()
    .flatten()
}
