//! `voicetune jobs`: list, watch, cancel fine-tuning jobs (remote and local), or print their
//! events.

use super::config::remote_config;
use super::remote::{current_workspace, fail, printer, report_final, runtime, waiting_on_stderr};
use clap::{Args, Subcommand};
use std::process::ExitCode;
use voicetune::config::Provider;
use voicetune::lint::report::escape_controls;
use voicetune::train::jobs::{Job, JobKind, JobStore};
use voicetune::train::remote::download::{self, Checkpoint, LocalVoice};
use voicetune::train::remote::{self, RemoteConfig};
use voicetune::train::{cancel_job, Cancelling};

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
    /// Download a Together job's LoRA adapter (or merged weights, or a checkpoint), check it,
    /// and register it as a local voice when its base model runs locally.
    Download {
        id: String,
        /// `adapter` (the default), `merged`, or a checkpoint's step number.
        #[arg(long, default_value = "adapter")]
        checkpoint: String,
        /// The local voice's name (default: the job's voice name with `-local`).
        #[arg(long)]
        voice: Option<String>,
    },
}

pub(crate) fn run(args: JobsArgs) -> ExitCode {
    let workspace = current_workspace();
    let result = (|| -> anyhow::Result<ExitCode> {
        let store = JobStore::new(&workspace);
        match args.command.unwrap_or(JobsCommand::List { remote: false }) {
            JobsCommand::List { remote: true } => {
                let config = remote_config(&workspace)?;
                let client = config
                    .client_for(config.provider, None)?
                    .with_wait_notice(waiting_on_stderr());
                if config.provider == Provider::Together {
                    for job in runtime()?.block_on(client.together_jobs())? {
                        println!(
                            "{}\t{}\t{}\t{}",
                            job.id,
                            job.status,
                            job.model.as_deref().unwrap_or("-"),
                            job.model_output_name.as_deref().unwrap_or("-")
                        );
                    }
                    return Ok(ExitCode::SUCCESS);
                }
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
                    println!(
                        "{}\t{}\t{}{progress}\t{}\t{result}",
                        job.id,
                        job.runner(),
                        job.status,
                        job.model
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            JobsCommand::Watch { id } => {
                let job = store.load(&id)?;
                let config = remote_config(&workspace)?;
                let rt = runtime()?;
                let job = match job.kind {
                    JobKind::Remote => {
                        rt.block_on(remote::follow(&workspace, &config, &id, printer()))?
                    }
                    // Local jobs are run by their own process; watch their file.
                    JobKind::Local => rt.block_on(watch_file(&store, job, 0, &config))?,
                };
                Ok(report_final(&job))
            }
            JobsCommand::Cancel { id } => {
                let config = remote_config(&workspace)?;
                let rt = runtime()?;
                let job = match rt.block_on(cancel_job(&workspace, &config, &id))? {
                    Cancelling::Already(_) => {
                        println!("job {id}: already cancelled");
                        return Ok(ExitCode::SUCCESS);
                    }
                    Cancelling::Answered(job) => job,
                    Cancelling::Asked(job) => {
                        println!(
                            "job {id}: cancelling (it stops at its next step with a checkpoint)"
                        );
                        // Its trainer, in whatever process runs it, stops at its next step:
                        // wait for that, so the answer is the job's final state. A job that
                        // names its process is settled as failed if that process dies
                        // meanwhile; one from an older version is not, so it is not waited on.
                        if !job.details.contains_key("owner") {
                            return Ok(ExitCode::SUCCESS);
                        }
                        let shown = job.log.len();
                        rt.block_on(watch_file(&store, job, shown, &config))?
                    }
                };
                if job.status.is_terminal() {
                    println!("job {}: {}", job.id, job.status);
                } else {
                    // Together first answers that the cancel is requested; the job stops later.
                    println!(
                        "job {}: cancel requested, still {} (`voicetune jobs watch {}` follows it to the end)",
                        job.id, job.status, job.id
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            JobsCommand::Events { id } => {
                let job = store.load(&id)?;
                if job.kind == JobKind::Remote {
                    let config = remote_config(&workspace)?;
                    let api = remote::api_for(&config, &job, Some(waiting_on_stderr()))?;
                    let events = runtime()?.block_on(api.new_events(&id, None))?;
                    for e in events {
                        println!("{}\t[{}] {}", e.at, e.level, escape_controls(&e.message));
                    }
                } else {
                    for e in &job.log {
                        println!("{}\t[{}] {}", e.at, e.level, escape_controls(&e.message));
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            JobsCommand::Download {
                id,
                checkpoint,
                voice,
            } => {
                let config = remote_config(&workspace)?;
                let checkpoint: Checkpoint = checkpoint.parse().map_err(anyhow::Error::msg)?;
                let last_tenth = std::sync::Mutex::new(u64::MAX);
                let progress = move |got: u64, total: Option<u64>| {
                    if let Some(total) = total.filter(|t| *t > 0) {
                        let tenth = got * 10 / total;
                        let mut last = last_tenth.lock().unwrap_or_else(|e| e.into_inner());
                        if *last != tenth {
                            eprintln!("downloading: {}%", tenth * 10);
                            *last = tenth;
                        }
                    }
                };
                let done = runtime()?.block_on(download::download(
                    &workspace,
                    &config,
                    &id,
                    &checkpoint,
                    voice.as_deref(),
                    &progress,
                ))?;
                println!(
                    "downloaded {} ({} bytes, {}; checked: {})",
                    done.path.display(),
                    done.bytes,
                    done.format,
                    done.files
                        .iter()
                        .map(|(name, size)| format!("{name} {size} bytes"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                match done.local {
                    LocalVoice::Registered { name, adapter } => println!(
                        "registered local voice `{name}` (adapter in {}); try it: voicetune generate --model {name} \"...\"",
                        adapter.display()
                    ),
                    LocalVoice::NeedsBaseModel(base) => println!(
                        "not registered as a local voice: this adapter is for {base}, and the local \
                         runtime loads {} only; the file is kept, and the job's remote voice works as it is",
                        download::LOCAL_BASE_MODEL
                    ),
                    LocalVoice::NotAnAdapter => println!(
                        "not registered as a local voice: the download holds no LoRA adapter \
                         (adapter_config.json); the file is kept"
                    ),
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })();
    result.unwrap_or_else(fail)
}

/// Follows a job by re-reading its file (for jobs another process runs), printing its log
/// lines after the first `shown`.
async fn watch_file(
    store: &JobStore,
    mut job: Job,
    mut shown: usize,
    config: &RemoteConfig,
) -> anyhow::Result<Job> {
    loop {
        for e in job.log.iter().skip(shown) {
            println!("[{}] {}", e.level, escape_controls(&e.message));
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
