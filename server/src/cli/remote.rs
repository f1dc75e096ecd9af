//! What `voicetune tune` and `voicetune jobs` share: the workspace, the runtime, and how job
//! progress and outcomes are printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use voicetune::train::jobs::{Job, JobKind, JobStatus};
use voicetune::train::remote::{OnUpdate, Update};

/// The workspace: the nearest folder at or above `start` with a voicetune.toml or .voicetune.
pub(super) fn find_workspace(start: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    start
        .ancestors()
        .find(|dir| dir.join("voicetune.toml").is_file() || dir.join(".voicetune").is_dir())
        .map(Path::to_path_buf)
}

/// The workspace of the current folder, else the current folder itself.
pub(super) fn current_workspace() -> PathBuf {
    find_workspace(Path::new("."))
        .unwrap_or_else(|| std::path::absolute(".").unwrap_or_else(|_| PathBuf::from(".")))
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(super) fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!(
        "error: {}",
        voicetune::lint::report::escape_controls_by_line(&format!("{e:#}"))
    );
    ExitCode::FAILURE
}

/// Prints the client's retry notices on stderr (for calls outside a tune or a follow).
pub(super) fn waiting_on_stderr() -> voicetune::openai::WaitNotice {
    Arc::new(|w: &voicetune::openai::Waiting| eprintln!("{w}"))
}

/// Prints updates on stderr (events on stdout), like a person would want to read them.
pub(super) fn printer() -> OnUpdate {
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
        Update::Event { entry, .. } => println!(
            "[{}] {}",
            entry.level,
            voicetune::lint::report::escape_controls(&entry.message)
        ),
        Update::Changed(job) => match job.progress.percent() {
            Some(p) => eprintln!("job {}: {} ({p}%)", job.id, job.status),
            None => eprintln!("job {}: {}", job.id, job.status),
        },
        Update::Finished(_) => {}
        Update::Waiting(line) => eprintln!("{line}"),
    })
}

pub(super) fn report_final(job: &Job) -> ExitCode {
    match job.status {
        JobStatus::Succeeded => {
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
