//! Long-running work: one [`Job`] owns everything a long command shows the person around the
//! work itself, so each command writes only its work and its final words.
//!
//! A job
//! - takes the client's work-done token, or makes one of ours (`voicetune/{what}/{n}`) when the
//!   client shows progress, and then asks the client to create it
//!   (`window/workDoneProgress/create`; if that fails the work runs without progress);
//! - sends `$/progress` begin (title, message, percentage, cancel button), a report for each
//!   [`Progress::report`] the work makes, from any thread, in order, and end;
//! - when [`Job::cancellable`], registers a cancel flag under its token: the client's
//!   `window/workDoneProgress/cancel` (and [`Jobs::cancel`], for a command that cancels by
//!   token) sets it, the work reads it through [`Progress::cancel_flag`], reports show the
//!   cancel button until it is set, and the flag is forgotten when the job ends;
//! - catches a panic of the work and ends like a failure;
//! - with [`Job::spawn`], runs in a task of its own (the request returns at once, usually with
//!   `{ "started": true, "token": job.token() }`) and ends with `window/showMessage`
//!   (`voicetune: {message}`) and, if the [`Outcome`] names one, `window/showDocument`.
//!
//! A new long command (`voicetune.compare`, which ends by opening its report):
//!
//! ```ignore
//! let job = Job::new(session, token, "compare", "voicetune: compare").cancellable();
//! let reply = json!({ "started": true, "token": job.token() });
//! job.spawn(move |progress| async move {
//!     let flag = progress.cancel_flag();
//!     let done = spawn_blocking(move || compare(&request, &flag, |p| progress.report(p))).await;
//!     match done {
//!         Ok(Ok(report)) => Outcome::info(report.summary()).and_show(report.uri()),
//!         Ok(Err(e)) => Outcome::error(format!("compare failed: {e}")),
//!         Err(e) => Outcome::error(format!("compare failed: {e}")),
//!     }
//! });
//! Ok(Some(reply))
//! ```
//!
//! A request that does long work and answers with its result (`textDocument/inlineCompletion`,
//! registered with `LspService::build(..).custom_method("textDocument/inlineCompletion",
//! Server::inline_completion)` and dispatched through `api::request` like every handler) uses
//! [`Job::run`] in place instead: the same token, progress and cancel flag, no final message,
//! and the work's output as the answer. When the client cancels the request (`$/cancelRequest`)
//! tower-lsp-server drops the handler's future; dropping a running job sets its cancel flag,
//! so the generation on the blocking pool stops at its next token:
//!
//! ```ignore
//! let job = Job::for_request(session, params.work_done_progress_params.work_done_token,
//!     "voicetune: ghostwriting").cancellable();
//! let generated = job.run(|progress| async move {
//!     spawn_blocking(move || generate(&prompt, &progress.cancel_flag())).await
//! }, |_| "done".into()).await;
//! ```

use crate::lsp::guard;
use crate::lsp::session::{Jobs, Session};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tower_lsp_server::ls_types::notification::Progress as ProgressNotification;
use tower_lsp_server::ls_types::{
    MessageType, ProgressParams, ProgressParamsValue, ProgressToken, ShowDocumentParams, Uri,
    WorkDoneProgress, WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport,
};
use tower_lsp_server::Client;

/// Long-running work about to start; see the module documentation.
pub struct Job {
    client: Client,
    jobs: Arc<Jobs>,
    token: Option<ProgressToken>,
    /// The token is ours: the client must be asked to create it before it is used.
    create: bool,
    begin: WorkDoneProgressBegin,
    cancel: Arc<AtomicBool>,
}

/// How a spawned job ended: the message shown to the person, and a document to open.
pub struct Outcome {
    pub kind: MessageType,
    pub message: String,
    pub document: Option<Uri>,
}

impl Outcome {
    pub fn new(kind: MessageType, message: impl Into<String>) -> Outcome {
        Outcome {
            kind,
            message: message.into(),
            document: None,
        }
    }

    pub fn info(message: impl Into<String>) -> Outcome {
        Outcome::new(MessageType::INFO, message)
    }

    pub fn error(message: impl Into<String>) -> Outcome {
        Outcome::new(MessageType::ERROR, message)
    }

    /// Opens `document` in the editor after the message (`window/showDocument`).
    pub fn and_show(mut self, document: Option<Uri>) -> Outcome {
        self.document = document;
        self
    }
}

/// The running work's side of a job: cheap to clone, usable from any thread (the blocking
/// pool included).
#[derive(Clone)]
pub struct Progress {
    reports: tokio::sync::mpsc::UnboundedSender<Report>,
    cancel: Arc<AtomicBool>,
    client: Client,
}

struct Report {
    message: String,
    percentage: Option<u32>,
}

impl Progress {
    /// Shows `message` as the job's progress.
    pub fn report(&self, message: impl Into<String>) {
        let _ = self.reports.send(Report {
            message: message.into(),
            percentage: None,
        });
    }

    /// Shows `message` and how far the job is, in percent (for a job begun with a percentage).
    pub fn report_percent(&self, message: impl Into<String>, percentage: u32) {
        let _ = self.reports.send(Report {
            message: message.into(),
            percentage: Some(percentage),
        });
    }

    /// The flag the client's cancel sets; long work checks it between its steps.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The client, for work that asks the person or edits (`showMessageRequest`, `applyEdit`).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Forgets a job's cancel flag when the job ends or is dropped mid-way; a dropped job's work
/// is told to stop.
struct Registration {
    jobs: Arc<Jobs>,
    token: Option<ProgressToken>,
    cancel: Arc<AtomicBool>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        if let Some(token) = &self.token {
            self.jobs.remove(token);
        }
    }
}

