//! The `LanguageServer` implementation: document lifecycle, publishing, and dispatch to the
//! pure modules.
//!
//! Ordering: tower-lsp-server polls handlers concurrently, so each document sits behind a fair
//! (FIFO) async mutex that handlers queue on in the order their messages arrived; each change
//! also bumps the document's `requested` generation before queuing, and a handler publishes
//! only if no newer change is waiting, so a stale result is never published over a newer one
//! (and a burst of keystrokes publishes once). Work on a whole large file (open, config
//! change, fix-all) runs on the blocking pool, so the request loop keeps going.

use super::actions::{self, Snapshot};
use super::commands;
use super::document::Document;
use super::info;
use super::position::Encoding;
use super::settings::Settings;
use crate::dataset::FileKind;
use crate::lint::LintOptions;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

/// How long a large document's dataset rules wait for typing to pause.
const DATASET_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(50);

/// Changes touching more lines than this are applied on the blocking pool.
const INLINE_LINES: usize = 2_000;

pub struct Backend {
    pub(super) client: Client,
    publisher: Publisher,
    pub(super) docs: Mutex<HashMap<Uri, Arc<Slot>>>,
    pub(super) settings: Mutex<Settings>,
    pub(super) encoding: Mutex<Encoding>,
    /// Whether the client can show `$/progress` we start (`window.workDoneProgress`).
    pub(super) progress: AtomicBool,
    watch_dynamic: AtomicBool,
    pub(super) cancels: Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>,
    pub(super) next_token: AtomicU64,
    /// The workspace folder (from `initialize`), where commands resolve relative paths.
    pub(super) root: Mutex<Option<PathBuf>>,
}

/// One open document.
pub struct Slot {
    /// Generation of the newest change received (bumped before queuing on `state`).
    requested: AtomicU64,
    /// Set by didClose (or a re-open): late results for this slot are not published.
    closed: AtomicBool,
    pub(super) state: tokio::sync::Mutex<Option<Open>>,
}

