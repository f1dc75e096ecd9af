//! The language server: a thin tower-lsp-server face over [`crate::lint`] and the services.
//!
//! - [`document`]: open documents (ropey) with a per-line lint cache, re-linted incrementally;
//! - [`position`]: byte offsets <-> LSP positions (UTF-16 or negotiated UTF-8), clamped;
//! - [`diagnostics`], [`actions`], [`edits`]: findings -> diagnostics and code actions;
//! - [`info`]: hover, code lens and stats; [`commands`]: `workspace/executeCommand`;
//! - [`settings`]: `voicetune.toml` overlaid by the client's settings;
//! - [`backend`]: the `LanguageServer` wiring.
//!
//! Logs go to the client (`window/logMessage`) or stderr; stdout carries only the protocol.

pub mod actions;
pub mod backend;
pub mod commands;
pub mod diagnostics;
pub mod document;
pub mod edits;
pub mod info;
pub mod position;
pub mod settings;

use tower_lsp_server::{LspService, Server};

/// Runs the server on stdin/stdout until the client sends `exit` or closes stdin.
pub fn run_stdio() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (service, socket) = LspService::build(backend::Backend::new)
            .custom_method(
                "window/workDoneProgress/cancel",
                backend::Backend::cancel_progress,
            )
            .finish();
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
            .serve(service)
            .await;
    });
    // Blocking tasks (a fix-all in flight) must not keep the process alive after `exit`.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}
