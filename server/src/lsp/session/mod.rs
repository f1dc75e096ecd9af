//! The server's state: open documents, settings, what the client can do, the workspace folder
//! and the long-running jobs that can be cancelled. The handlers (`api`) read and change
//! it; nothing here knows about handlers.
//!
//! - [`slot`]: one open document and the ordering of work on it;
//! - [`publisher`]: `publishDiagnostics`, serialized once straight into an output frame;
//! - [`jobs`]: progress tokens and cancel flags of long-running work;
//! - [`ghost`]: the ghostwriting service, the chosen voice and the newest suggestion request
//!   of each document;
//! - [`closing`]: the end of the session, which stops work in flight.

pub mod closing;
pub mod ghost;
pub mod jobs;
pub mod publisher;
pub mod slot;

pub use closing::Closing;
pub use ghost::Ghosting;
pub use jobs::Jobs;
pub use publisher::Publisher;
pub use slot::{Open, Slot};

use super::actions::Snapshot;
use super::position::Encoding;
use super::settings::Settings;
use crate::lint::LintOptions;
use crate::lsp::transport::Frame;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageType, Uri};
use tower_lsp_server::Client;

pub struct Session {
    pub client: Client,
    pub publisher: Publisher,
    docs: Mutex<HashMap<Uri, Arc<Slot>>>,
    pub settings: Mutex<Settings>,
    pub encoding: Mutex<Encoding>,
    /// Whether the client can show `$/progress` we start (`window.workDoneProgress`).
    pub progress: AtomicBool,
    /// Whether the client lets us register a file watcher for `voicetune.toml`.
    pub watch_dynamic: AtomicBool,
    pub jobs: Arc<Jobs>,
    pub ghost: Arc<Ghosting>,
    /// The workspace folder (from `initialize`), where commands resolve relative paths.
    pub root: Mutex<Option<PathBuf>>,
    /// Set when the client is gone: whole-document lints stop between lines.
    pub closing: Arc<Closing>,
}

impl Session {
    /// A session that writes its `publishDiagnostics` straight into `output` (whole frames for
    /// stdout), see [`Publisher`]. When `closing` closes, running jobs and suggestions are
    /// cancelled and whole-document lints stop.
    pub fn new(
        client: Client,
        output: Option<tokio::sync::mpsc::UnboundedSender<Frame>>,
        closing: Arc<Closing>,
    ) -> Session {
        let jobs = Arc::new(Jobs::new());
        let ghost: Arc<Ghosting> = Arc::default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (jobs, ghost, closing) = (jobs.clone(), ghost.clone(), closing.clone());
            runtime.spawn(async move {
                closing.closed().await;
                jobs.cancel_all();
                ghost.cancel_all();
            });
        }
        Session {
            publisher: Publisher::new(client.clone(), output),
            client,
            docs: Mutex::default(),
            settings: Mutex::default(),
            encoding: Mutex::default(),
            progress: AtomicBool::new(false),
            watch_dynamic: AtomicBool::new(false),
            jobs,
            ghost,
            root: Mutex::default(),
            closing,
        }
    }

    /// Whether work on the document in `slot` at `generation` is no longer wanted: a newer
    /// change is queued, or the session is ending. Checked between lines of a whole lint.
    pub fn superseded(&self, slot: &Arc<Slot>, generation: u64) -> impl Fn() -> bool + Sync + Send {
        let (slot, closing) = (slot.clone(), self.closing.clone());
        move || !slot.is_latest(generation) || closing.is_closed()
    }

    pub fn slot(&self, uri: &Uri) -> Option<Arc<Slot>> {
        self.docs.lock().ok()?.get(uri).cloned()
    }

    /// Makes `slot` the document at `uri`; a slot it replaces (a re-open) stops publishing.
    pub fn insert_slot(&self, uri: Uri, slot: Arc<Slot>) {
        if let Ok(mut docs) = self.docs.lock() {
            if let Some(old) = docs.insert(uri, slot) {
                old.close();
            }
        }
    }

    pub fn remove_slot(&self, uri: &Uri) -> Option<Arc<Slot>> {
        self.docs.lock().ok().and_then(|mut d| d.remove(uri))
    }

    /// Every open document.
    pub fn slots(&self) -> Vec<(Uri, Arc<Slot>)> {
        match self.docs.lock() {
            Ok(docs) => docs.iter().map(|(u, s)| (u.clone(), s.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding.lock().map(|e| *e).unwrap_or_default()
    }

    /// Whether the client shows progress we start ourselves.
    pub fn shows_progress(&self) -> bool {
        self.progress.load(Ordering::Relaxed)
    }

    /// Lint options for a document path; config errors are shown to the user (once each).
    pub async fn options_for(&self, path: Option<&Path>) -> Arc<LintOptions> {
        let (opts, errors) = match self.settings.lock() {
            Ok(mut s) => s.options_for(path),
            Err(_) => (Arc::new(LintOptions::new(&Default::default())), Vec::new()),
        };
        for e in errors {
            self.client
                .show_message(MessageType::ERROR, format!("voicetune: {e}"))
                .await;
        }
        opts
    }

    pub fn publish(&self, uri: &Uri, slot: &Slot, open: &Open) {
        self.publisher.publish(uri, slot, open);
    }

    pub async fn log(&self, typ: MessageType, message: impl std::fmt::Display) {
        self.client.log_message(typ, message).await;
    }

    /// A snapshot of an open document and its lint options, for work off the request loop.
    pub async fn snapshot(&self, uri: &Uri) -> Result<(Snapshot, Arc<LintOptions>)> {
        let not_open = || Error::invalid_params("the document is not open");
        let slot = self.slot(uri).ok_or_else(not_open)?;
        let guard = slot.state.lock().await;
        let open = guard.as_ref().ok_or_else(not_open)?;
        Ok((Snapshot::of(&open.doc, uri), open.opts.clone()))
    }

    /// The workspace folder: the client's root, else the server's working directory.
    pub fn workspace_root(&self) -> PathBuf {
        self.root
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default()
    }
}
