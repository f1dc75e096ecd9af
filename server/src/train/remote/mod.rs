//! Remote fine-tuning on the OpenAI API (or a compatible provider): check the dataset, show
//! what it will cost, upload, create the job, follow it to the end, and record the resulting
//! model as a voice.
//!
//! The faces call, in order: [`plan`] (lint gate + estimate, nothing sent), their own
//! confirmation (the CLI's prompt, the server's `window/showMessageRequest`), [`start`] (upload +
//! create; the job is persisted under `.voicetune/jobs/` as soon as it exists) and [`follow`]
//! (poll until final, reporting through a callback). [`resume_all`] picks up jobs that were
//! running when the CLI or server stopped.

pub mod api;
pub mod endpoints;
pub mod estimate;

pub use estimate::BlockedByLint;

pub use crate::openai::{RemoteConfig, DEFAULT_BASE_URL};

use crate::openai::{self, retry, Client};
use crate::train::jobs::{now_secs, Job, JobKind, JobStatus, JobStore, LogEntry};
use anyhow::Context;
use api::{CreateJobRequest, FineTuningJob, Hyperparameters, Method, MethodType};
use estimate::Estimate;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to fine-tune.
#[derive(Debug, Clone, Default)]
pub struct TuneRequest {
    pub training: PathBuf,
    pub validation: Option<PathBuf>,
    /// Base model; empty means the configured one.
    pub model: String,
    pub method: MethodType,
    pub hyperparameters: Hyperparameters,
    pub suffix: Option<String>,
    pub seed: Option<u32>,
    /// Voice name to register on success (default: the fine-tuned model id).
    pub voice: Option<String>,
    /// Upload even if the lint finds errors.
    pub force: bool,
}

/// The checked request and its cost, for the user to confirm.
#[derive(Debug, Clone)]
pub struct Plan {
    pub request: TuneRequest,
    pub estimate: Estimate,
    /// Lint findings that did not block (warnings; errors too when forced), as printable lines.
    pub findings: Vec<String>,
}

impl Plan {
    /// The confirmation button's title, e.g. `Start fine-tune ($8.80)`.
    pub fn confirm_title(&self) -> String {
        format!("Start fine-tune ({})", self.estimate.cost_text())
    }

    /// What the server shows in `window/showMessageRequest`, with the actions
    /// [`Plan::confirm_title`] and [`CANCEL_TITLE`].
    pub fn confirm_message(&self) -> String {
        format!(
            "Fine-tune {} on {}: {}",
            self.request
                .training
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            self.estimate.model,
            self.estimate.summary()
        )
    }
}

/// The second action of the confirmation request.
pub const CANCEL_TITLE: &str = "Cancel";

/// What a running fine-tune reports to its face.
#[derive(Debug, Clone)]
pub enum Update {
    Uploading {
        file: PathBuf,
        sent: u64,
        total: u64,
    },
    Uploaded {
        file: PathBuf,
        id: String,
    },
    /// The job exists and is persisted.
    Created(Job),
    /// A new line from the trainer.
    Event {
        job_id: String,
        entry: LogEntry,
    },
    /// Status or progress changed.
    Changed(Job),
    /// The job reached a final state (and, on success, its voice was registered).
    Finished(Job),
    /// A call failed and is retried after a wait: "waiting for the API (attempt n failed, retry
    /// in Xs): ...".
    Waiting(String),
}

pub type OnUpdate = Arc<dyn Fn(&Update) + Send + Sync>;

/// The client's retry notices as [`Update::Waiting`].
fn wait_notice(on_update: &OnUpdate) -> openai::WaitNotice {
    let on_update = on_update.clone();
    Arc::new(move |w: &openai::Waiting| on_update(&Update::Waiting(w.to_string())))
}

/// Lints the dataset (errors block unless `force`, with [`BlockedByLint`]) and estimates the
/// cost. Sends nothing.
pub fn plan(config: &RemoteConfig, mut request: TuneRequest) -> anyhow::Result<Plan> {
    if request.model.is_empty() {
        request.model = config.model.clone();
    }
    check_request(&request)?;
    let epochs = request.hyperparameters.n_epochs.and_then(|e| e.value());
    let mut findings = Vec::new();
    let mut estimate = None;
    let files = std::iter::once((&request.training, true))
        .chain(request.validation.as_ref().map(|v| (v, false)));
    for (file, is_training) in files {
        let (gate, file_estimate) = estimate::check(file, &request.model, epochs)?;
        if !gate.errors.is_empty() && !request.force {
            return Err(estimate::BlockedByLint {
                file: file.clone(),
                errors: gate.errors,
            }
            .into());
        }
        findings.extend(gate.errors);
        findings.extend(gate.warnings);
        // Only training tokens are billed.
        if is_training {
            estimate = Some(file_estimate);
        }
    }
    let estimate = estimate.expect("the training file is always checked");
    Ok(Plan {
        request,
        estimate,
        findings,
    })
}

