//! The protocol face of the server: each message the client sends goes to its handler here,
//! one file per request or notification family, each a function of the [`Session`].
//!
//! - [`requests`]: `initialize`, `shutdown`, `textDocument/codeAction` (and resolve),
//!   `textDocument/hover`, `textDocument/codeLens`, `textDocument/inlineCompletion` and its
//!   `textDocument/completion` fallback, `workspace/executeCommand`;
//! - [`notifications`]: the document lifecycle, configuration changes and
//!   `window/workDoneProgress/cancel`;
//! - [`commands`]: one file per `workspace/executeCommand` command;
//! - [`background`]: the helper every long-running command uses (progress, cancel, the final
//!   message);
//! - [`ghostwrite`]: a suggestion at the cursor, shared by the two completion requests;
//! - [`capabilities`]: what `initialize` announces.
//!
//! Every handler runs through [`request`] or [`notification`], where a panic is caught
//! ([`crate::lsp::guard`]) and turned into an error reply or a log line.

pub mod background;
pub mod capabilities;
pub mod commands;
pub mod ghostwrite;
pub mod notifications;
pub mod requests;

use super::guard;
use super::session::{Closing, Session};
use super::transport::Frame;
use std::future::Future;
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

/// The `LanguageServer` that tower-lsp-server drives: routes each message to its handler.
pub struct Server {
    session: Session,
}

impl Server {
    /// A server that writes its `publishDiagnostics` straight into `output` (whole frames for
    /// stdout), see [`crate::lsp::session::Publisher`], and stops its work when `closing`
    /// closes.
    pub fn new(
        client: Client,
        output: Option<tokio::sync::mpsc::UnboundedSender<Frame>>,
        closing: Arc<Closing>,
    ) -> Server {
        Server {
            session: Session::new(client, output, closing),
        }
    }

    /// `window/workDoneProgress/cancel` (not routed by tower-lsp-server itself).
    pub async fn cancel_progress(&self, params: WorkDoneProgressCancelParams) {
        notification(
            &self.session,
            "window/workDoneProgress/cancel",
            notifications::work_done_progress_cancel::cancel(&self.session, params),
        )
        .await
    }

    /// `textDocument/inlineCompletion` (LSP 3.18, not routed by tower-lsp-server itself).
    pub async fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> Result<InlineCompletionList> {
        let s = &self.session;
        let handler = requests::inline_completion::inline_completion(s, params);
        request(s, "textDocument/inlineCompletion", handler).await
    }
}

/// Runs a request handler; a panic answers the request with an internal error.
async fn request<T>(
    session: &Session,
    method: &str,
    handler: impl Future<Output = Result<T>>,
) -> Result<T> {
    match guard::catching(handler).await {
        Some(result) => result,
        None => {
            internal_error(session, method).await;
            Err(Error::internal_error())
        }
    }
}

/// Runs a notification handler; a panic is logged.
async fn notification(session: &Session, method: &str, handler: impl Future<Output = ()>) {
    if guard::catching(handler).await.is_none() {
        internal_error(session, method).await;
    }
}

async fn internal_error(session: &Session, method: &str) {
    session
        .log(
            MessageType::ERROR,
            format!("voicetune: internal error handling {method}"),
        )
        .await;
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let s = &self.session;
        request(s, "initialize", requests::initialize::initialize(s, params)).await
    }

    async fn initialized(&self, params: InitializedParams) {
        let s = &self.session;
        let handler = notifications::initialized::initialized(s, params);
        notification(s, "initialized", handler).await
    }

    async fn shutdown(&self) -> Result<()> {
        let s = &self.session;
        request(s, "shutdown", requests::shutdown::shutdown(s)).await
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let s = &self.session;
        let handler = notifications::did_open::did_open(s, params);
        notification(s, "textDocument/didOpen", handler).await
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let s = &self.session;
        let handler = notifications::did_change::did_change(s, params);
        notification(s, "textDocument/didChange", handler).await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        let s = &self.session;
        let handler = notifications::did_save::did_save(s, params);
        notification(s, "textDocument/didSave", handler).await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let s = &self.session;
        let handler = notifications::did_close::did_close(s, params);
        notification(s, "textDocument/didClose", handler).await
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        let s = &self.session;
        let handler = notifications::did_change_configuration::did_change_configuration(s, params);
        notification(s, "workspace/didChangeConfiguration", handler).await
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        let s = &self.session;
        let handler = notifications::did_change_configuration::did_change_watched_files(s, params);
        notification(s, "workspace/didChangeWatchedFiles", handler).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let s = &self.session;
        let handler = requests::code_action::code_action(s, params);
        request(s, "textDocument/codeAction", handler).await
    }

    async fn code_action_resolve(&self, action: CodeAction) -> Result<CodeAction> {
        let s = &self.session;
        let handler = requests::code_action::code_action_resolve(s, action);
        request(s, "codeAction/resolve", handler).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let s = &self.session;
        request(s, "textDocument/hover", requests::hover::hover(s, params)).await
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let s = &self.session;
        let handler = requests::completion::completion(s, params);
        request(s, "textDocument/completion", handler).await
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let s = &self.session;
        let handler = requests::code_lens::code_lens(s, params);
        request(s, "textDocument/codeLens", handler).await
    }

    async fn execute_command(
        &self,
        params: ExecuteCommandParams,
    ) -> Result<Option<serde_json::Value>> {
        let s = &self.session;
        let handler = requests::execute_command::execute_command(s, params);
        request(s, "workspace/executeCommand", handler).await
    }
}
