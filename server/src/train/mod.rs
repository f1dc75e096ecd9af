//! Fine-tuning services: local LoRA training ([`local`]) and the OpenAI fine-tuning API ([`remote`]).
pub mod jobs;
pub mod local;
pub mod remote;

use jobs::{Job, JobKind, JobStatus, JobStore};
use remote::RemoteConfig;
use std::path::Path;

/// What [`cancel_job`] did.
#[derive(Debug)]
pub enum Cancelling {
    /// The job was cancelled before; nothing was done.
    Already(Job),
    /// A local run was asked to stop: it runs until its trainer notices, at its next step.
    Asked(Job),
    /// A remote job as its API answered.
    Answered(Job),
}

impl Cancelling {
    pub fn job(&self) -> &Job {
        match self {
            Cancelling::Already(job) | Cancelling::Asked(job) | Cancelling::Answered(job) => job,
        }
    }
}

/// Cancels job `id` of `workspace`, for `voicetune jobs cancel` and `voicetune.cancelJob` alike:
/// a remote job through its API; a local one by asking the process that trains it (this one or
/// any other) to stop at its next step, which saves a checkpoint and marks the job cancelled.
/// Cancelling a cancelled job again does nothing; one that succeeded or failed is an error that
/// says so.
pub async fn cancel_job(
    workspace: &Path,
    config: &RemoteConfig,
    id: &str,
) -> anyhow::Result<Cancelling> {
    let store = JobStore::new(workspace);
    let job = store.load(id)?;
    if job.status == JobStatus::Cancelled {
        return Ok(Cancelling::Already(job));
    }
    anyhow::ensure!(
        !job.status.is_terminal(),
        "job {id} already {}; there is nothing to cancel",
        job.status
    );
    match job.kind {
        JobKind::Remote => Ok(Cancelling::Answered(
            remote::cancel(workspace, config, id).await?,
        )),
        JobKind::Local => {
            store.request_cancel(id)?;
            Ok(Cancelling::Asked(job))
        }
    }
}