/// The limits the API puts on the job's parameters, checked before a large file is uploaded
/// only to be refused.
fn check_request(request: &TuneRequest) -> anyhow::Result<()> {
    if let Some(s) = &request.suffix {
        anyhow::ensure!(
            (1..=64).contains(&s.chars().count()),
            "the suffix must be 1 to 64 characters"
        );
    }
    if let Some(seed) = request.seed {
        anyhow::ensure!(seed <= 2_147_483_647, "the seed must be 0 to 2147483647");
    }
    let h = &request.hyperparameters;
    if let Some(n) = h.n_epochs.and_then(|v| v.value()) {
        anyhow::ensure!((1..=50).contains(&n), "epochs must be 1 to 50 (got {n})");
    }
    if let Some(n) = h.batch_size.and_then(|v| v.value()) {
        anyhow::ensure!(
            (1..=256).contains(&n),
            "the batch size must be 1 to 256 (got {n})"
        );
    }
    if let Some(x) = h.learning_rate_multiplier.and_then(|v| v.value()) {
        anyhow::ensure!(
            x.is_finite() && x > 0.0,
            "the learning rate multiplier must be above 0 (got {x})"
        );
    }
    if let Some(b) = h.beta.and_then(|v| v.value()) {
        anyhow::ensure!(
            request.method == MethodType::Dpo,
            "beta only applies to --method dpo"
        );
        anyhow::ensure!(
            b.is_finite() && b > 0.0 && b <= 2.0,
            "beta must be above 0 and at most 2 (got {b})"
        );
    }
    Ok(())
}

/// Uploads the files and creates the job; the job is saved the moment the API returns it.
pub async fn start(
    workspace: &Path,
    config: &RemoteConfig,
    plan: &Plan,
    on_update: OnUpdate,
) -> anyhow::Result<Job> {
    let client = config
        .client(None)?
        .with_wait_notice(wait_notice(&on_update));
    let request = &plan.request;
    let mut file_ids = Vec::new();
    for file in std::iter::once(&request.training).chain(request.validation.as_ref()) {
        let notify = on_update.clone();
        let f = file.clone();
        let progress: openai::UploadProgress = Arc::new(move |sent, total| {
            notify(&Update::Uploading {
                file: f.clone(),
                sent,
                total,
            })
        });
        let uploaded = client
            .upload_file(file, "fine-tune", Some(progress))
            .await?;
        on_update(&Update::Uploaded {
            file: file.clone(),
            id: uploaded.id.clone(),
        });
        file_ids.push(uploaded.id);
    }
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert(
        endpoints::REQUEST_TAG.to_string(),
        format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
    );
    let create = CreateJobRequest {
        model: request.model.clone(),
        training_file: file_ids[0].clone(),
        validation_file: file_ids.get(1).cloned(),
        suffix: request.suffix.clone(),
        seed: request.seed,
        method: Some(Method::new(request.method, request.hyperparameters.clone())),
        metadata,
    };
    let remote = client.create_job(&create).await?;
    let mut job = Job::new(remote.id.clone(), JobKind::Remote, remote.model.clone());
    job.voice = request.voice.clone();
    job.details
        .insert("base_url".into(), client.base_url().into());
    job.details
        .insert("training_file".into(), create.training_file.clone().into());
    if let Some(v) = &create.validation_file {
        job.details
            .insert("validation_file".into(), v.clone().into());
    }
    job.details
        .insert("method".into(), request.method.to_string().into());
    job.details.insert(
        "estimate".into(),
        serde_json::to_value(&plan.estimate).unwrap_or_default(),
    );
    apply_remote(&mut job, &remote);
    JobStore::new(workspace).save(&job)?;
    on_update(&Update::Created(job.clone()));
    Ok(job)
}

