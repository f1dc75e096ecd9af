//! `textDocument/codeLens`: the dataset's stats at the top of a JSONL file.

use crate::lsp::info;
use crate::lsp::session::Session;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{CodeLens, CodeLensParams};

pub async fn code_lens(session: &Session, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
    let uri = params.text_document.uri;
    let Some(slot) = session.slot(&uri) else {
        return Ok(None);
    };
    let guard = slot.state.lock().await;
    Ok(guard
        .as_ref()
        .and_then(|open| info::code_lens(&open.doc, &uri, &open.opts))
        .map(|lens| vec![lens]))
}
