//! `textDocument/hover`: token counts of a line or message (see [`crate::lsp::info`]).

use crate::lsp::info;
use crate::lsp::session::Session;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{Hover, HoverParams};

pub async fn hover(session: &Session, params: HoverParams) -> Result<Option<Hover>> {
    let p = params.text_document_position_params;
    let Some(slot) = session.slot(&p.text_document.uri) else {
        return Ok(None);
    };
    let guard = slot.state.lock().await;
    Ok(guard
        .as_ref()
        .and_then(|open| info::hover(&open.doc, p.position, &open.opts)))
}
