//! `textDocument/didClose`: the document is forgotten and its diagnostics cleared.

use crate::lsp::session::Session;
use tower_lsp_server::ls_types::DidCloseTextDocumentParams;

pub async fn did_close(session: &Session, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    if let Some(slot) = session.remove_slot(&uri) {
        slot.close();
        session
            .publisher
            .publish_diagnostics(uri, Vec::new(), None)
            .await;
    }
}
