//! `voicetune.stats URI`: the dataset's statistics, shown and returned.

use crate::lsp::info;
use crate::lsp::session::Session;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageType, Uri};

pub async fn stats(session: &Session, uri: Uri) -> Result<Option<Value>> {
    let slot = session
        .slot(&uri)
        .ok_or_else(|| Error::invalid_params("the document is not open"))?;
    let guard = slot.state.lock().await;
    let open = guard
        .as_ref()
        .ok_or_else(|| Error::invalid_params("the document is not open"))?;
    let stats = info::stats(&open.doc, &open.opts);
    let line = info::stats_line(&stats, &open.opts);
    drop(guard);
    session
        .client
        .show_message(MessageType::INFO, format!("voicetune: {line}"))
        .await;
    Ok(serde_json::to_value(stats).ok())
}
