//! Publishing diagnostics.

use super::slot::{Open, Slot};
use crate::lsp::transport::{self, Frame};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc::UnboundedSender, oneshot, Notify};
use tower_lsp_server::ls_types::{notification, Diagnostic, PublishDiagnosticsParams, Uri};
use tower_lsp_server::Client;

/// Sends `publishDiagnostics`, one document's newest only: a publish queued while an older one
/// for the same document still waits replaces it, and one task hands them to the client one at
/// a time, waiting for each to be written. So a client that reads slowly holds at most one
/// waiting publish per document in the server, however many edits it sends meanwhile.
///
/// tower-lsp-server's `Client` first turns the params into a `serde_json::Value` tree (a map
/// per diagnostic) and then serializes that; in a large file with hundreds of diagnostics that
/// tree costs more than re-linting the edited line, so when the server runs on our stdio
/// transport the notification is serialized once, straight into an output frame.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    output: Option<UnboundedSender<Frame>>,
    waiting: Mutex<Waiting>,
    wake: Notify,
    sending: AtomicBool,
}

/// The newest unsent diagnostics of each document, documents in the order they first waited.
#[derive(Default)]
struct Waiting {
    newest: HashMap<Uri, PublishDiagnosticsParams>,
    order: VecDeque<Uri>,
}

impl Waiting {
    fn push(&mut self, params: PublishDiagnosticsParams) {
        let uri = params.uri.clone();
        if self.newest.insert(uri.clone(), params).is_none() {
            self.order.push_back(uri);
        }
    }

    fn pop(&mut self) -> Option<PublishDiagnosticsParams> {
        let uri = self.order.pop_front()?;
        self.newest.remove(&uri)
    }
}

impl Publisher {
    pub fn new(client: Client, output: Option<UnboundedSender<Frame>>) -> Publisher {
        Publisher {
            inner: Arc::new(Inner {
                client,
                output,
                waiting: Mutex::default(),
                wake: Notify::new(),
                sending: AtomicBool::new(false),
            }),
        }
    }

    /// Queues the diagnostics of `uri`, replacing any of its own not sent yet.
    pub fn publish_diagnostics(
        &self,
        uri: Uri,
        diagnostics: Vec<Diagnostic>,
        version: Option<i32>,
    ) {
        if let Ok(mut waiting) = self.inner.waiting.lock() {
            waiting.push(PublishDiagnosticsParams {
                uri,
                diagnostics,
                version,
            });
        }
        // The sending task starts with the first publish (always inside the runtime).
        if !self.inner.sending.swap(true, Ordering::SeqCst) {
            tokio::spawn(send_waiting(self.inner.clone()));
        }
        self.inner.wake.notify_one();
    }

    /// Publishes the diagnostics of an open document, unless it was closed or a newer change
    /// is queued (that change publishes).
    pub fn publish(&self, uri: &Uri, slot: &Slot, open: &Open) {
        if slot.is_closed() || !slot.is_latest(open.generation) {
            return;
        }
        let file = match &open.path {
            Some(path) => path.display().to_string(),
            None => uri.as_str().to_string(),
        };
        let diagnostics = open.doc.diagnostics(&file);
        self.publish_diagnostics(uri.clone(), diagnostics, Some(open.doc.version));
    }
}

/// Hands the waiting publishes to the client one at a time, for as long as the server runs.
async fn send_waiting(inner: Arc<Inner>) {
    loop {
        let next = inner.waiting.lock().ok().and_then(|mut w| w.pop());
        let Some(params) = next else {
            inner.wake.notified().await;
            continue;
        };
        let Some(output) = &inner.output else {
            inner
                .client
                .publish_diagnostics(params.uri, params.diagnostics, params.version)
                .await;
            continue;
        };
        let Some(bytes) = transport::notification_frame(
            <notification::PublishDiagnostics as notification::Notification>::METHOD,
            &params,
        ) else {
            continue;
        };
        drop(params);
        let (written, was_written) = oneshot::channel();
        let frame = Frame {
            bytes,
            written: Some(written),
        };
        if output.send(frame).is_ok() {
            // Err too once the writer is gone: nothing waits for a client that left.
            let _ = was_written.await;
        }
    }
}
