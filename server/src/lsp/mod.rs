//! The language server: a thin tower-lsp-server face over [`crate::lint`] and the services.
//!
//! Layers, each importing only the ones above it:
//! - pure modules over a document: [`document`] (ropey, with a per-line lint cache, re-linted
//!   incrementally), [`position`] (byte offsets <-> LSP positions, UTF-16 or negotiated
//!   UTF-8, clamped), [`diagnostics`], [`actions`], [`edits`] (findings -> diagnostics and code
//!   actions), [`info`] (hover, code lens and stats), [`settings`] (`voicetune.toml` overlaid
//!   by the client's settings), [`commands`] (the command names); and the leaves [`guard`]
//!   (the one place panics are caught), [`memory`] (allocator tuning), [`transport`] (stdio
//!   framing that survives malformed messages);
//! - [`session`]: the server's state (open documents and the order of work on them,
//!   publishing, jobs and their cancel flags), which imports nothing of the handlers;
//! - [`api`]: the handlers, one file per request or notification family, the
//!   `workspace/executeCommand` commands, and the helper for long-running work.
//!
//! Logs go to the client (`window/logMessage`) or stderr; stdout carries only the protocol.

pub mod actions;
pub mod api;
pub mod commands;
pub mod diagnostics;
pub mod document;
pub mod edits;
pub mod guard;
pub mod info;
mod memory;
pub mod position;
pub mod session;
pub mod settings;
pub mod transport;

use session::Closing;
use std::sync::Arc;
use std::time::Duration;
use tower_lsp_server::{LspService, Server};

/// How long work in flight gets to stop after the client closed our input or said `exit`
/// (whole-document lints stop between lines; a single huge line cannot be interrupted), and
/// how long the last frames get to reach stdout. Then the process exits regardless.
const CLOSING_GRACE: Duration = Duration::from_secs(2);

/// Runs the server on stdin/stdout until the client sends `exit` or closes stdin; either one
/// cancels the work in flight, and the process exits within [`CLOSING_GRACE`] of it.
pub fn run_stdio() -> anyhow::Result<()> {
    memory::limit_malloc_arenas();
    // One thread runs the protocol (tower-lsp-server polls every handler inside one future
    // anyway) and the transport tasks, with no cross-thread wake-ups per message; heavy work
    // (opening a large file, dataset rules, fix-all) goes to the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (frames, queue) = tokio::sync::mpsc::unbounded_channel();
        let direct = frames.clone();
        let closing = Arc::new(Closing::new());
        let server_closing = closing.clone();
        let (service, socket) =
            LspService::build(move |client| api::Server::new(client, Some(direct), server_closing))
                .custom_method(
                    "window/workDoneProgress/cancel",
                    api::Server::cancel_progress,
                )
                .custom_method(
                    "textDocument/inlineCompletion",
                    api::Server::inline_completion,
                )
                .finish();
        // The server speaks to in-memory pipes; `transport` frames the real stdio around them.
        // 1 MiB buffers carry a large publishDiagnostics in one go rather than in 64 KiB turns.
        let (to_server, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, from_server) = tokio::io::duplex(1 << 20);
        let input_closing = closing.clone();
        tokio::spawn(transport::filter_input(
            tokio::io::stdin(),
            to_server,
            frames.clone(),
            move || input_closing.close(),
        ));
        let pump = tokio::spawn(transport::pump_frames(from_server, frames.clone()));
        let writer = tokio::spawn(transport::write_frames(queue, tokio::io::stdout()));
        // tower-lsp-server waits for every handler in flight once its input ends; those stop
        // when `closing` closes, and any that cannot are left behind after the grace period.
        tokio::select! {
            _ = Server::new(server_in, server_out, socket).serve(service) => {}
            _ = async {
                closing.closed().await;
                tokio::time::sleep(CLOSING_GRACE).await;
            } => {}
        }
        // Everything the server wrote (the last response included) reaches stdout first,
        // unless nobody reads it any more.
        let _ = tokio::time::timeout(CLOSING_GRACE, async {
            let _ = pump.await;
            let _ = frames.send(Vec::new().into());
            let _ = writer.await;
        })
        .await;
    });
    // Blocking tasks (a fix-all or a lint in flight) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}
