//! `textDocument/didOpen`: a dataset or draft is read and linted (on the blocking pool: it may
//! be large) and its diagnostics published.

use crate::dataset::FileKind;
use crate::lsp::document::Document;
use crate::lsp::memory::release_memory;
use crate::lsp::session::{Open, Session, Slot};
use crate::lsp::transport;
use std::sync::Arc;
use tower_lsp_server::ls_types::{DidOpenTextDocumentParams, MessageType, Uri};

pub async fn did_open(session: &Session, params: DidOpenTextDocumentParams) {
    let item = params.text_document;
    let Some(kind) = kind_of(&item.uri, &item.language_id) else {
        return; // not a file we lint
    };
    // A `.json` file is a dataset when it holds an array of records; a `package.json` or any
    // other object is left alone. (Very large texts arrive separately and are linted.)
    let trimmed = item.text.trim_start_matches('\u{feff}').trim_start();
    if kind == FileKind::Json && !trimmed.is_empty() && !trimmed.starts_with('[') {
        return;
    }
    // Register the slot and take its lock before any await, so that changes sent right
    // after the open queue behind it.
    let slot = Arc::new(Slot::new());
    let Ok(mut guard) = slot.state.try_lock() else {
        return;
    };
    session.insert_slot(item.uri.clone(), slot.clone());
    let path = item.uri.to_file_path().map(|p| p.into_owned());
    let opts = session.options_for(path.as_deref()).await;
    let encoding = session.encoding();
    let worker_opts = opts.clone();
    let text = match item.text.is_empty() {
        true => transport::take_large_text(item.uri.as_str(), item.version).unwrap_or_default(),
        false => item.text,
    };
    // A newer change or the end of the session stops the lint between lines; the change
    // then lints the whole text.
    let cancelled = session.superseded(&slot, 1);
    // A panic while linting ends the blocking task with an error: reported below.
    let built = tokio::task::spawn_blocking(move || {
        let large = text.len() > 1 << 20;
        let doc = Document::new_until(
            &text,
            kind,
            item.version,
            encoding,
            &worker_opts,
            &cancelled,
        );
        drop(text);
        if large {
            release_memory();
        }
        doc
    })
    .await;
    match built {
        Ok(doc) => {
            let open = Open {
                doc,
                opts,
                path,
                generation: 1,
            };
            session.publish(&item.uri, &slot, &open);
            *guard = Some(open);
        }
        Err(_) => {
            session
                .log(
                    MessageType::ERROR,
                    format!("voicetune: could not lint {}", item.uri.as_str()),
                )
                .await
        }
    }
}

fn kind_of(uri: &Uri, language_id: &str) -> Option<FileKind> {
    let by_path = uri
        .to_file_path()
        .and_then(|p| FileKind::from_path(p.as_ref()))
        .or_else(|| FileKind::from_path(std::path::Path::new(uri.path().as_str())));
    by_path.or(match language_id {
        "jsonl" | "ndjson" => Some(FileKind::Jsonl),
        "markdown" | "mdx" => Some(FileKind::Markdown),
        "json" => Some(FileKind::Json),
        _ => None,
    })
}