/// Polls the job until it reaches a final state, saving and reporting each change; on success
/// registers the voice. Returns the final job.
pub async fn follow(
    workspace: &Path,
    config: &RemoteConfig,
    job_id: &str,
    on_update: OnUpdate,
) -> anyhow::Result<Job> {
    let store = JobStore::new(workspace);
    let job = store.load(job_id)?;
    anyhow::ensure!(
        job.kind == JobKind::Remote,
        "job {job_id} is a {:?} job; only remote jobs are followed through the API",
        job.kind
    );
    let client = config
        .client(job.detail_str("base_url"))?
        .with_wait_notice(wait_notice(&on_update));
    let mut job = job;
    // A job runs for minutes or hours: an outage longer than one call's retries should not end
    // the follow, so failed polls are tried again, more slowly, a number of times.
    const MAX_FAILED_POLLS: u32 = 10;
    let mut failed_polls = 0;
    loop {
        match refresh(workspace, &client, &mut job, &on_update).await {
            Ok(()) => failed_polls = 0,
            Err(e) if failed_polls < MAX_FAILED_POLLS && is_transient(&e) => {
                failed_polls += 1;
                on_update(&Update::Event {
                    job_id: job.id.clone(),
                    entry: LogEntry {
                        at: now_secs(),
                        level: "warn".into(),
                        message: format!("polling failed ({failed_polls}/{MAX_FAILED_POLLS}), trying again: {e:#}"),
                    },
                });
            }
            Err(e) => return Err(e),
        }
        if job.status.is_terminal() {
            on_update(&Update::Finished(job.clone()));
            return Ok(job);
        }
        tokio::time::sleep(config.poll_interval() * (1 + failed_polls)).await;
    }
}

/// Whether an error is worth another poll later (network trouble, rate limits, server errors).
fn is_transient(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<openai::Error>() {
        Some(openai::Error::Transport { .. }) => true,
        Some(openai::Error::Api { status, .. }) => retry::Failure::Status(*status).is_transient(),
        _ => false,
    }
}

/// One poll: fetch the job and its new events, save, report, register the voice on success.
pub async fn refresh(
    workspace: &Path,
    client: &Client,
    current: &mut Job,
    on_update: &OnUpdate,
) -> anyhow::Result<()> {
    // Work on a copy: `current` changes only once everything, the save included, succeeded,
    // so a poll that fails half-way is simply done again.
    let mut job = current.clone();
    let store = JobStore::new(workspace);
    let remote = client.get_job(&job.id).await?;
    let events = client
        .new_events(&job.id, job.last_event_id.as_deref())
        .await?;
    let before = (job.status, job.progress.clone());
    for event in &events {
        if let Some(data) = event
            .data
            .as_ref()
            .filter(|_| event.kind.as_deref() == Some("metrics"))
        {
            let num = |k: &str| data.get(k).and_then(|v| v.as_f64());
            job.progress.step = num("step").map(|v| v as u64).or(job.progress.step);
            job.progress.total_steps = num("total_steps")
                .map(|v| v as u64)
                .or(job.progress.total_steps);
            job.progress.train_loss = num("train_loss").or(job.progress.train_loss);
        }
        job.push_log(event.created_at, &event.level, &event.message);
        job.last_event_id = Some(event.id.clone());
        on_update(&Update::Event {
            job_id: job.id.clone(),
            entry: job.log.last().cloned().expect("just pushed"),
        });
    }
    apply_remote(&mut job, &remote);
    // On the move to succeeded only (the file is saved after this, so a failure here is
    // retried by the next follow); a voice the user removed later stays removed.
    if job.status == JobStatus::Succeeded && before.0 != JobStatus::Succeeded {
        // Keep the checkpoints' model ids: each is usable as a model, like the final one.
        if !job.details.contains_key("checkpoints") {
            let checkpoints: Vec<String> = client
                .list_checkpoints(&job.id)
                .await?
                .into_iter()
                .map(|c| c.fine_tuned_model_checkpoint)
                .collect();
            job.details.insert("checkpoints".into(), checkpoints.into());
        }
        register_voice(workspace, &job)?;
    }
    store.save(&job)?;
    if (job.status, job.progress.clone()) != before {
        on_update(&Update::Changed(job.clone()));
    }
    *current = job;
    Ok(())
}

