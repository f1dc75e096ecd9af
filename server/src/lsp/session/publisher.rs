//! Publishing diagnostics.

use super::slot::{Open, Slot};
use crate::lsp::transport;
use tower_lsp_server::ls_types::{notification, Diagnostic, PublishDiagnosticsParams, Uri};
use tower_lsp_server::Client;

/// Sends `publishDiagnostics`. tower-lsp-server's `Client` first turns the params into a
/// `serde_json::Value` tree (a map per diagnostic) and then serializes that; in a large file
/// with hundreds of diagnostics that tree costs more than re-linting the edited line, so when
/// the server runs on our stdio transport the notification is serialized once, straight into
/// an output frame. Every publish takes the same path, so publishes stay in order.
#[derive(Clone)]
pub struct Publisher {
    client: Client,
    output: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
}

impl Publisher {
    pub fn new(
        client: Client,
        output: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    ) -> Publisher {
        Publisher { client, output }
    }

    pub async fn publish_diagnostics(
        &self,
        uri: Uri,
        diagnostics: Vec<Diagnostic>,
        version: Option<i32>,
    ) {
        let Some(output) = &self.output else {
            return self
                .client
                .publish_diagnostics(uri, diagnostics, version)
                .await;
        };
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        if let Some(frame) = transport::notification_frame(
            <notification::PublishDiagnostics as notification::Notification>::METHOD,
            &params,
        ) {
            let _ = output.send(frame);
        }
    }

    /// Publishes the diagnostics of an open document, unless it was closed or a newer change
    /// is queued (that change publishes).
    pub async fn publish(&self, uri: &Uri, slot: &Slot, open: &Open) {
        if slot.is_closed() || !slot.is_latest(open.generation) {
            return;
        }
        let file = match &open.path {
            Some(path) => path.display().to_string(),
            None => uri.as_str().to_string(),
        };
        let diagnostics = open.doc.diagnostics(&file);
        self.publish_diagnostics(uri.clone(), diagnostics, Some(open.doc.version))
            .await;
    }
}
