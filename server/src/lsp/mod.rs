//! The language server: a thin tower-lsp-server face over [`crate::lint`] and the services.
//!
//! - [`document`]: open documents (ropey) with a per-line lint cache, re-linted incrementally;
//! - [`position`]: byte offsets <-> LSP positions (UTF-16 or negotiated UTF-8), clamped;
//! - [`diagnostics`], [`actions`], [`edits`]: findings -> diagnostics and code actions;
//! - [`info`]: hover, code lens and stats; [`commands`]: `workspace/executeCommand`
//!   (`local_commands`: `voicetune.trainLocal`; `remote_commands`: OpenAI fine-tunes);
//! - [`settings`]: `voicetune.toml` overlaid by the client's settings;
//! - [`backend`]: the `LanguageServer` wiring; [`transport`]: stdio framing that survives
//!   malformed messages.
//!
//! Logs go to the client (`window/logMessage`) or stderr; stdout carries only the protocol.

pub mod actions;
pub mod backend;
pub mod commands;
pub mod diagnostics;
pub mod document;
pub mod edits;
pub mod info;
mod local_commands;
pub mod position;
mod remote_commands;
pub mod settings;
pub mod transport;

use tower_lsp_server::{LspService, Server};

/// Runs the server on stdin/stdout until the client sends `exit` or closes stdin.
pub fn run_stdio() -> anyhow::Result<()> {
    backend::limit_malloc_arenas();
    // One thread runs the protocol (tower-lsp-server polls every handler inside one future
    // anyway) and the transport tasks, with no cross-thread wake-ups per message; heavy work
    // (opening a large file, dataset rules, fix-all) goes to the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (frames, queue) = tokio::sync::mpsc::unbounded_channel();
        let direct = frames.clone();
        let (service, socket) =
            LspService::build(move |client| backend::Backend::with_output(client, Some(direct)))
                .custom_method(
                    "window/workDoneProgress/cancel",
                    backend::Backend::cancel_progress,
                )
                .finish();
        // The server speaks to in-memory pipes; `transport` frames the real stdio around them.
        // 1 MiB buffers carry a large publishDiagnostics in one go rather than in 64 KiB turns.
        let (to_server, server_in) = tokio::io::duplex(1 << 20);
        let (server_out, from_server) = tokio::io::duplex(1 << 20);
        tokio::spawn(transport::filter_input(
            tokio::io::stdin(),
            to_server,
            frames.clone(),
        ));
        let pump = tokio::spawn(transport::pump_frames(from_server, frames.clone()));
        let writer = tokio::spawn(transport::write_frames(queue, tokio::io::stdout()));
        Server::new(server_in, server_out, socket)
            .serve(service)
            .await;
        // Everything the server wrote (the last response included) reaches stdout first.
        let _ = pump.await;
        let _ = frames.send(Vec::new());
        let _ = writer.await;
    });
    // Blocking tasks (a fix-all in flight) must not keep the process alive after `exit`.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}
