//! `textDocument/didSave`: saving a `voicetune.toml` re-lints every open document.

use super::did_change_configuration::reload_all;
use super::is_config_file;
use crate::lsp::session::Session;
use tower_lsp_server::ls_types::DidSaveTextDocumentParams;

pub async fn did_save(session: &Session, params: DidSaveTextDocumentParams) {
    if is_config_file(&params.text_document.uri) {
        reload_all(session).await;
    }
}
