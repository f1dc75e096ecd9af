//! `initialized`: watch `voicetune.toml` files and the voice registry when the client lets us
//! register a watcher.

use crate::lsp::session::Session;
use std::sync::atomic::Ordering;
use tower_lsp_server::ls_types::{InitializedParams, MessageType, Registration};

pub async fn initialized(session: &Session, _: InitializedParams) {
    if session.watch_dynamic.load(Ordering::Relaxed) {
        let watchers = serde_json::json!({
            "watchers": [
                { "globPattern": format!("**/{}", crate::config::CONFIG_FILE) },
                { "globPattern": "**/.voicetune/voices.json" },
            ]
        });
        let registration = Registration {
            id: "voicetune-config-watch".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: Some(watchers),
        };
        if let Err(e) = session.client.register_capability(vec![registration]).await {
            session
                .log(
                    MessageType::WARNING,
                    format!("voicetune: cannot watch config: {e}"),
                )
                .await;
        }
    }
    session
        .log(MessageType::INFO, "voicetune language server ready")
        .await;
}
