//! `textDocument/didChange`: edits are applied to the document and re-linted line by line,
//! then published; a large document's dataset-wide rules follow once typing pauses.

use crate::lsp::document::Document;
use crate::lsp::guard;
use crate::lsp::memory::release_memory;
use crate::lsp::session::{Open, Publisher, Session, Slot};
use std::sync::Arc;
use tower_lsp_server::ls_types::{DidChangeTextDocumentParams, MessageType, Uri};

/// How long a large document's dataset rules wait for typing to pause.
const DATASET_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(50);

/// Changes touching more lines than this are applied on the blocking pool.
const INLINE_LINES: usize = 2_000;

pub async fn did_change(session: &Session, params: DidChangeTextDocumentParams) {
    let uri = params.text_document.uri;
    let Some(slot) = session.slot(&uri) else {
        session
            .log(
                MessageType::WARNING,
                format!(
                    "voicetune: change to a document that is not open: {}",
                    uri.as_str()
                ),
            )
            .await;
        return;
    };
    let generation = slot.next_generation();
    let mut state = slot.state.lock().await;
    let Some(open) = state.take() else { return };
    let version = params.text_document.version;
    let changes = params.content_changes;
    // Long lines or a whole-document lint go to the blocking pool, so that the request loop
    // (and the end of the session) is never stuck behind them.
    let big = changes.iter().any(|c| match c.range {
        None => true,
        Some(r) => r.end.line.saturating_sub(r.start.line) as usize > INLINE_LINES,
    }) || changes.iter().map(|c| c.text.len()).sum::<usize>() > 1 << 20
        || changes.iter().any(|c| open.doc.is_heavy_edit(c.range));
    let cancelled = session.superseded(&slot, generation);
    let apply = move |mut open: Open| {
        let opts = open.opts.clone();
        // Caught here, not by the handler: the text survives a failed edit, see below.
        let ok = guard::catch(|| {
            open.doc
                .apply_changes_until(&changes, version, &opts, &cancelled)
        })
        .is_some();
        (open, ok)
    };
    let (mut open, ok) = if big {
        match tokio::task::spawn_blocking(move || apply(open)).await {
            Ok(done) => done,
            Err(_) => return, // the document is dropped; the client can reopen it
        }
    } else {
        apply(open)
    };
    if !ok {
        // A panic mid-edit leaves the cache unknown: re-lint the text we hold.
        session
            .log(
                MessageType::ERROR,
                "voicetune: internal error applying an edit; re-linting",
            )
            .await;
        let opts = open.opts.clone();
        let text = open.doc.text();
        let (kind, encoding) = (open.doc.kind, open.doc.encoding);
        match guard::catch(|| Document::new(&text, kind, version, encoding, &opts)) {
            Some(doc) => open.doc = doc,
            None => return,
        }
    }
    open.generation = generation;
    session.publish(&uri, &slot, &open);
    if !open.doc.dataset_fresh() {
        schedule_dataset(session.publisher.clone(), uri, slot.clone(), &open);
    }
    *state = Some(open);
}

/// Runs the dataset-wide rules of a large document off the request loop, then publishes
/// again (unless the text changed meanwhile: the newer change schedules its own run).
fn schedule_dataset(publisher: Publisher, uri: Uri, slot: Arc<Slot>, open: &Open) {
    let (opts, generation) = (open.opts.clone(), open.generation);
    tokio::spawn(async move {
        // Let a burst of keystrokes settle before the expensive part.
        tokio::time::sleep(DATASET_DEBOUNCE).await;
        if !slot.is_latest(generation) {
            return;
        }
        let input = match slot.state.lock().await.as_ref() {
            Some(open) if open.generation == generation => open.doc.dataset_input(),
            _ => return,
        };
        let doc_generation = input.generation;
        // A panic in the rules ends the blocking task with an error: nothing is published.
        let computed = tokio::task::spawn_blocking(move || {
            let findings = input.findings(&opts);
            release_memory(); // the rules' transient tables
            findings
        })
        .await;
        let Ok(findings) = computed else { return };
        let mut guard = slot.state.lock().await;
        if let Some(open) = guard.as_mut() {
            if open.doc.generation == doc_generation
                && open.doc.set_dataset(doc_generation, findings)
            {
                publisher.publish(&uri, &slot, open);
            }
        }
    });
}
