//! `voicetune tune` and `voicetune jobs`: the command-line face of remote fine-tuning and of the
//! job registry. `main.rs` only dispatches here.

use super::api::{Auto, Hyperparameters, MethodType};
use super::{OnUpdate, RemoteConfig, TuneRequest, Update};
use crate::train::jobs::{Job, JobKind, JobStore};
use clap::{Args, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Supervised,
    Dpo,
}

/// `voicetune tune DATASET.jsonl --model M [--validation FILE] [--yes]`
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Training file (JSONL).
    pub dataset: PathBuf,
    /// Base model (default: `model` in the [remote] section of voicetune.toml).
    #[arg(long)]
    pub model: Option<String>,
    /// Validation file (JSONL).
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Start without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Upload even if the lint finds errors.
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value = "supervised")]
    pub method: MethodArg,
    /// Epochs, 1-50 (default: OpenAI's automatic choice).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Examples per batch, 1-256 (default: automatic).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Scales the base learning rate, > 0 (default: automatic).
    #[arg(long)]
    pub learning_rate_multiplier: Option<f64>,
    /// DPO only: how strongly to prefer the preferred output, in (0, 2] (default: automatic).
    #[arg(long)]
    pub beta: Option<f64>,
    /// Added to the fine-tuned model's name (1-64 characters).
    #[arg(long)]
    pub suffix: Option<String>,
    /// Seed for a reproducible run, 0-2147483647.
    #[arg(long)]
    pub seed: Option<u32>,
    /// Voice name to register on success (default: the fine-tuned model id).
    #[arg(long)]
    pub voice: Option<String>,
    /// Return once the job is created instead of following it.
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the workspace's jobs (the default).
    List {
        /// List the jobs the API knows instead (all of the account's fine-tuning jobs).
        #[arg(long)]
        remote: bool,
    },
    /// Follow a job until it finishes.
    Watch { id: String },
    /// Cancel a job.
    Cancel { id: String },
    /// Print a job's events.
    Events { id: String },
}

/// The workspace: the nearest folder at or above `start` with a voicetune.toml or .voicetune.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    start
        .ancestors()
        .find(|dir| dir.join("voicetune.toml").is_file() || dir.join(".voicetune").is_dir())
        .map(Path::to_path_buf)
}

/// The workspace of the current folder, else the current folder itself.
fn current_workspace() -> PathBuf {
    find_workspace(Path::new("."))
        .unwrap_or_else(|| std::path::absolute(".").unwrap_or_else(|_| PathBuf::from(".")))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

/// Prints updates on stderr (events on stdout), like a person would want to read them.
fn printer() -> OnUpdate {
    let last_percent = std::sync::Mutex::new(u64::MAX);
    Arc::new(move |u: &Update| match u {
        Update::Uploading { file, sent, total } => {
            let pct = if *total == 0 { 100 } else { sent * 100 / total };
            let mut last = last_percent.lock().unwrap_or_else(|e| e.into_inner());
            if *last != pct && (pct % 10 == 0) {
                eprintln!("uploading {}: {pct}%", file.display());
            }
            *last = pct;
        }
        Update::Uploaded { file, id } => eprintln!("uploaded {} as {id}", file.display()),
        Update::Created(job) => {
            eprintln!("created job {} ({})", job.id, job.status);
            eprintln!("follow it later with: voicetune jobs watch {}", job.id);
        }
        Update::Event { entry, .. } => println!("[{}] {}", entry.level, entry.message),
        Update::Changed(job) => match job.progress.percent() {
            Some(p) => eprintln!("job {}: {} ({p}%)", job.id, job.status),
            None => eprintln!("job {}: {}", job.id, job.status),
        },
        Update::Finished(_) => {}
    })
}

/// Asks on the terminal; piped input is read too, and end of input means no.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn report_final(job: &Job) -> ExitCode {
    match job.status {
        crate::train::jobs::JobStatus::Succeeded => {
            let model = job.result_model.as_deref().unwrap_or("?");
            match (job.kind, job.voice.as_deref()) {
                // Remote voices are registered by `follow`, under the model id by default.
                (JobKind::Remote, voice) => println!(
                    "job {} succeeded: model {model}, registered as voice `{}`",
                    job.id,
                    voice.unwrap_or(model)
                ),
                (JobKind::Local, _) => println!("job {} succeeded: model {model}", job.id),
            }
            ExitCode::SUCCESS
        }
        status => {
            let why = job
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            eprintln!("job {} {status}{why}", job.id);
            ExitCode::FAILURE
        }
    }
}

