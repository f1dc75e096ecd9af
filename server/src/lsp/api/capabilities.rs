//! What the server announces in its `initialize` reply.

use crate::lsp::actions;
use crate::lsp::commands;
use crate::lsp::position::Encoding;
use tower_lsp_server::ls_types::*;

/// Our capabilities, for a client that speaks `encoding` and shows inline completions or not
/// (the `textDocument/completion` fallback is announced only to a client that does not).
pub fn server_capabilities(encoding: Encoding, inline_client: bool) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![
                CodeActionKind::QUICKFIX,
                CodeActionKind::SOURCE_FIX_ALL,
                CodeActionKind::new(actions::FIX_ALL_KIND),
            ]),
            resolve_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_lens_provider: Some(CodeLensOptions {
            resolve_provider: Some(false),
        }),
        inline_completion_provider: Some(OneOf::Left(true)),
        // No trigger characters: the client asks when the person does.
        completion_provider: (!inline_client).then(CompletionOptions::default),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: commands::ALL.iter().map(|c| c.to_string()).collect(),
            work_done_progress_options: WorkDoneProgressOptions {
                work_done_progress: Some(true),
            },
        }),
        ..ServerCapabilities::default()
    }
}

/// The `serverInfo` of the `initialize` reply.
pub fn server_info() -> ServerInfo {
    ServerInfo {
        name: "voicetune".into(),
        version: Some(env!("CARGO_PKG_VERSION").into()),
    }
}
