//! One open document, and the order in which work on it happens.
//!
//! tower-lsp-server polls handlers concurrently, so each document sits behind a fair (FIFO)
//! async mutex that handlers queue on in the order their messages arrived; each change also
//! bumps the document's `requested` generation before queuing, and a handler publishes only if
//! no newer change is waiting, so a stale result is never published over a newer one (and a
//! burst of keystrokes publishes once). Work on a whole large file (open, config change,
//! fix-all) runs on the blocking pool, so the request loop keeps going.

use crate::lint::LintOptions;
use crate::lsp::document::Document;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One open document.
pub struct Slot {
    /// Generation of the newest change received (bumped before queuing on `state`).
    requested: AtomicU64,
    /// Set by didClose (or a re-open): late results for this slot are not published.
    closed: AtomicBool,
    pub state: tokio::sync::Mutex<Option<Open>>,
}

impl Slot {
    /// A slot for a document being opened: generation 1, its state still to come.
    pub fn new() -> Slot {
        Slot {
            requested: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            state: tokio::sync::Mutex::new(None),
        }
    }

    /// Claims the next generation for a change about to queue on `state`.
    pub fn next_generation(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether `generation` is the newest change received (nothing newer waits).
    pub fn is_latest(&self, generation: u64) -> bool {
        self.requested.load(Ordering::SeqCst) == generation
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

/// The state of an open document.
pub struct Open {
    pub doc: Document,
    pub opts: Arc<LintOptions>,
    pub path: Option<PathBuf>,
    /// The generation this state reflects.
    pub generation: u64,
}