pub fn run_tune(args: TuneArgs) -> ExitCode {
    let dir = args
        .dataset
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The dataset's workspace, else the current one: `jobs` run from here must find the job.
    let workspace = find_workspace(dir).unwrap_or_else(current_workspace);
    let result = (|| -> anyhow::Result<ExitCode> {
        let config = RemoteConfig::load(&workspace)?;
        let hyper = Hyperparameters {
            n_epochs: args.epochs.map(Auto::Value),
            batch_size: args.batch_size.map(Auto::Value),
            learning_rate_multiplier: args.learning_rate_multiplier.map(Auto::Value),
            beta: args.beta.map(Auto::Value),
        };
        let request = TuneRequest {
            training: args.dataset.clone(),
            validation: args.validation.clone(),
            model: args.model.clone().unwrap_or_default(),
            method: match args.method {
                MethodArg::Supervised => MethodType::Supervised,
                MethodArg::Dpo => MethodType::Dpo,
            },
            hyperparameters: hyper,
            suffix: args.suffix.clone(),
            seed: args.seed,
            voice: args.voice.clone(),
            force: args.force,
        };
        // Fail on a missing key before linting a large file.
        config.client(None)?;
        let plan = super::plan(&config, request)?;
        // The full list is `voicetune lint`'s job; here a glimpse is enough.
        const SHOWN: usize = 20;
        for f in plan.findings.iter().take(SHOWN) {
            eprintln!("{f}");
        }
        if plan.findings.len() > SHOWN {
            eprintln!(
                "... and {} more findings (`voicetune lint` lists them all)",
                plan.findings.len() - SHOWN
            );
        }
        eprintln!("estimate: {}", plan.estimate.summary());
        if !args.yes {
            if !std::io::stdin().is_terminal() {
                eprintln!("(reading the answer from standard input; pass --yes to skip)");
            }
            if !ask(&format!("{}?", plan.confirm_title())) {
                eprintln!("cancelled; nothing was uploaded");
                return Ok(ExitCode::FAILURE);
            }
        }
        let rt = runtime()?;
        rt.block_on(async {
            let job = super::start(&workspace, &config, &plan, printer()).await?;
            if args.detach {
                return Ok(ExitCode::SUCCESS);
            }
            let job = super::follow(&workspace, &config, &job.id, printer()).await?;
            Ok(report_final(&job))
        })
    })();
    result.unwrap_or_else(fail)
}

pub fn run_jobs(args: JobsArgs) -> ExitCode {
    let workspace = current_workspace();
    let result = (|| -> anyhow::Result<ExitCode> {
        let store = JobStore::new(&workspace);
        match args.command.unwrap_or(JobsCommand::List { remote: false }) {
            JobsCommand::List { remote: true } => {
                let config = RemoteConfig::load(&workspace)?;
                let client = config.client(None)?;
                runtime()?.block_on(async {
                    let mut after: Option<String> = None;
                    // Newest first; a bounded number of pages.
                    for _ in 0..50 {
                        let page = client.list_jobs(after.as_deref(), 100).await?;
                        for job in &page.data {
                            println!(
                                "{}\t{}\t{}\t{}",
                                job.id,
                                job.status,
                                job.model,
                                job.fine_tuned_model.as_deref().unwrap_or("-")
                            );
                        }
                        match (page.has_more, page.data.last()) {
                            (true, Some(last)) => after = Some(last.id.clone()),
                            _ => break,
                        }
                    }
                    anyhow::Ok(())
                })?;
                Ok(ExitCode::SUCCESS)
            }
            JobsCommand::List { remote: false } => {
                let jobs = store.list()?;
                if jobs.is_empty() {
                    println!("no jobs in {}", store.dir().display());
                }
                for job in jobs {
                    let progress = job
                        .progress
                        .percent()
                        .map(|p| format!(" {p}%"))
                        .unwrap_or_default();
                    let result = job.result_model.as_deref().unwrap_or("-");
                    let kind = match job.kind {
                        JobKind::Local => "local",
                        JobKind::Remote => "remote",
                    };
                    println!(
                        "{}\t{kind}\t{}{progress}\t{}\t{result}",
                        job.id, job.status, job.model
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            JobsCommand::Watch { id } => {
                let job = store.load(&id)?;
                let config = RemoteConfig::load(&workspace)?;
                let rt = runtime()?;
                let job = match job.kind {
                    JobKind::Remote => {
                        rt.block_on(super::follow(&workspace, &config, &id, printer()))?
                    }
                    // Local jobs are run by their own process; watch their file.
                    JobKind::Local => rt.block_on(watch_file(&store, job, &config))?,
                };
                Ok(report_final(&job))
            }
            JobsCommand::Cancel { id } => {
                let config = RemoteConfig::load(&workspace)?;
                let job = runtime()?.block_on(super::cancel(&workspace, &config, &id))?;
                println!("job {}: {}", job.id, job.status);
                Ok(ExitCode::SUCCESS)
            }
            JobsCommand::Events { id } => {
                let job = store.load(&id)?;
                if job.kind == JobKind::Remote {
                    let config = RemoteConfig::load(&workspace)?;
                    let client = config.client(job.detail_str("base_url"))?;
                    let events = runtime()?.block_on(client.new_events(&id, None))?;
                    for e in events {
                        println!("{}\t[{}] {}", e.created_at, e.level, e.message);
                    }
                } else {
                    for e in &job.log {
                        println!("{}\t[{}] {}", e.at, e.level, e.message);
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })();
    result.unwrap_or_else(fail)
}

/// Follows a job by re-reading its file (for jobs another process runs).
async fn watch_file(store: &JobStore, mut job: Job, config: &RemoteConfig) -> anyhow::Result<Job> {
    let mut shown = 0;
    loop {
        for e in job.log.iter().skip(shown) {
            println!("[{}] {}", e.level, e.message);
        }
        shown = job.log.len();
        if job.status.is_terminal() {
            return Ok(job);
        }
        tokio::time::sleep(
            config
                .poll_interval()
                .min(std::time::Duration::from_secs(2)),
        )
        .await;
        job = store.load(&job.id)?;
        shown = shown.min(job.log.len());
    }
}
