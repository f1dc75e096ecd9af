//! `voicetune.acceptSuggestion { uri, position, text, voice }`: the user accepted an inline
//! suggestion (the client runs the item's command). With `[completion] learn = true` for a
//! markdown draft, the acceptance is appended to the workspace's local learning log
//! ([`crate::ghost::learn`]) and the paragraph the user keeps is recorded when the draft is
//! saved or closed; otherwise nothing is recorded. Returns `{ "recorded": bool }`. Nothing of
//! the text is logged to the client.

use crate::ghost::learn::Accepted;
use crate::ghost::DocKind;
use crate::lsp::commands::ACCEPT_SUGGESTION;
use crate::lsp::position;
use crate::lsp::session::Session;
use crate::lsp::settings::ghost_config;
use crate::voices::Registry;
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageType, Position, Uri};

#[derive(serde::Deserialize)]
struct Args {
    uri: String,
    /// Where the suggestion was inserted.
    position: Position,
    /// The accepted words.
    text: String,
    #[serde(default)]
    voice: Option<String>,
}

pub async fn accept_suggestion(session: &Session, args: &[Value]) -> Result<Option<Value>> {
    let args: Args = args
        .first()
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .ok_or_else(|| {
            Error::invalid_params(format!(
                "{ACCEPT_SUGGESTION} expects {{ uri, position, text, voice }}"
            ))
        })?;
    let uri: Uri = args
        .uri
        .parse()
        .map_err(|_| Error::invalid_params(format!("not a URI: {}", args.uri)))?;
    let not_open = || Error::invalid_params("the document is not open");
    let slot = session.slot(&uri).ok_or_else(not_open)?;
    let (text, cursor, path) = {
        let guard = slot.state.lock().await;
        let open = guard.as_ref().ok_or_else(not_open)?;
        let learns = ghost_config(&open.opts.config.completion).is_ok_and(|c| c.learn);
        let markdown = open
            .path
            .as_deref()
            .and_then(DocKind::from_path)
            .is_some_and(|k| k == DocKind::Markdown);
        if !learns || !markdown {
            return Ok(Some(json!({ "recorded": false })));
        }
        let rope = open.doc.rope();
        let cursor = position::byte_of(rope, args.position, open.doc.encoding);
        (
            rope.to_string(),
            cursor,
            open.path.clone().unwrap_or_default(),
        )
    };
    let root = session.workspace_root();
    let shape = match &args.voice {
        Some(voice) => Registry::load(&root)
            .ok()
            .and_then(|r| r.prompt(voice).cloned())
            .unwrap_or_default(),
        None => Default::default(),
    };
    let file = path.strip_prefix(&root).unwrap_or(&path);
    let file = file.to_string_lossy().into_owned();
    let accepted = Accepted::new(&text, cursor, &args.text, args.voice, &shape, file);
    if let Err(e) = session.ghost.learner.accept(&root, uri.as_str(), accepted) {
        let message = format!("voicetune: could not write the learning log: {e}");
        session.log(MessageType::WARNING, &message).await;
        return Err(Error::invalid_params(message));
    }
    Ok(Some(json!({ "recorded": true })))
}

/// The document was saved or closed with `text`: the paragraphs kept around its accepted
/// suggestions go to the log.
pub async fn document_done(session: &Session, uri: &Uri, text: &str) {
    let learner = &session.ghost.learner;
    if !learner.has_pending(uri.as_str()) {
        return;
    }
    let root = session.workspace_root();
    if let Err(e) = learner.document_done(&root, uri.as_str(), text) {
        let message = format!("voicetune: could not write the learning log: {e}");
        session.log(MessageType::WARNING, message).await;
    }
}
