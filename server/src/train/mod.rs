//! Fine-tuning services: local LoRA training ([`local`]) and the OpenAI fine-tuning API ([`remote`]).
pub mod jobs;
pub mod local;
pub mod remote;

use jobs::{Job, JobKind, JobStore};
use remote::RemoteConfig;
use std::path::Path;

/// Cancels job `id` of `workspace`, for `voicetune jobs cancel` and `voicetune.cancelJob` alike:
/// a remote job through its API; a local one by asking the process that trains it (this one or
/// any other) to stop at its next step, which saves a checkpoint and marks the job cancelled.
/// Returns the job as it is now (a local one is still running until its trainer notices); a job
/// already in a final state is an error that says which.
pub async fn cancel_job(workspace: &Path, config: &RemoteConfig, id: &str) -> anyhow::Result<Job> {
    let store = JobStore::new(workspace);
    let job = store.load(id)?;
    anyhow::ensure!(
        !job.status.is_terminal(),
        "job {id} already {}; there is nothing to cancel",
        job.status
    );
    match job.kind {
        JobKind::Remote => remote::cancel(workspace, config, id).await,
        JobKind::Local => {
            store.request_cancel(id)?;
            Ok(job)
        }
    }
}
