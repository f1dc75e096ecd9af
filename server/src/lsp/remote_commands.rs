//! Remote fine-tuning from the editor: `voicetune.tuneRemote` (lint, estimate, confirm through
//! `window/showMessageRequest`, upload, create, follow with `$/progress`, notify at the end),
//! `voicetune.jobs` and `voicetune.cancelJob`. The work runs in a task; requests return at once.

use super::backend::Backend;
use crate::train::jobs::JobStore;
use crate::train::remote::{self, Plan, RemoteConfig, TuneRequest, Update, CANCEL_TITLE};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageActionItem, MessageType, ProgressToken};

pub const TUNE_REMOTE: &str = "voicetune.tuneRemote";
pub const JOBS: &str = "voicetune.jobs";
pub const CANCEL_JOB: &str = "voicetune.cancelJob";

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
}

fn remote_config(backend: &Backend) -> Result<(PathBuf, RemoteConfig)> {
    let root = backend.workspace_root();
    let config = crate::config::Config::for_file(&root)
        .map(|(c, _)| c)
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    let remote = RemoteConfig::from_config(&config)
        .map_err(|e| Error::invalid_params(format!("[remote] in voicetune.toml: {e}")))?;
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
    }
}

pub async fn tune(
    backend: &Backend,
    args: &[Value],
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let args: TuneArgs = args
        .first()
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::invalid_params(format!("{TUNE_REMOTE}: {e}")))?
        .ok_or_else(|| {
            Error::invalid_params(format!(
                "{TUNE_REMOTE} expects {{training, model?, validation?, voice?}}"
            ))
        })?;
    let (root, config) = remote_config(backend)?;
    let request = TuneRequest {
        training: root.join(&args.training),
        validation: args.validation.map(|v| root.join(v)),
        model: args.model,
        voice: args.voice,
        suffix: args.suffix,
        seed: args.seed,
        force: args.force,
        ..TuneRequest::default()
    };
    let token = match super::commands::progress_token(backend, client_token, "tune") {
        (Some(t), true) => backend
            .client
            .create_work_done_progress(t.clone())
            .await
            .ok()
            .map(|_| t),
        (token, _) => token,
    };
    let client = backend.client.clone();
    tokio::spawn(async move {
        let progress = match &token {
            Some(t) => Some(
                client
                    .progress(t.clone(), "voicetune: fine-tune")
                    .with_message("checking the dataset")
                    .begin()
                    .await,
            ),
            None => None,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let on_update: remote::OnUpdate = Arc::new(move |u: &Update| {
            let _ = tx.send(u.clone());
        });
        let asker = client.clone();
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
        let work = async {
            match remote::tune(&root, &config, request, confirm, on_update.clone()).await? {
                None => Ok(None),
                Some(job) => remote::follow(&root, &config, &job.id, on_update)
                    .await
                    .map(Some),
            }
        };
        tokio::pin!(work);
        let result: anyhow::Result<Option<crate::train::jobs::Job>> = loop {
            tokio::select! {
                done = &mut work => break done,
                Some(update) = rx.recv() => {
                    if let Some(p) = &progress {
                        p.report(describe(&update)).await;
                    }
                }
            }
        };
        let (kind, message) = match result {
            Ok(None) => (
                MessageType::INFO,
                "fine-tune not started: nothing was uploaded".to_string(),
            ),
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
                (
                    kind,
                    format!("fine-tune {} {:?}{model}", job.id, job.status),
                )
            }
            Err(e) => (MessageType::ERROR, format!("fine-tune failed: {e:#}")),
        };
        if let Some(p) = progress {
            p.finish_with_message(message.clone()).await;
        }
        client
            .show_message(kind, format!("voicetune: {message}"))
            .await;
    });
    Ok(Some(serde_json::json!({ "started": true })))
}

/// `voicetune.jobs`: every job of the workspace (local and remote), newest first.
pub async fn jobs(backend: &Backend) -> Result<Option<Value>> {
    let root = backend.workspace_root();
    let jobs = JobStore::new(&root)
        .list()
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    Ok(serde_json::to_value(jobs).ok())
}

/// `voicetune.cancelJob ID`.
pub async fn cancel(backend: &Backend, args: &[Value]) -> Result<Option<Value>> {
    let id = args
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_params(format!("{CANCEL_JOB} expects the job id")))?
        .to_string();
    let (root, config) = remote_config(backend)?;
    let job = remote::cancel(&root, &config, &id)
        .await
        .map_err(|e| Error::invalid_params(format!("cancel {id}: {e:#}")))?;
    backend
        .client
        .show_message(
            MessageType::INFO,
            format!("voicetune: job {id} {:?}", job.status),
        )
        .await;
    Ok(serde_json::to_value(job).ok())
}
