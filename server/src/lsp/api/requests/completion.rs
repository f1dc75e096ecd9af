//! `textDocument/completion`, for clients without inline completion (announced only to them):
//! the ghostwritten continuation as one completion item, only where a new word starts.
//!
//! The cursor must follow a finished word and a space or tab on its line, with nothing but
//! whitespace after it on the line: the person paused between words at the end of what they
//! are writing. Anywhere else the answer is empty at once, without the model, so the item
//! never competes with other completion sources as a word is typed; and no trigger characters
//! are announced, so the client asks when the person asks (or when its own rules fire).

use crate::lsp::api::ghostwrite;
use crate::lsp::session::Session;
use std::sync::atomic::Ordering;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    CompletionItem, CompletionItemKind, CompletionList, CompletionParams, CompletionResponse,
    CompletionTextEdit, InsertTextFormat, Range, TextEdit,
};

/// Longest label shown in the menu (the whole text is inserted).
const LABEL_CHARS: usize = 60;

pub async fn completion(
    session: &Session,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    if session.ghost.inline_client.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let p = params.text_document_position;
    let uri = &p.text_document.uri;
    let Some(cursor) = ghostwrite::cursor_at(session, uri, p.position).await else {
        return Ok(None);
    };
    if !at_word_boundary(cursor.line_before(), cursor.line_after()) {
        return Ok(None);
    }
    let at = cursor.at;
    let token = params.work_done_progress_params.work_done_token;
    let Some(suggestion) = ghostwrite::suggest(session, uri, cursor, token).await else {
        return Ok(None);
    };
    let words = suggestion.text.trim();
    let label = match words.char_indices().nth(LABEL_CHARS) {
        Some((i, _)) => format!("{}…", &words[..i]),
        None => words.to_string(),
    };
    let item = CompletionItem {
        label,
        kind: Some(CompletionItemKind::TEXT),
        detail: Some("voicetune: ghostwritten".into()),
        sort_text: Some("0".into()),
        insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
            Range::new(at, at),
            suggestion.insert_text,
        ))),
        ..CompletionItem::default()
    };
    Ok(Some(CompletionResponse::List(CompletionList {
        is_incomplete: false,
        items: vec![item],
    })))
}

/// Whether a new word starts here: the line before the cursor is a word then spaces or tabs,
/// and only whitespace follows the cursor on its line.
pub fn at_word_boundary(before: &str, after: &str) -> bool {
    let words = before.trim_end_matches([' ', '\t']);
    words.len() < before.len() && !words.trim().is_empty() && after.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::at_word_boundary;

    #[test]
    fn only_after_a_finished_word_at_the_end_of_the_line() {
        assert!(at_word_boundary("I keep a ", ""));
        assert!(at_word_boundary("I keep a\t", "  "));
        assert!(!at_word_boundary("I keep a", ""), "inside a word");
        assert!(!at_word_boundary("I keep a ", "notebook"), "text follows");
        assert!(!at_word_boundary("   ", ""), "an empty line");
        assert!(!at_word_boundary("", ""));
    }
}
