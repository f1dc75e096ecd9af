//! `initialize`: what the client can do, the workspace folder, and our capabilities.

use crate::lsp::api::capabilities;
use crate::lsp::position::Encoding;
use crate::lsp::session::Session;
use std::sync::atomic::Ordering;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{InitializeParams, InitializeResult};

pub async fn initialize(session: &Session, params: InitializeParams) -> Result<InitializeResult> {
    let encoding = Encoding::negotiate(
        params
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_deref()),
    );
    if let Ok(mut e) = session.encoding.lock() {
        *e = encoding;
    }
    let window = params.capabilities.window.as_ref();
    session.progress.store(
        window.and_then(|w| w.work_done_progress).unwrap_or(false),
        Ordering::Relaxed,
    );
    let watch = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|w| w.dynamic_registration)
        .unwrap_or(false);
    session.watch_dynamic.store(watch, Ordering::Relaxed);
    let inline_client = params
        .capabilities
        .text_document
        .as_ref()
        .is_some_and(|t| t.inline_completion.is_some());
    session
        .ghost
        .inline_client
        .store(inline_client, Ordering::Relaxed);
    if let Ok(mut s) = session.settings.lock() {
        s.set_init(params.initialization_options);
    }
    #[allow(deprecated)] // root_uri: still what most clients send
    let root = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| f.uri.clone())
        .or(params.root_uri)
        .and_then(|uri| uri.to_file_path().map(|p| p.into_owned()));
    if let (Some(root), Ok(mut r)) = (root, session.root.lock()) {
        *r = Some(root);
    }
    Ok(InitializeResult {
        server_info: Some(capabilities::server_info()),
        capabilities: capabilities::server_capabilities(encoding, inline_client),
        offset_encoding: None,
    })
}
