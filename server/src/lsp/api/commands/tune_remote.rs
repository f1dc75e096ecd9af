//! Remote fine-tuning from the editor: `voicetune.tuneRemote` (lint, estimate, confirm through
//! `window/showMessageRequest`, upload, create, follow with `$/progress`, notify at the end),
//! `voicetune.jobs` and `voicetune.cancelJob`. The work runs in a task; requests return at once.

use crate::lsp::api::background::{Job, Outcome};
use crate::lsp::commands::{CANCEL_JOB, TUNE_REMOTE};
use crate::lsp::session::Session;
use crate::train::jobs::JobStore;
use crate::train::remote::{self, Plan, RemoteConfig, TuneRequest, Update, CANCEL_TITLE};
use crate::train::Cancelling;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageActionItem, MessageType, ProgressToken};

/// `voicetune.tuneRemote` arguments; paths are relative to the workspace folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TuneArgs {
    training: PathBuf,
    validation: Option<PathBuf>,
    #[serde(default)]
    model: String,
    voice: Option<String>,
    suffix: Option<String>,
    seed: Option<u32>,
    #[serde(default)]
    force: bool,
    /// `openai` or `together` (default: `provider` of voicetune.toml).
    provider: Option<crate::config::Provider>,
}

fn remote_config(session: &Session) -> Result<(PathBuf, RemoteConfig)> {
    let root = session.workspace_root();
    let config = crate::lint::config_for_file(&root)
        .map(|(c, _)| c)
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    let remote = RemoteConfig::from_config(&config)
        .map_err(|e| Error::invalid_params(format!("voicetune.toml: {e}")))?;
    Ok((root, remote))
}

fn describe(update: &Update) -> String {
    match update {
        Update::Uploading { file, sent, total } => {
            format!(
                "uploading {}: {}%",
                file.display(),
                sent * 100 / (*total).max(1)
            )
        }
        Update::Uploaded { file, id } => format!("uploaded {} as {id}", file.display()),
        Update::Created(job) => format!("job {} created", job.id),
        Update::Event { entry, .. } => entry.message.clone(),
        Update::Changed(job) | Update::Finished(job) => format!("job {}: {:?}", job.id, job.status),
        Update::Waiting(line) => line.clone(),
    }
}

pub async fn tune(
    session: &Session,
    args: &[Value],
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let args: TuneArgs = super::argument(
        TUNE_REMOTE,
        args,
        "{training, model?, validation?, voice?, provider?}",
    )?;
    let (root, config) = remote_config(session)?;
    let request = TuneRequest {
        training: root.join(&args.training),
        validation: args.validation.map(|v| root.join(v)),
        model: args.model,
        voice: args.voice,
        suffix: args.suffix,
        seed: args.seed,
        force: args.force,
        provider: args.provider,
        ..TuneRequest::default()
    };
    let job = Job::new(session, client_token, "tune", "voicetune: fine-tune")
        .with_message("checking the dataset");
    job.spawn(move |progress| async move {
        let asker = progress.client().clone();
        let on_update: remote::OnUpdate = Arc::new(move |u: &Update| progress.report(describe(u)));
        let confirm = move |plan: Plan| async move {
            let title = plan.confirm_title();
            let actions = vec![
                MessageActionItem {
                    title: title.clone(),
                    properties: Default::default(),
                },
                MessageActionItem {
                    title: CANCEL_TITLE.to_string(),
                    properties: Default::default(),
                },
            ];
            let answer = asker
                .show_message_request(MessageType::INFO, plan.confirm_message(), Some(actions))
                .await;
            let yes = matches!(answer, Ok(Some(item)) if item.title == title);
            (yes, plan)
        };
        let result = match remote::tune(&root, &config, request, confirm, on_update.clone()).await {
            Ok(None) => Ok(None),
            Ok(Some(job)) => remote::follow(&root, &config, &job.id, on_update)
                .await
                .map(Some),
            Err(e) => Err(e),
        };
        match result {
            Ok(None) => Outcome::info("fine-tune not started: nothing was uploaded"),
            Ok(Some(job)) => {
                let model = job
                    .result_model
                    .clone()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                let kind = if job.status == crate::train::jobs::JobStatus::Succeeded {
                    MessageType::INFO
                } else {
                    MessageType::WARNING
                };
                Outcome::new(
                    kind,
                    format!("fine-tune {} {:?}{model}", job.id, job.status),
                )
            }
            Err(e) => match e.downcast_ref::<remote::BlockedByLint>() {
                Some(blocked) => Outcome::error(format!(
                    "fine-tune failed: {}",
                    blocked.describe("\"force\": true")
                )),
                None => Outcome::error(format!("fine-tune failed: {e:#}")),
            },
        }
    });
    Ok(Some(serde_json::json!({ "started": true })))
}

/// `voicetune.jobs`: every job of the workspace (local and remote), newest first.
pub async fn jobs(session: &Session) -> Result<Option<Value>> {
    let root = session.workspace_root();
    let jobs = JobStore::new(&root)
        .list()
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    Ok(serde_json::to_value(jobs).ok())
}

/// `voicetune.cancelJob ID`.
pub async fn cancel(session: &Session, args: &[Value]) -> Result<Option<Value>> {
    let id = args
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_params(format!("{CANCEL_JOB} expects the job id")))?
        .to_string();
    let (root, config) = remote_config(session)?;
    let cancelling = crate::train::cancel_job(&root, &config, &id)
        .await
        .map_err(|e| Error::invalid_params(format!("cancel {id}: {e:#}")))?;
    let message = match &cancelling {
        Cancelling::Already(_) => format!("voicetune: job {id} already cancelled"),
        // Its trainer, here or in another process, notices within a step.
        Cancelling::Asked(_) => {
            format!("voicetune: cancelling job {id}; it stops at its next step with a checkpoint")
        }
        Cancelling::Answered(job) => format!("voicetune: job {id} {:?}", job.status),
    };
    let job = cancelling.job();
    session
        .client
        .show_message(MessageType::INFO, message)
        .await;
    Ok(serde_json::to_value(job).ok())
}
