//! `textDocument/didClose`: the document is forgotten and its diagnostics cleared; the
//! paragraphs kept around its accepted suggestions are recorded (learning on).

use crate::lsp::api::commands::accept_suggestion;
use crate::lsp::session::Session;
use tower_lsp_server::ls_types::DidCloseTextDocumentParams;

pub async fn did_close(session: &Session, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    if let Some(slot) = session.remove_slot(&uri) {
        if session.ghost.learner.has_pending(uri.as_str()) {
            let text = slot
                .state
                .lock()
                .await
                .as_ref()
                .map(|o| o.doc.rope().to_string());
            if let Some(text) = text {
                accept_suggestion::document_done(session, &uri, &text).await;
            }
        }
        slot.close();
        session.publisher.publish_diagnostics(uri, Vec::new(), None);
    }
}
