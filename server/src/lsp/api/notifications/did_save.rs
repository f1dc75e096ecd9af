//! `textDocument/didSave`: saving a `voicetune.toml` re-lints every open document; saving a
//! draft with accepted suggestions records the paragraphs kept around them (learning on).

use super::did_change_configuration::reload_all;
use super::is_config_file;
use crate::lsp::api::commands::accept_suggestion;
use crate::lsp::session::Session;
use tower_lsp_server::ls_types::DidSaveTextDocumentParams;

pub async fn did_save(session: &Session, params: DidSaveTextDocumentParams) {
    let uri = &params.text_document.uri;
    if is_config_file(uri) {
        reload_all(session).await;
    }
    if session.ghost.learner.has_pending(uri.as_str()) {
        if let Some(slot) = session.slot(uri) {
            let text = slot
                .state
                .lock()
                .await
                .as_ref()
                .map(|o| o.doc.rope().to_string());
            if let Some(text) = text {
                accept_suggestion::document_done(session, uri, &text).await;
            }
        }
    }
}
