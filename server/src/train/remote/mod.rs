//! Remote fine-tuning on OpenAI or Together AI: check the dataset, show what it will cost,
//! upload, create the job, follow it to the end, and record the resulting model as a voice.
//!
//! The faces call, in order: [`prepare`] ([`check`]: lint gate + estimate, for Together after
//! the model's limits; then [`quote`]: for Together the upload and its own price estimate),
//! their own confirmation (the CLI's
//! prompt, the server's `window/showMessageRequest`), [`start`] (upload if not done + create;
//! the job is persisted under `.voicetune/jobs/`, with its provider, as soon as it exists) and
//! [`follow`] (poll until final, reporting through a callback). [`resume_all`] picks up jobs
//! that were running when the CLI or server stopped. What differs per provider is in
//! [`provider::Api`]; the flow here is written once.

pub mod api;
pub mod download;
pub mod endpoints;
pub mod estimate;
pub mod provider;
pub mod together;

pub use estimate::BlockedByLint;

pub use crate::config::Provider;
pub use crate::openai::{RemoteConfig, TogetherConfig, DEFAULT_BASE_URL, TOGETHER_BASE_URL};

use crate::openai::{self, retry};
use crate::train::jobs::{now_secs, Job, JobKind, JobStatus, JobStore, LogEntry};
use anyhow::Context;
use api::{Hyperparameters, MethodType};
use estimate::Estimate;
use provider::{Api, RemoteJob};
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
    /// Who fine-tunes; None: the config's `provider`.
    pub provider: Option<Provider>,
    /// Together's settings beyond the shared ones (each None: `[together]`'s).
    pub together: TogetherOptions,
}

/// What a Together fine-tune takes beyond model, epochs and batch size; each unset value is
/// taken from `[together]` in voicetune.toml.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TogetherOptions {
    /// Full fine-tuning instead of LoRA.
    pub full: Option<bool>,
    pub lora_r: Option<u32>,
    pub lora_alpha: Option<u32>,
    pub lora_dropout: Option<f64>,
    /// `all-linear` or a comma-separated list of modules.
    pub lora_modules: Option<String>,
    pub learning_rate: Option<f64>,
    pub n_checkpoints: Option<u32>,
}

/// Together's own estimate, and how it compares with ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub estimate: together::PriceEstimate,
    /// One line: both estimates and where they differ.
    pub comparison: String,
}

/// The checked request and its cost, for the user to confirm.
#[derive(Debug, Clone)]
pub struct Plan {
    pub request: TuneRequest,
    /// Who fine-tunes (the request's, else the config's).
    pub provider: Provider,
    pub estimate: Estimate,
    /// Lint findings that did not block (warnings; errors too when forced), as printable lines.
    pub findings: Vec<String>,
    /// File ids already uploaded (training, then validation): Together prices an uploaded
    /// file, so its files go up before the confirmation.
    pub uploaded: Vec<String>,
    /// The provider's own estimate (Together's).
    pub quote: Option<Quote>,
    /// The Together job to create (its file ids filled in by [`start`]).
    pub together: Option<together::CreateRequest>,
}

impl Plan {
    /// The confirmation button's title, e.g. `Start fine-tune ($8.80)`: the provider's price
    /// when it gave one.
    pub fn confirm_title(&self) -> String {
        let price = match self
            .quote
            .as_ref()
            .and_then(|q| q.estimate.estimated_total_price)
        {
            Some(p) => usd(p),
            None => self.estimate.cost_text(),
        };
        format!("Start fine-tune ({price})")
    }