/// Copies what the API says about the job into our record.
fn apply_remote(job: &mut Job, remote: &FineTuningJob) {
    match JobStatus::from_api(&remote.status) {
        // A provider going "backwards" (or pausing) is kept in the log, not in the state.
        Some(status) => {
            if let Err(e) = job.set_status(status) {
                job.push_log(now_secs(), "warn", &e);
            }
        }
        None => job.push_log(
            now_secs(),
            "warn",
            &format!("unknown status `{}` from the API", remote.status),
        ),
    }
    if let Some(m) = &remote.fine_tuned_model {
        job.result_model = Some(m.clone());
    }
    if let Some(t) = remote.trained_tokens {
        job.progress.trained_tokens = Some(t);
    }
    if let Some(err) = &remote.error {
        let message = err.message.clone().unwrap_or_default();
        if !message.is_empty() || err.code.is_some() {
            job.error = Some(match &err.code {
                Some(code) if !code.is_empty() => format!("{message} ({code})"),
                _ => message,
            });
        }
    }
}

fn register_voice(workspace: &Path, job: &Job) -> anyhow::Result<()> {
    let Some(model) = &job.result_model else {
        anyhow::bail!(
            "job {} succeeded but the API gave no fine-tuned model id",
            job.id
        );
    };
    let name = job.voice.clone().unwrap_or_else(|| model.clone());
    let voice = crate::voices::Voice::Remote {
        model: model.clone(),
        base_url: job.detail_str("base_url").map(str::to_string),
        job_id: Some(job.id.clone()),
    };
    crate::voices::Registry::register(workspace, &name, voice)
        .with_context(|| format!("registering voice `{name}`"))
}

/// Cancels a job and records the result.
pub async fn cancel(workspace: &Path, config: &RemoteConfig, job_id: &str) -> anyhow::Result<Job> {
    let store = JobStore::new(workspace);
    let mut job = store.load(job_id)?;
    anyhow::ensure!(
        job.kind == JobKind::Remote,
        "job {job_id} is not a remote job"
    );
    let client = config.client(job.detail_str("base_url"))?;
    let remote = client.cancel_job(job_id).await?;
    apply_remote(&mut job, &remote);
    store.save(&job)?;
    Ok(job)
}

/// Follows every remote job that was not final when we last looked (after a restart), all at
/// once. Returns each job's final state or error.
pub async fn resume_all(
    workspace: &Path,
    config: &RemoteConfig,
    on_update: OnUpdate,
) -> anyhow::Result<Vec<anyhow::Result<Job>>> {
    let active = JobStore::new(workspace).active(Some(JobKind::Remote))?;
    let follows = active
        .iter()
        .map(|job| follow(workspace, config, &job.id, on_update.clone()));
    Ok(futures_util::future::join_all(follows).await)
}

/// The whole path in one call, for faces that confirm through a callback: plan, ask, start.
/// Returns None when the user declined (nothing was sent).
pub async fn tune<C, F>(
    workspace: &Path,
    config: &RemoteConfig,
    request: TuneRequest,
    confirm: C,
    on_update: OnUpdate,
) -> anyhow::Result<Option<Job>>
where
    C: FnOnce(Plan) -> F,
    F: std::future::Future<Output = (bool, Plan)>,
{
    let plan = plan(config, request)?;
    let (yes, plan) = confirm(plan).await;
    if !yes {
        return Ok(None);
    }
    start(workspace, config, &plan, on_update).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_section_is_typed_with_defaults_and_the_target_model() {
        let path = Path::new("voicetune.toml");
        let config = crate::config::Config::from_toml(
            "target_model = \"gpt-4.1-mini-2025-04-14\"\n[remote]\napi_key_env = \"MY_KEY\"\norganization = \"org-1\"\n",
            path,
        )
        .unwrap();
        let remote = RemoteConfig::from_config(&config).unwrap();
        assert_eq!(remote.api_key_env, "MY_KEY");
        assert_eq!(remote.organization.as_deref(), Some("org-1"));
        assert_eq!(remote.model, "gpt-4.1-mini-2025-04-14");
        assert_eq!(remote.max_retries, 5);
        let config =
            crate::config::Config::from_toml("[remote]\nmodel = \"gpt-4o-2024-08-06\"\n", path)
                .unwrap();
        assert_eq!(
            RemoteConfig::from_config(&config).unwrap().model,
            "gpt-4o-2024-08-06"
        );
        let config =
            crate::config::Config::from_toml("[remote]\nbase_ulr = \"x\"\n", path).unwrap();
        let err = RemoteConfig::from_config(&config).unwrap_err().to_string();
        assert!(err.contains("base_ulr"), "{err}");
    }
}
