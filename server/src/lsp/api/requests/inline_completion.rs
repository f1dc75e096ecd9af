//! `textDocument/inlineCompletion` (LSP 3.18): the next words of a markdown draft or of a JSONL
//! assistant message, in the active voice, as one item inserted at the cursor (an empty range
//! there). Nothing to suggest, a cancelled or superseded request, or a settings problem (shown
//! once) answer with an empty list; see [`crate::lsp::api::ghostwrite`].
//!
//! With `[completion] learn = true`, a markdown draft's item carries the command
//! `voicetune.acceptSuggestion` with `{ uri, position, text, voice }`, which the client runs
//! once the user accepted it ([`crate::lsp::api::commands::accept_suggestion`]).

use crate::lsp::api::ghostwrite;
use crate::lsp::commands::ACCEPT_SUGGESTION;
use crate::lsp::session::Session;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{
    Command, InlineCompletionItem, InlineCompletionList, InlineCompletionParams, InsertTextFormat,
    Range,
};

pub async fn inline_completion(
    session: &Session,
    params: InlineCompletionParams,
) -> Result<InlineCompletionList> {
    let p = params.text_document_position;
    let uri = &p.text_document.uri;
    let token = params.work_done_progress_params.work_done_token;
    let mut items = Vec::new();
    if let Some(cursor) = ghostwrite::cursor_at(session, uri, p.position).await {
        let at = cursor.at;
        let learns = cursor.learns();
        let voice = cursor.request.voice.clone();
        if let Some(suggestion) = ghostwrite::suggest(session, uri, cursor, token).await {
            let command = learns.then(|| Command {
                title: "Accept suggestion".into(),
                command: ACCEPT_SUGGESTION.into(),
                arguments: Some(vec![serde_json::json!({
                    "uri": uri.as_str(),
                    "position": at,
                    "text": suggestion.text,
                    "voice": voice,
                })]),
            });
            items.push(InlineCompletionItem {
                insert_text: suggestion.insert_text,
                filter_text: None,
                range: Some(Range::new(at, at)),
                command,
                insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
            });
        }
    }
    Ok(InlineCompletionList { items })
}