pub struct Open {
    pub doc: Document,
    pub opts: Arc<LintOptions>,
    pub path: Option<PathBuf>,
    /// The generation this state reflects.
    generation: u64,
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend::with_output(client, None)
    }

    /// A backend that writes its `publishDiagnostics` straight into `output` (whole frames for
    /// stdout), see [`Publisher`].
    pub fn with_output(
        client: Client,
        output: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    ) -> Backend {
        Backend {
            publisher: Publisher {
                client: client.clone(),
                output,
            },
            client,
            docs: Mutex::default(),
            settings: Mutex::default(),
            encoding: Mutex::default(),
            progress: AtomicBool::new(false),
            watch_dynamic: AtomicBool::new(false),
            cancels: Arc::default(),
            next_token: AtomicU64::new(1),
            root: Mutex::default(),
        }
    }

    pub(super) fn slot(&self, uri: &Uri) -> Option<Arc<Slot>> {
        self.docs.lock().ok()?.get(uri).cloned()
    }

    /// Lint options for a document path; config errors are shown to the user (once each).
    pub(super) async fn options_for(&self, path: Option<&std::path::Path>) -> Arc<LintOptions> {
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

    async fn publish(&self, uri: &Uri, slot: &Slot, open: &Open) {
        publish(&self.publisher, uri, slot, open).await;
    }

    /// Runs the dataset-wide rules of a large document off the request loop, then publishes
    /// again (unless the text changed meanwhile: the newer change schedules its own run).
    fn schedule_dataset(&self, uri: Uri, slot: Arc<Slot>, open: &Open) {
        let (opts, generation) = (open.opts.clone(), open.generation);
        let publisher = self.publisher.clone();
        tokio::spawn(async move {
            // Let a burst of keystrokes settle before the expensive part.
            tokio::time::sleep(DATASET_DEBOUNCE).await;
            if slot.requested.load(Ordering::SeqCst) != generation {
                return;
            }
            let input = match slot.state.lock().await.as_ref() {
                Some(open) if open.generation == generation => open.doc.dataset_input(),
                _ => return,
            };
            let doc_generation = input.generation;
            let computed = tokio::task::spawn_blocking(move || {
                let findings = catch_unwind(AssertUnwindSafe(|| input.findings(&opts))).ok();
                release_memory(); // the rules' transient tables
                findings
            })
            .await;
            let Ok(Some(findings)) = computed else { return };
            let mut guard = slot.state.lock().await;
            if let Some(open) = guard.as_mut() {
                if open.doc.generation == doc_generation
                    && open.doc.set_dataset(doc_generation, findings)
                {
                    publish(&publisher, &uri, &slot, open).await;
                }
            }
        });
    }

    pub(super) async fn log(&self, typ: MessageType, message: impl std::fmt::Display) {
        self.client.log_message(typ, message).await;
    }

    /// Re-reads settings for every open document, re-lints and republishes.
    async fn reload_all(&self) {
        if let Ok(mut s) = self.settings.lock() {
            s.invalidate();
        }
        let slots: Vec<(Uri, Arc<Slot>)> = match self.docs.lock() {
            Ok(docs) => docs.iter().map(|(u, s)| (u.clone(), s.clone())).collect(),
            Err(_) => return,
        };
        for (uri, slot) in slots {
            let generation = slot.requested.fetch_add(1, Ordering::SeqCst) + 1;
            let mut guard = slot.state.lock().await;
            let Some(mut open) = guard.take() else {
                continue;
            };
            open.opts = self.options_for(open.path.as_deref()).await;
            let opts = open.opts.clone();
            let relinted = tokio::task::spawn_blocking(move || {
                let ok = catch_unwind(AssertUnwindSafe(|| open.doc.relint_all(&opts))).is_ok();
                (open, ok)
            })
            .await;
            match relinted {
                Ok((mut open, ok)) => {
                    if !ok {
                        self.log(MessageType::ERROR, "voicetune: re-lint failed")
                            .await;
                    }
                    open.generation = generation;
                    self.publish(&uri, &slot, &open).await;
                    *guard = Some(open);
                }
                Err(e) => {
                    self.log(
                        MessageType::ERROR,
                        format!("voicetune: re-lint failed: {e}"),
                    )
                    .await
                }
            }
        }
    }

    /// `window/workDoneProgress/cancel` (not routed by tower-lsp-server itself).
    pub async fn cancel_progress(&self, params: WorkDoneProgressCancelParams) {
        let key = token_key(&params.token);
        if let Some(flag) = self.cancels.lock().ok().and_then(|c| c.get(&key).cloned()) {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// Sends `publishDiagnostics`. tower-lsp-server's `Client` first turns the params into a
/// `serde_json::Value` tree (a map per diagnostic) and then serializes that; in a large file
/// with hundreds of diagnostics that tree costs more than re-linting the edited line, so when
/// the server runs on our stdio transport the notification is serialized once, straight into
/// an output frame. Every publish takes the same path, so publishes stay in order.
#[derive(Clone)]
pub(super) struct Publisher {
    client: Client,
    output: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
}

impl Publisher {
    async fn publish_diagnostics(
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
        if let Some(frame) = super::transport::notification_frame(
            <notification::PublishDiagnostics as notification::Notification>::METHOD,
            &params,
        ) {
            let _ = output.send(frame);
        }
    }
}

async fn publish(publisher: &Publisher, uri: &Uri, slot: &Slot, open: &Open) {
    if slot.closed.load(Ordering::SeqCst) {
        return;
    }
    if slot.requested.load(Ordering::SeqCst) != open.generation {
        return; // a newer change is queued and will publish
    }
    let diagnostics = open.doc.diagnostics();
    publisher
        .publish_diagnostics(uri.clone(), diagnostics, Some(open.doc.version))
        .await;
}

/// Returns freed heap memory to the OS after a large document was read and linted: the
/// message, its copies and the parse trees are gone, but glibc keeps the pages otherwise.
pub(super) fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Two malloc arenas instead of one per thread: the blocking pool's threads would each keep
/// their own arena of freed pages after a dataset pass on a large file.
pub(super) fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator tunable; called before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

pub(super) fn token_key(token: &ProgressToken) -> String {
    serde_json::to_string(token).unwrap_or_default()
}

fn kind_of(uri: &Uri, language_id: &str) -> Option<FileKind> {
    let by_path = uri
        .to_file_path()
        .and_then(|p| FileKind::from_path(p.as_ref()))
        .or_else(|| FileKind::from_path(std::path::Path::new(uri.path().as_str())));
    by_path.or(match language_id {
        "jsonl" | "ndjson" => Some(FileKind::Jsonl),
        "markdown" | "mdx" => Some(FileKind::Markdown),
        _ => None,
    })
}

fn is_config_file(uri: &Uri) -> bool {
    uri.path().as_str().ends_with(crate::config::CONFIG_FILE)
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = Encoding::negotiate(
            params
                .capabilities
                .general
                .as_ref()
                .and_then(|g| g.position_encodings.as_deref()),
        );
        if let Ok(mut e) = self.encoding.lock() {
            *e = encoding;
        }
        let window = params.capabilities.window.as_ref();
        self.progress.store(
            window.and_then(|w| w.work_done_progress).unwrap_or(false),
            Ordering::Relaxed,
        );
        let watch = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.watch_dynamic.store(watch, Ordering::Relaxed);
        if let Ok(mut s) = self.settings.lock() {
            s.set_init(params.initialization_options);
        }
        #[allow(deprecated)] // root_uri: still what most clients send
        let root = params
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.uri.clone())
            .or(params.root_uri)
            .and_then(|uri| uri.to_file_path().map(|p| p.into_owned()));
        if let (Some(root), Ok(mut r)) = (root, self.root.lock()) {
            *r = Some(root);
        }
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "voicetune".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                position_encoding: Some(encoding.kind()),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![
                            CodeActionKind::QUICKFIX,
                            CodeActionKind::SOURCE_FIX_ALL,
                            CodeActionKind::new(actions::FIX_ALL_KIND),
                        ]),
                        resolve_provider: Some(true),
                        work_done_progress_options: WorkDoneProgressOptions::default(),
                    },
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: commands::ALL.iter().map(|c| c.to_string()).collect(),
                    work_done_progress_options: WorkDoneProgressOptions {
                        work_done_progress: Some(true),
                    },
                }),
                ..ServerCapabilities::default()
            },
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        if self.watch_dynamic.load(Ordering::Relaxed) {
            let watchers = serde_json::json!({
                "watchers": [{ "globPattern": format!("**/{}", crate::config::CONFIG_FILE) }]
            });
            let registration = Registration {
                id: "voicetune-config-watch".into(),
                method: "workspace/didChangeWatchedFiles".into(),
                register_options: Some(watchers),
            };
            if let Err(e) = self.client.register_capability(vec![registration]).await {
                self.log(
                    MessageType::WARNING,
                    format!("voicetune: cannot watch config: {e}"),
                )
                .await;
            }
        }
        self.log(MessageType::INFO, "voicetune language server ready")
            .await;
    }

    async fn shutdown(&self) -> Result<()> {
        for flag in self
            .cancels
            .lock()
            .map(|c| c.values().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            flag.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let item = params.text_document;
        let Some(kind) = kind_of(&item.uri, &item.language_id) else {
            return; // not a file we lint
        };
        // Register the slot and take its lock before any await, so that changes sent right
        // after the open queue behind it.
        let slot = Arc::new(Slot {
            requested: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            state: tokio::sync::Mutex::new(None),
        });
        let Ok(mut guard) = slot.state.try_lock() else {
            return;
        };
        if let Ok(mut docs) = self.docs.lock() {
            if let Some(old) = docs.insert(item.uri.clone(), slot.clone()) {
                old.closed.store(true, Ordering::SeqCst);
            }
        }
        let path = item.uri.to_file_path().map(|p| p.into_owned());
        let opts = self.options_for(path.as_deref()).await;
        let encoding = self.encoding.lock().map(|e| *e).unwrap_or_default();
        let worker_opts = opts.clone();
        let text = match item.text.is_empty() {
            true => super::transport::take_large_text(item.uri.as_str(), item.version)
                .unwrap_or_default(),
            false => item.text,
        };
        let built = tokio::task::spawn_blocking(move || {
            let large = text.len() > 1 << 20;
            let doc = catch_unwind(AssertUnwindSafe(|| {
                Document::new(&text, kind, item.version, encoding, &worker_opts)
            }));
            drop(text);
            if large {
                release_memory();
            }
            doc
        })
        .await;
        match built {
            Ok(Ok(doc)) => {
                let open = Open {
                    doc,
                    opts,
                    path,
                    generation: 1,
                };
                self.publish(&item.uri, &slot, &open).await;
                *guard = Some(open);
            }
            _ => {
                self.log(
                    MessageType::ERROR,
                    format!("voicetune: could not lint {}", item.uri.as_str()),
                )
                .await
            }
        }
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let Some(slot) = self.slot(&uri) else {
            self.log(
                MessageType::WARNING,
                format!(
                    "voicetune: change to a document that is not open: {}",
                    uri.as_str()
                ),
            )
            .await;
            return;
        };
        let generation = slot.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut guard = slot.state.lock().await;
        let Some(open) = guard.take() else { return };
        let version = params.text_document.version;
        let changes = params.content_changes;
        let big = changes.iter().any(|c| match c.range {
            None => true,
            Some(r) => r.end.line.saturating_sub(r.start.line) as usize > INLINE_LINES,
        }) || changes.iter().map(|c| c.text.len()).sum::<usize>() > 1 << 20;
        let apply = move |mut open: Open| {
            let opts = open.opts.clone();
            let ok = catch_unwind(AssertUnwindSafe(|| {
                open.doc.apply_changes(&changes, version, &opts)
            }))
            .is_ok();
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
            self.log(
                MessageType::ERROR,
                "voicetune: internal error applying an edit; re-linting",
            )
            .await;
            let opts = open.opts.clone();
            let text = open.doc.text();
            let (kind, encoding) = (open.doc.kind, open.doc.encoding);
            match catch_unwind(AssertUnwindSafe(|| {
                Document::new(&text, kind, version, encoding, &opts)
            })) {
                Ok(doc) => open.doc = doc,
                Err(_) => return,
            }
        }
        open.generation = generation;
        self.publish(&uri, &slot, &open).await;
        if !open.doc.dataset_fresh() {
            self.schedule_dataset(uri, slot.clone(), &open);
        }
        *guard = Some(open);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        if is_config_file(&params.text_document.uri) {
            self.reload_all().await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        let removed = self.docs.lock().ok().and_then(|mut d| d.remove(&uri));
        if let Some(slot) = removed {
            slot.closed.store(true, Ordering::SeqCst);
            self.publisher
                .publish_diagnostics(uri, Vec::new(), None)
                .await;
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        if let Ok(mut s) = self.settings.lock() {
            s.set_changed(params.settings);
        }
        self.reload_all().await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        if params.changes.iter().any(|c| is_config_file(&c.uri)) {
            self.reload_all().await;
        }
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri;
        let Some(slot) = self.slot(&uri) else {
            return Ok(None);
        };
        let guard = slot.state.lock().await;
        let Some(open) = guard.as_ref() else {
            return Ok(None);
        };
        let mut out: Vec<CodeActionOrCommand> = catch_unwind(AssertUnwindSafe(|| {
            actions::quick_fixes(&open.doc, &uri, &params.context)
        }))
        .unwrap_or_default()
        .into_iter()
        .map(CodeActionOrCommand::CodeAction)
        .collect();
        let only = params.context.only.as_deref();
        if actions::wanted(only, actions::FIX_ALL_KIND) {
            let data = serde_json::json!({ "uri": uri.as_str() });
            // Asked for explicitly (on save): compute now; otherwise resolve on demand.
            let edit = match only {
                Some(_) => {
                    let snap = Snapshot::of(&open.doc, &uri);
                    let opts = open.opts.clone();
                    drop(guard);
                    Some(fix_all_edit(snap, opts, Arc::new(AtomicBool::new(false))).await?)
                }
                None => None,
            };
            out.push(actions::fix_all_action(edit, data));
        }
        Ok(Some(out))
    }

    async fn code_action_resolve(&self, mut action: CodeAction) -> Result<CodeAction> {
        if action.edit.is_some() {
            return Ok(action);
        }
        let uri = action
            .data
            .as_ref()
            .and_then(|d| d.get("uri"))
            .and_then(|u| u.as_str())
            .and_then(|u| u.parse::<Uri>().ok())
            .ok_or_else(|| Error::invalid_params("code action without a document"))?;
        let (snap, opts) = self.snapshot(&uri).await?;
        action.edit = Some(fix_all_edit(snap, opts, Arc::new(AtomicBool::new(false))).await?);
        Ok(action)
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        let Some(slot) = self.slot(&p.text_document.uri) else {
            return Ok(None);
        };
        let guard = slot.state.lock().await;
        Ok(guard.as_ref().and_then(|open| {
            catch_unwind(AssertUnwindSafe(|| {
                info::hover(&open.doc, p.position, &open.opts)
            }))
            .ok()
            .flatten()
        }))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let uri = params.text_document.uri;
        let Some(slot) = self.slot(&uri) else {
            return Ok(None);
        };
        let guard = slot.state.lock().await;
        Ok(guard
            .as_ref()
            .and_then(|open| info::code_lens(&open.doc, &uri, &open.opts))
            .map(|lens| vec![lens]))
    }

    async fn execute_command(
        &self,
        params: ExecuteCommandParams,
    ) -> Result<Option<serde_json::Value>> {
        commands::execute(self, params).await
    }
}

/// The fix-all edit of a snapshot, computed on the blocking pool.
pub(super) async fn fix_all_edit(
    snap: Snapshot,
    opts: Arc<LintOptions>,
    cancel: Arc<AtomicBool>,
) -> Result<WorkspaceEdit> {
    fix_all_edits(snap.clone(), opts, cancel, |_, _| {})
        .await
        .map(|(edits, _)| snap.workspace_edit(&edits))
        .ok_or_else(Error::request_cancelled)
}

/// Fix-all edits and the number of fixes, or None when cancelled or failed.
pub(super) async fn fix_all_edits(
    snap: Snapshot,
    opts: Arc<LintOptions>,
    cancel: Arc<AtomicBool>,
    on_round: impl FnMut(usize, usize) + Send + 'static,
) -> Option<(Vec<crate::lint::Edit>, usize)> {
    tokio::task::spawn_blocking(move || {
        let text = snap.rope.to_string();
        catch_unwind(AssertUnwindSafe(|| {
            actions::fix_all_edits(&text, snap.kind, &opts, &cancel, on_round)
        }))
        .ok()
        .flatten()
    })
    .await
    .ok()
    .flatten()
}

impl Backend {
    /// A snapshot of an open document and its lint options, for work off the request loop.
    pub(super) async fn snapshot(&self, uri: &Uri) -> Result<(Snapshot, Arc<LintOptions>)> {
        let not_open = || Error::invalid_params("the document is not open");
        let slot = self.slot(uri).ok_or_else(not_open)?;
        let guard = slot.state.lock().await;
        let open = guard.as_ref().ok_or_else(not_open)?;
        Ok((Snapshot::of(&open.doc, uri), open.opts.clone()))
    }

    /// The workspace folder: the client's root, else the server's working directory.
    pub(super) fn workspace_root(&self) -> PathBuf {
        self.root
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default()
    }
}
