//! `textDocument/codeAction` and `codeAction/resolve`: quick fixes, per-rule fix-alls and the
//! file-wide `source.fixAll.voicetune` (see [`crate::lsp::actions`]).

use crate::lsp::actions::{self, Snapshot};
use crate::lsp::api::commands::fix_all::fix_all_edit;
use crate::lsp::session::Session;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{
    CodeAction, CodeActionOrCommand, CodeActionParams, CodeActionResponse, Uri,
};

pub async fn code_action(
    session: &Session,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri;
    let Some(slot) = session.slot(&uri) else {
        return Ok(None);
    };
    let guard = slot.state.lock().await;
    let Some(open) = guard.as_ref() else {
        return Ok(None);
    };
    let mut out: Vec<CodeActionOrCommand> = actions::quick_fixes(&open.doc, &uri, &params.context)
        .into_iter()
        .map(CodeActionOrCommand::CodeAction)
        .collect();
    let only = params.context.only.as_deref();
    if actions::wanted(only, actions::FIX_ALL_KIND) {
        let data = serde_json::json!({ "uri": uri.as_str() });
        // Asked for explicitly (on save): compute now; otherwise resolve on demand.
        let edit = match only {
            Some(_) => {
                let snap = Snapshot::of(&open.doc, &uri);
                let opts = open.opts.clone();
                drop(guard);
                Some(fix_all_edit(snap, opts, Arc::new(AtomicBool::new(false))).await?)
            }
            None => None,
        };
        out.push(actions::fix_all_action(edit, data));
    }
    Ok(Some(out))
}

pub async fn code_action_resolve(session: &Session, mut action: CodeAction) -> Result<CodeAction> {
    if action.edit.is_some() {
        return Ok(action);
    }
    let uri = action
        .data
        .as_ref()
        .and_then(|d| d.get("uri"))
        .and_then(|u| u.as_str())
        .and_then(|u| u.parse::<Uri>().ok())
        .ok_or_else(|| Error::invalid_params("code action without a document"))?;
    let (snap, opts) = session.snapshot(&uri).await?;
    action.edit = Some(fix_all_edit(snap, opts, Arc::new(AtomicBool::new(false))).await?);
    Ok(action)
}
