//! What `textDocument/inlineCompletion` and its `textDocument/completion` fallback share: the
//! cursor of an open draft as a [`SuggestRequest`], and the suggestion run as a cancellable
//! [`Job`] on the blocking pool.
//!
//! The request's job is cancelled when the client cancels it (`$/cancelRequest`: the handler's
//! future is dropped, and dropping a running job raises its flag) and when a newer suggestion
//! request for the same document arrives ([`crate::lsp::session::Ghosting::newest_for`]); the
//! model stops at its next token either way and the stale request answers with nothing.
//!
//! A settings problem (no model, no key, unreachable endpoint, a bad `[completion]` section) is
//! shown once (`window/showMessage`, warning); requests then answer with nothing, without an
//! error, until the settings change. Other failures go to the log.

use super::background::Job;
use crate::ghost::{DocKind, GhostError, SuggestRequest, Suggestion};
use crate::lsp::position;
use crate::lsp::session::Session;
use crate::lsp::settings::ghost_config;
use std::path::Path;
use tower_lsp_server::ls_types::{MessageType, Position, ProgressToken, Uri};

/// The cursor in an open draft, with what the suggestion needs.
pub struct Cursor {
    pub request: SuggestRequest,
    /// The cursor as an LSP position (clamped to the document).
    pub at: Position,
    /// The `[completion]` section of the document's settings.
    completion: toml::Table,
}

impl Cursor {
    /// Whether accepted suggestions here are learned from: `[completion] learn = true`, in a
    /// markdown draft.
    pub fn learns(&self) -> bool {
        self.request.kind == DocKind::Markdown
            && ghost_config(&self.completion).is_ok_and(|c| c.learn)
    }

    /// The text of the cursor's line before it.
    pub fn line_before(&self) -> &str {
        let text = &self.request.text[..self.request.cursor];
        &text[text.rfind('\n').map_or(0, |i| i + 1)..]
    }

    /// The text of the cursor's line after it.
    pub fn line_after(&self) -> &str {
        let text = &self.request.text[self.request.cursor..];
        &text[..text.find('\n').unwrap_or(text.len())]
    }
}

/// The cursor at `position` of `uri`, when the document is open and is a markdown draft or a
/// JSONL dataset (by its extension).
pub async fn cursor_at(session: &Session, uri: &Uri, position: Position) -> Option<Cursor> {
    let kind = DocKind::from_path(Path::new(uri.path().as_str()))?;
    let slot = session.slot(uri)?;
    let guard = slot.state.lock().await;
    let open = guard.as_ref()?;
    let rope = open.doc.rope();
    let cursor = position::byte_of(rope, position, open.doc.encoding);
    let config = &open.opts.config;
    let voice = session.ghost.active_voice(config.voice.as_deref());
    Some(Cursor {
        at: position::position_of(rope, cursor, open.doc.encoding),
        completion: config.completion.clone(),
        request: SuggestRequest {
            voice,
            text: rope.to_string(),
            kind,
            cursor,
        },
    })
}

/// The active voice's suggestion at `cursor`, or None (nothing to suggest, cancelled,
/// superseded, or a problem, shown once or logged).
pub async fn suggest(
    session: &Session,
    uri: &Uri,
    cursor: Cursor,
    token: Option<ProgressToken>,
) -> Option<Suggestion> {
    let config = match ghost_config(&cursor.completion) {
        Ok(config) => config,
        Err(e) => {
            show_once(session, &e).await;
            Default::default()
        }
    };
    let service = session.ghost.service(&session.workspace_root(), config);
    let request = cursor.request;
    let voice = request.voice.clone();
    let job = Job::for_request(session, token, "voicetune: ghostwriting").cancellable();
    let ghosting = session.ghost.clone();
    let output = job
        .run(
            |progress| async move {
                let cancel = progress.cancel_flag();
                let _newest = ghosting.newest_for(uri, cancel.clone());
                service.suggest_async(request, cancel).await
            },
            |_| "done".into(),
        )
        .await;
    match output {
        Some(Ok(Some(suggestion))) => {
            let t = &suggestion.timing;
            let how = if suggestion.from_previous {
                "from the previous suggestion".to_string()
            } else {
                format!(
                    "{} prompt tokens ({} cached), first token {:.0} ms, {} tokens in {:.0} ms",
                    t.prompt_tokens,
                    t.reused_tokens,
                    t.first_token_ms,
                    t.generated_tokens,
                    t.total_ms
                )
            };
            let voice = voice.as_deref().unwrap_or("base model");
            session
                .log(
                    MessageType::LOG,
                    format!("voicetune: suggestion ({voice}): {how}"),
                )
                .await;
            Some(suggestion)
        }
        Some(Ok(None)) => None,
        Some(Err(e)) => {
            report(session, &e).await;
            None
        }
        None => {
            session
                .log(
                    MessageType::ERROR,
                    "voicetune: ghostwriting failed: internal error",
                )
                .await;
            None
        }
    }
}

async fn report(session: &Session, error: &GhostError) {
    if error.is_settings_problem() {
        show_once(session, &error.to_string()).await;
    } else {
        session
            .log(
                MessageType::WARNING,
                format!("voicetune: ghostwriting failed: {error}"),
            )
            .await;
    }
}

async fn show_once(session: &Session, problem: &str) {
    if session.ghost.first_report(problem) {
        session
            .client
            .show_message(MessageType::WARNING, format!("voicetune: {problem}"))
            .await;
    }
}
