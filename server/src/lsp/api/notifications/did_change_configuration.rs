//! `workspace/didChangeConfiguration` and `workspace/didChangeWatchedFiles`: new settings or a
//! changed `voicetune.toml` re-lint every open document; they and a changed voice registry
//! (`.voicetune/voices.json`) make ghostwriting look its voices up again.

use super::{is_config_file, is_voice_registry};
use crate::lsp::guard;
use crate::lsp::session::Session;
use tower_lsp_server::ls_types::{
    DidChangeConfigurationParams, DidChangeWatchedFilesParams, MessageType,
};

pub async fn did_change_configuration(session: &Session, params: DidChangeConfigurationParams) {
    if let Ok(mut s) = session.settings.lock() {
        s.set_changed(params.settings);
    }
    reload_all(session).await;
}

pub async fn did_change_watched_files(session: &Session, params: DidChangeWatchedFilesParams) {
    if params.changes.iter().any(|c| is_config_file(&c.uri)) {
        reload_all(session).await;
    } else if params.changes.iter().any(|c| is_voice_registry(&c.uri)) {
        session.ghost.settings_changed();
    }
}

/// Re-reads settings for every open document, re-lints and republishes.
pub(super) async fn reload_all(session: &Session) {
    if let Ok(mut s) = session.settings.lock() {
        s.invalidate();
    }
    session.ghost.settings_changed();
    for (uri, slot) in session.slots() {
        let generation = slot.next_generation();
        let mut state = slot.state.lock().await;
        let Some(mut open) = state.take() else {
            continue;
        };
        open.opts = session.options_for(open.path.as_deref()).await;
        let opts = open.opts.clone();
        let cancelled = session.superseded(&slot, generation);
        let relinted = tokio::task::spawn_blocking(move || {
            // Caught here, not by the handler: the document must survive a failed re-lint.
            let ok = guard::catch(|| open.doc.relint_all_until(&opts, &cancelled)).is_some();
            (open, ok)
        })
        .await;
        match relinted {
            Ok((mut open, ok)) => {
                if !ok {
                    session
                        .log(MessageType::ERROR, "voicetune: re-lint failed")
                        .await;
                }
                open.generation = generation;
                session.publish(&uri, &slot, &open);
                *state = Some(open);
            }
            Err(e) => {
                session
                    .log(
                        MessageType::ERROR,
                        format!("voicetune: re-lint failed: {e}"),
                    )
                    .await
            }
        }
    }
}