impl Job {
    /// A job titled `title`, shown under the client's token or one of ours named after `what`.
    pub fn new(
        session: &Session,
        client_token: Option<ProgressToken>,
        what: &str,
        title: impl Into<String>,
    ) -> Job {
        let (token, create) = match client_token {
            Some(token) => (Some(token), false),
            None if session.shows_progress() => (Some(session.jobs.new_token(what)), true),
            None => (None, false),
        };
        Job::with_token(session, token, create, title)
    }

    /// A job for a request made as the person types (an inline completion): progress only
    /// under the client's own work-done token, never one of ours, which would flash a progress
    /// on every pause in typing.
    pub fn for_request(
        session: &Session,
        client_token: Option<ProgressToken>,
        title: impl Into<String>,
    ) -> Job {
        Job::with_token(session, client_token, false, title)
    }

    fn with_token(
        session: &Session,
        token: Option<ProgressToken>,
        create: bool,
        title: impl Into<String>,
    ) -> Job {
        Job {
            client: session.client.clone(),
            jobs: session.jobs.clone(),
            token,
            create,
            begin: WorkDoneProgressBegin {
                title: title.into(),
                cancellable: Some(false),
                message: None,
                percentage: None,
            },
            cancel: Arc::default(),
        }
    }

    /// The first progress message.
    pub fn with_message(mut self, message: impl Into<String>) -> Job {
        self.begin.message = Some(message.into());
        self
    }

    /// Shows a percentage, starting at `start`.
    pub fn with_percentage(mut self, start: u32) -> Job {
        self.begin.percentage = Some(start);
        self
    }

    /// Shows a cancel button and honours `window/workDoneProgress/cancel` from now on.
    pub fn cancellable(mut self) -> Job {
        self.begin.cancellable = Some(true);
        if let Some(token) = &self.token {
            self.jobs.register(token, self.cancel.clone());
        }
        self
    }

    /// The token the job's progress goes under, for the command's reply.
    pub fn token(&self) -> Option<ProgressToken> {
        self.token.clone()
    }

    /// Runs `work` in a task of its own, and tells the person how it ended.
    pub fn spawn<W, F>(self, work: W)
    where
        W: FnOnce(Progress) -> F + Send + 'static,
        F: Future<Output = Outcome> + Send + 'static,
    {
        let client = self.client.clone();
        let failed = format!("{} failed: internal error", self.begin.title);
        tokio::spawn(async move {
            let end = |outcome: Option<&Outcome>| match outcome {
                Some(outcome) => outcome.message.clone(),
                None => failed.clone(),
            };
            let outcome = self
                .run(work, end)
                .await
                .unwrap_or_else(|| Outcome::error(failed.clone()));
            client
                .show_message(outcome.kind, format!("voicetune: {}", outcome.message))
                .await;
            if let Some(uri) = outcome.document {
                let _ = client
                    .show_document(ShowDocumentParams {
                        uri,
                        external: Some(false),
                        take_focus: Some(true),
                        selection: None,
                    })
                    .await;
            }
        });
    }

    /// Runs `work` in the caller's future, forwarding its reports, and ends the progress with
    /// `end`'s message of the output (None: the work panicked). Returns the work's output.
    pub async fn run<T, W, F>(self, work: W, end: impl FnOnce(Option<&T>) -> String) -> Option<T>
    where
        W: FnOnce(Progress) -> F,
        F: Future<Output = T>,
    {
        let registration = Registration {
            jobs: self.jobs.clone(),
            token: self.token.clone(),
            cancel: self.cancel.clone(),
        };
        let shown = self.begin().await;
        let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
        let progress = Progress {
            reports,
            cancel: self.cancel.clone(),
            client: self.client.clone(),
        };
        let mut work = pin!(guard::catching(work(progress)));
        let output = loop {
            tokio::select! {
                biased;
                Some(report) = received.recv() => self.report(shown, report).await,
                output = &mut work => break output,
            }
        };
        while let Ok(report) = received.try_recv() {
            self.report(shown, report).await;
        }
        if let (Some(token), true) = (&self.token, shown) {
            let message = end(output.as_ref());
            self.send(
                token,
                WorkDoneProgress::End(WorkDoneProgressEnd {
                    message: Some(message),
                }),
            )
            .await;
        }
        drop(registration);
        output
    }

    /// Creates the token if it is ours and sends the begin; false when no progress is shown.
    async fn begin(&self) -> bool {
        let Some(token) = &self.token else {
            return false;
        };
        if self.create
            && self
                .client
                .create_work_done_progress(token.clone())
                .await
                .is_err()
        {
            return false;
        }
        self.send(token, WorkDoneProgress::Begin(self.begin.clone()))
            .await;
        true
    }

    async fn report(&self, shown: bool, report: Report) {
        let Some(token) = self.token.as_ref().filter(|_| shown) else {
            return;
        };
        let cancellable = match self.begin.cancellable {
            Some(true) => Some(!self.cancel.load(Ordering::Relaxed)),
            _ => None,
        };
        let report = WorkDoneProgressReport {
            cancellable,
            message: Some(report.message),
            percentage: report.percentage,
        };
        self.send(token, WorkDoneProgress::Report(report)).await;
    }

    async fn send(&self, token: &ProgressToken, value: WorkDoneProgress) {
        self.client
            .send_notification::<ProgressNotification>(ProgressParams {
                token: token.clone(),
                value: ProgressParamsValue::WorkDone(value),
            })
            .await;
    }
}