    /// What the server shows in `window/showMessageRequest`, with the actions
    /// [`Plan::confirm_title`] and [`CANCEL_TITLE`].
    pub fn confirm_message(&self) -> String {
        format!(
            "Fine-tune {} on {}{}: {}{}",
            self.request
                .training
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            self.estimate.model,
            match self.provider {
                Provider::Openai => "",
                Provider::Together => " at Together AI",
            },
            self.estimate.summary(),
            self.quote
                .as_ref()
                .map(|q| format!("\n{}", q.comparison))
                .unwrap_or_default()
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

/// Lints the dataset for an OpenAI fine-tune (errors block unless `force`, with
/// [`BlockedByLint`]) and estimates the cost. Sends nothing.
pub fn plan(config: &RemoteConfig, mut request: TuneRequest) -> anyhow::Result<Plan> {
    if request.model.is_empty() {
        request.model = config.model.clone();
    }
    check_request(&request)?;
    let target = estimate::Target::openai(&request.model)?;
    let epochs = request.hyperparameters.n_epochs.and_then(|e| e.value());
    let (estimate, findings) = lint_gate(&request, &target, epochs)?;
    Ok(Plan {
        request,
        provider: Provider::Openai,
        estimate,
        findings,
        uploaded: Vec::new(),
        quote: None,
        together: None,
    })
}

/// Lints the training and validation files for `target` (errors block unless forced) and
/// estimates the training file's cost; returns the estimate and the findings that did not
/// block.
fn lint_gate(
    request: &TuneRequest,
    target: &estimate::Target,
    epochs: Option<u32>,
) -> anyhow::Result<(Estimate, Vec<String>)> {
    let mut findings = Vec::new();
    let mut estimate = None;
    let files = std::iter::once((&request.training, true))
        .chain(request.validation.as_ref().map(|v| (v, false)));
    for (file, is_training) in files {
        let (gate, file_estimate) = estimate::check_for(file, target, epochs)?;
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
    Ok((estimate, findings))
}

/// The provider of `request`: its own, else the config's.
pub fn provider_of(config: &RemoteConfig, request: &TuneRequest) -> Provider {
    request.provider.unwrap_or(config.provider)
}

/// Everything before the confirmation: [`check`], then [`quote`].
pub async fn prepare(
    config: &RemoteConfig,
    request: TuneRequest,
    on_update: OnUpdate,
) -> anyhow::Result<Plan> {
    let mut plan = check(config, request, on_update.clone()).await?;
    quote(config, &mut plan, on_update).await?;
    Ok(plan)
}

/// The lint gate and our estimate, for the request's provider. OpenAI: [`plan`] (nothing
/// sent). Together: first the model's limits (`/fine-tunes/models/limits`), which check the
/// settings and give the lint gate its sequence length.
pub async fn check(
    config: &RemoteConfig,
    mut request: TuneRequest,
    on_update: OnUpdate,
) -> anyhow::Result<Plan> {
    if provider_of(config, &request) == Provider::Openai {
        anyhow::ensure!(
            request.together == TogetherOptions::default(),
            "LoRA settings, full fine-tuning, a learning rate and checkpoints are Together's \
             settings (--provider together); OpenAI takes --learning-rate-multiplier"
        );
        return plan(config, request);
    }
    anyhow::ensure!(
        request.hyperparameters.learning_rate_multiplier.is_none(),
        "Together takes a learning rate (--learning-rate), not a multiplier"
    );
    let settings = &config.together;
    if request.model.is_empty() {
        request.model = settings
            .model
            .clone()
            .or_else(|| (config.provider == Provider::Together).then(|| config.model.clone()))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no Together model: pass --model or set `model` in [together] of voicetune.toml \
                     (`voicetune tune --provider together --list-models` lists them)"
                )
            })?;
    }
    let api = together_api(config, &on_update)?;
    let limits = match api.client.together_limits(&request.model).await {
        Ok(limits) => limits,
        Err(openai::Error::Api { status: 404, .. }) => anyhow::bail!(
            "Together does not fine-tune `{}`; `voicetune tune --provider together --list-models` \
             lists the models it does",
            request.model
        ),
        Err(e) => return Err(e.into()),
    };
    let create = together_job(settings, &request, &limits)?;
    let target = estimate::Target {
        provider: Provider::Together,
        model: request.model.clone(),
        max_tokens: limits.max_seq_length.or(settings.max_seq_length),
        price_per_million: settings.price_per_million.unwrap_or(0.0),
    };
    let (estimate, findings) = lint_gate(&request, &target, create.n_epochs.or(Some(1)))?;
    Ok(Plan {
        request,
        provider: Provider::Together,
        estimate,
        findings,
        uploaded: Vec::new(),
        quote: None,
        together: Some(create),
    })
}

/// A client of Together's API at the configured URL, announcing retries.
fn together_api(config: &RemoteConfig, on_update: &OnUpdate) -> anyhow::Result<Api> {
    Api::new(
        config,
        Provider::Together,
        None,
        Some(wait_notice(on_update)),
    )
}

/// The provider's own estimate, for a plan that passed [`check`]. Together prices an uploaded
/// file: the files are uploaded (streamed, once) and `/fine-tunes/estimate-price` is compared
/// with our estimate. OpenAI has no such call: nothing is sent.
pub async fn quote(
    config: &RemoteConfig,
    plan: &mut Plan,
    on_update: OnUpdate,
) -> anyhow::Result<()> {
    let Some(job) = plan.together.clone() else {
        return Ok(());
    };
    let api = together_api(config, &on_update)?;
    plan.uploaded = upload_all(&api, &plan.request, &on_update).await?;
    let priced = together::CreateRequest {
        training_file: plan.uploaded[0].clone(),
        validation_file: plan.uploaded.get(1).cloned(),
        ..job
    };
    let theirs = api.client.together_estimate(&priced).await?;
    if theirs.allowed_to_proceed == Some(false) {
        anyhow::bail!(
            "Together will not run this job on your account: it estimates {}{}; nothing was started",
            usd(theirs.estimated_total_price.unwrap_or(0.0)),
            theirs
                .user_limit
                .map(|l| format!(" against a limit of {}", usd(l)))
                .unwrap_or_default()
        );
    }
    plan.quote = Some(Quote {
        comparison: compare_estimates(&plan.estimate, &theirs),
        estimate: theirs,
    });
    Ok(())
}

/// Dollars to the cent, or to a hundredth of a cent below one cent (a small test run).
fn usd(amount: f64) -> String {
    if amount > 0.0 && amount < 0.01 {
        format!("${amount:.4}")
    } else {
        format!("${amount:.2}")
    }
}

/// Our estimate beside Together's, saying where they differ.
fn compare_estimates(ours: &Estimate, theirs: &together::PriceEstimate) -> String {
    let our_tokens = ours.billed_tokens * ours.epochs as u64;
    let mut line = format!(
        "Together's estimate: {}",
        theirs
            .estimated_total_price
            .map(usd)
            .unwrap_or_else(|| "no price".into())
    );
    if let Some(t) = theirs.estimated_train_token_count {
        line.push_str(&format!(" for {} training tokens", t.round() as u64));
    }
    line.push_str(&format!("; ours: {our_tokens} training tokens"));
    if ours.price_per_million > 0.0 {
        line.push_str(&format!(" = {}", ours.cost_text()));
    }
    match theirs.estimated_train_token_count {
        Some(t) if our_tokens > 0 => {
            let diff = (t - our_tokens as f64) / our_tokens as f64 * 100.0;
            if diff.abs() < 1.0 {
                line.push_str(". The token counts agree");
            } else {
                line.push_str(&format!(
                    ". Together counts {:.0}% {} tokens: it uses the model's own tokenizer and chat \
                     template, we count with OpenAI's",
                    diff.abs(),
                    if diff > 0.0 { "more" } else { "fewer" }
                ));
            }
        }
        _ => {}
    }
    if ours.price_per_million > 0.0 {
        if let Some(p) = theirs.estimated_total_price {
            let diff = p - ours.cost_usd;
            if diff.abs() >= 0.01 {
                line.push_str(&format!(
                    "; the prices differ by ${:.2} (ours uses `price_per_million` from [together])",
                    diff.abs()
                ));
            }
        }
    }
    line
}

/// The Together job for `request`, its settings (request first, then `[together]`) checked
/// against the model's limits before anything is uploaded.
fn together_job(
    settings: &TogetherConfig,
    request: &TuneRequest,
    limits: &together::ModelLimits,
) -> anyhow::Result<together::CreateRequest> {
    let opts = &request.together;
    let model = &request.model;
    let epochs = request
        .hyperparameters
        .n_epochs
        .and_then(|e| e.value())
        .or(settings.epochs);
    let batch_size = request
        .hyperparameters
        .batch_size
        .and_then(|b| b.value())
        .or(settings.batch_size);
    let learning_rate = opts.learning_rate.or(settings.learning_rate);
    let full = opts.full.unwrap_or(!settings.lora);
    if let Some(n) = epochs {
        anyhow::ensure!(
            (1..=limits.max_num_epochs).contains(&n),
            "epochs must be 1 to {} for {model} (got {n})",
            limits.max_num_epochs
        );
    }
    if let Some(lr) = learning_rate {
        anyhow::ensure!(
            lr.is_finite() && lr >= limits.min_learning_rate && lr <= limits.max_learning_rate,
            "the learning rate must be {} to {} for {model} (got {lr})",
            limits.min_learning_rate,
            limits.max_learning_rate
        );
    }
    let kind = if full { "full" } else { "LoRA" };
    let training = if full {
        limits.full_training.as_ref()
    } else {
        limits.lora_training.as_ref()
    }
    .ok_or_else(|| anyhow::anyhow!("Together does not offer {kind} training of {model}"))?;
    if let Some(b) = batch_size {
        let max = match request.method {
            MethodType::Dpo => training
                .max_batch_size_dpo
                .unwrap_or(training.max_batch_size),
            _ => training.max_batch_size,
        };
        anyhow::ensure!(
            (training.min_batch_size..=max).contains(&b),
            "the batch size must be {} to {max} for {kind} training of {model} (got {b})",
            training.min_batch_size
        );
    }
    let training_type = if full {
        serde_json::json!({"type": "Full"})
    } else {
        let max_rank = training.max_rank.unwrap_or(u32::MAX);
        let rank = opts.lora_r.or(settings.lora_r).unwrap_or(max_rank.min(16));
        anyhow::ensure!(
            (1..=max_rank).contains(&rank),
            "the LoRA rank must be 1 to {max_rank} for {model} (got {rank})"
        );
        let alpha = opts.lora_alpha.or(settings.lora_alpha).unwrap_or(rank * 2);
        let dropout = opts.lora_dropout.or(settings.lora_dropout).unwrap_or(0.0);
        anyhow::ensure!(
            (0.0..1.0).contains(&dropout),
            "the LoRA dropout must be at least 0 and below 1 (got {dropout})"
        );
        let modules = opts
            .lora_modules
            .clone()
            .or_else(|| settings.lora_trainable_modules.clone())
            .unwrap_or_else(|| "all-linear".into());
        if modules != "all-linear" && !training.target_modules.is_empty() {
            for m in modules.split(',').map(str::trim) {
                anyhow::ensure!(
                    training.target_modules.iter().any(|t| t == m),
                    "{model} has no LoRA target module `{m}`; use all-linear or some of {}",
                    training.target_modules.join(", ")
                );
            }
        }
        serde_json::json!({"type": "Lora", "lora_r": rank, "lora_alpha": alpha,
                           "lora_dropout": dropout, "lora_trainable_modules": modules})
    };
    let training_method = match request.method {
        MethodType::Dpo => {
            let mut m = serde_json::json!({"method": "dpo"});
            if let Some(beta) = request.hyperparameters.beta.and_then(|b| b.value()) {
                m["dpo_beta"] = beta.into();
            }
            m
        }
        // The voice is in the answers: the prompts are masked.
        _ => serde_json::json!({"method": "sft", "train_on_inputs": false}),
    };
    Ok(together::CreateRequest {
        training_file: String::new(),
        validation_file: None,
        model: model.clone(),
        n_epochs: epochs,
        n_checkpoints: opts.n_checkpoints.or(settings.n_checkpoints),
        batch_size,
        learning_rate,
        suffix: request.suffix.clone(),
        random_seed: request.seed,
        training_method,
        training_type,
    })
}

/// Uploads the training file, then the validation file; returns their ids.
async fn upload_all(
    api: &Api,
    request: &TuneRequest,
    on_update: &OnUpdate,
) -> anyhow::Result<Vec<String>> {
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
        let id = api.upload(file, Some(progress)).await?;
        on_update(&Update::Uploaded {
            file: file.clone(),
            id: id.clone(),
        });
        file_ids.push(id);
    }
    Ok(file_ids)
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

/// Uploads the files (unless [`prepare`] did) and creates the job; the job is saved, with its
/// provider, the moment the API returns it.
pub async fn start(
    workspace: &Path,
    config: &RemoteConfig,
    plan: &Plan,
    on_update: OnUpdate,
) -> anyhow::Result<Job> {
    let api = Api::new(config, plan.provider, None, Some(wait_notice(&on_update)))?;
    let request = &plan.request;
    let file_ids = if plan.uploaded.is_empty() {
        upload_all(&api, request, &on_update).await?
    } else {
        plan.uploaded.clone()
    };
    let store = JobStore::new(workspace);
    let known: Vec<String> = store.list()?.into_iter().map(|j| j.id).collect();
    let remote = api.create(plan, &file_ids, &known).await?;
    let mut job = Job::new(remote.id.clone(), JobKind::Remote, remote.model.clone());
    if job.model.is_empty() {
        job.model = request.model.clone();
    }
    job.provider = Some(plan.provider);
    job.voice = request.voice.clone();
    if plan.provider == Provider::Together {
        // The variable's name (never the key), for the voice this job becomes.
        job.details.insert(
            "api_key_env".into(),
            config.together.api_key_env.clone().into(),
        );
    }
    job.details
        .insert("base_url".into(), api.client.base_url().into());
    job.details
        .insert("training_file".into(), file_ids[0].clone().into());
    if let Some(v) = file_ids.get(1) {
        job.details
            .insert("validation_file".into(), v.clone().into());
    }
    job.details
        .insert("method".into(), request.method.to_string().into());
    job.details.insert(
        "estimate".into(),
        serde_json::to_value(&plan.estimate).unwrap_or_default(),
    );
    if let Some(quote) = &plan.quote {
        job.details.insert(
            "provider_estimate".into(),
            serde_json::to_value(&quote.estimate).unwrap_or_default(),
        );
    }
    apply_remote(&mut job, &remote);
    store.save(&job)?;
    on_update(&Update::Created(job.clone()));
    Ok(job)
}

/// The API of the provider that runs `job`, at the URL it was created at.
pub fn api_for(
    config: &RemoteConfig,
    job: &Job,
    notice: Option<openai::WaitNotice>,
) -> anyhow::Result<Api> {
    anyhow::ensure!(
        job.kind == JobKind::Remote,
        "job {} is a {:?} job; only remote jobs are followed through an API",
        job.id,
        job.kind
    );
    Api::new(
        config,
        job.provider.unwrap_or_default(),
        job.detail_str("base_url"),
        notice,
    )
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
    let mut job = store.load(job_id)?;
    let api = api_for(config, &job, Some(wait_notice(&on_update)))?;
    // A job runs for minutes or hours: an outage longer than one call's retries should not end
    // the follow, so failed polls are tried again, more slowly, a number of times.
    const MAX_FAILED_POLLS: u32 = 10;
    let mut failed_polls = 0;
    loop {
        match refresh(workspace, &api, &mut job, &on_update).await {
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
    api: &Api,
    current: &mut Job,
    on_update: &OnUpdate,
) -> anyhow::Result<()> {
    // Work on a copy: `current` changes only once everything, the save included, succeeded,
    // so a poll that fails half-way is simply done again.
    let mut job = current.clone();
    let store = JobStore::new(workspace);
    let remote = api.get(&job.id).await?;
    let events = api
        .new_events(&job.id, job.last_event_id.as_deref())
        .await?;
    let before = (job.status, job.progress.clone());
    for event in &events {
        job.progress.step = event.step.or(job.progress.step);
        job.progress.total_steps = event.total_steps.or(job.progress.total_steps);
        job.progress.train_loss = event.train_loss.or(job.progress.train_loss);
        job.push_log(event.at, &event.level, &event.message);
        job.last_event_id = Some(event.id.clone());
        on_update(&Update::Event {
            job_id: job.id.clone(),
            entry: job.log.last().cloned().expect("just pushed"),
        });
    }
    apply_remote(&mut job, &remote);
    if job.status == JobStatus::Failed && job.error.is_none() {
        // Together says why in its last error event.
        job.error = job
            .log
            .iter()
            .rev()
            .find(|e| e.level == "error")
            .map(|e| e.message.clone());
    }
    // On the move to succeeded only (the file is saved after this, so a failure here is
    // retried by the next follow); a voice the user removed later stays removed.
    if job.status == JobStatus::Succeeded && before.0 != JobStatus::Succeeded {
        // Keep the checkpoints: OpenAI's are models like the final one, Together's are steps
        // that `voicetune jobs download` fetches.
        if !job.details.contains_key("checkpoints") {
            let checkpoints = api.checkpoints(&job.id).await?;
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
fn apply_remote(job: &mut Job, remote: &RemoteJob) {
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
    if let Some(m) = &remote.result_model {
        job.result_model = Some(m.clone());
    }
    if let Some(t) = remote.trained_tokens {
        job.progress.trained_tokens = Some(t);
    }
    if let Some(err) = &remote.error {
        job.error = Some(err.clone());
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
    let provider = job.provider.unwrap_or_default();
    let voice = crate::voices::Voice::Remote {
        model: model.clone(),
        base_url: job.detail_str("base_url").map(str::to_string),
        job_id: Some(job.id.clone()),
        provider: Some(provider.to_string()),
        // The variable, never the key: the voice is called with the provider's key.
        api_key_env: job.detail_str("api_key_env").map(str::to_string),
    };
    crate::voices::Registry::register(workspace, &name, voice)
        .with_context(|| format!("registering voice `{name}`"))
}

/// Cancels a job and records the result.
pub async fn cancel(workspace: &Path, config: &RemoteConfig, job_id: &str) -> anyhow::Result<Job> {
    let store = JobStore::new(workspace);
    let mut job = store.load(job_id)?;
    let api = api_for(config, &job, None)?;
    let remote = api.cancel(job_id).await?;
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

/// The whole path in one call, for faces that confirm through a callback: prepare, ask, start.
/// Returns None when the user declined (no job was created; a Together upload stays, unused).
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
    let plan = prepare(config, request, on_update.clone()).await?;
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

    #[test]
    fn together_section_is_typed_with_its_defaults() {
        let path = Path::new("voicetune.toml");
        let config = crate::config::Config::from_toml(
            "provider = \"together\"\n[together]\nmodel = \"m/x\"\nlora_r = 8\n",
            path,
        )
        .unwrap();
        let remote = RemoteConfig::from_config(&config).unwrap();
        assert_eq!(remote.provider, Provider::Together);
        assert_eq!(remote.together.model.as_deref(), Some("m/x"));
        assert_eq!(remote.together.lora_r, Some(8));
        assert!(remote.together.lora);
        assert_eq!(remote.together.api_key_env, "TOGETHER_API_KEY");
        let config = crate::config::Config::from_toml("[together]\nlora_rank = 8\n", path).unwrap();
        let err = RemoteConfig::from_config(&config).unwrap_err().to_string();
        assert!(
            err.contains("[together]") && err.contains("lora_rank"),
            "{err}"
        );
    }
}
