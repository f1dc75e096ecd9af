//! `voicetune.selectVoice [NAME]`: the voice that ghostwrites. With a name (a string, or
//! `{ "voice": NAME }`) it becomes the active voice for the rest of the session, over `voice` in
//! the settings; `null` or `""` choose the local base model. Without an argument it returns the
//! registered voices (`.voicetune/voices.json`) and the active one:
//! `{ "voices": [{ "name", "kind", "model" }], "active": NAME | null, "selected": bool }`.

use crate::lsp::commands::SELECT_VOICE;
use crate::lsp::session::Session;
use crate::voices::{Registry, Voice};
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::MessageType;

pub async fn select_voice(session: &Session, args: &[Value]) -> Result<Option<Value>> {
    let root = session.workspace_root();
    let registry = Registry::load(&root).map_err(|e| Error::invalid_params(e.to_string()))?;
    let Some(arg) = args.first() else {
        return list(session, &registry).await.map(Some);
    };
    let name = match arg.get("voice").unwrap_or(arg) {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => {
            return Err(Error::invalid_params(format!(
                "{SELECT_VOICE} expects a voice name, got {other}"
            )))
        }
    };
    if let Some(name) = name.as_deref().filter(|n| registry.get(n).is_none()) {
        let known: Vec<&str> = registry.voices.keys().map(String::as_str).collect();
        return Err(Error::invalid_params(format!(
            "no voice named `{name}` in {}; registered: {}",
            crate::voices::registry_path(&root).display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    session.ghost.select(name.clone());
    let shown = name.as_deref().unwrap_or("the local base model");
    session
        .client
        .show_message(
            MessageType::INFO,
            format!("voicetune: ghostwriting with {shown}"),
        )
        .await;
    Ok(Some(json!({ "active": name })))
}

async fn list(session: &Session, registry: &Registry) -> Result<Value> {
    let voices: Vec<Value> = registry
        .voices
        .iter()
        .map(|(name, voice)| match voice {
            Voice::Local {
                base_model,
                adapter,
                ..
            } => json!({ "name": name, "kind": "local", "model": base_model,
                         "adapter": adapter }),
            Voice::Remote {
                model, base_url, ..
            } => json!({ "name": name, "kind": "remote", "model": model,
                         "baseUrl": base_url }),
        })
        .collect();
    let configured = session
        .options_for(Some(&session.workspace_root()))
        .await
        .config
        .voice
        .clone();
    let active = session.ghost.active_voice(configured.as_deref());
    Ok(json!({
        "voices": voices,
        "active": active,
        "selected": session.ghost.is_selected(),
    }))
}
