//! The persisted job registry: one JSON file per fine-tuning job under `.voicetune/jobs/<id>.json`
//! in the workspace, shared by local and remote training and by the CLI and the server, so a
//! restart of either resumes following the jobs that were still running.
//!
//! A job moves forward through validating -> queued -> running -> succeeded | failed | cancelled;
//! it may skip states (a provider can go straight from queued to failed) but never goes back,
//! and the three final states are final.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Who runs the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// The local candle LoRA trainer.
    Local,
    /// An OpenAI-compatible fine-tuning API.
    Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Validating,
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// Whether a job may move from `self` to `next` (staying put is allowed).
    pub fn can_become(self, next: JobStatus) -> bool {
        self == next || (!self.is_terminal() && next > self)
    }

    /// The providers' status names: OpenAI's (`validating_files`, ...) and Together's
    /// (`pending`, `compressing`, `cancel_requested`, `completed`, `error`, ...; a job still
    /// packing its output, or asked to cancel, is running until the API says otherwise).
    pub fn from_api(s: &str) -> Option<JobStatus> {
        Some(match s {
            "validating_files" | "validating" => JobStatus::Validating,
            "queued" | "pending" => JobStatus::Queued,
            "running" | "compressing" | "uploading" | "cancel_requested" => JobStatus::Running,
            "succeeded" | "completed" => JobStatus::Succeeded,
            "failed" | "error" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Validating => "validating",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Unix seconds.
    pub at: i64,
    pub level: String,
    pub message: String,
}

/// How far a running job is, when the trainer says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: Option<u64>,
    pub total_steps: Option<u64>,
    pub train_loss: Option<f64>,
    pub trained_tokens: Option<u64>,
}

impl Progress {
    /// Percent done, when both step and total are known.
    pub fn percent(&self) -> Option<u32> {
        match (self.step, self.total_steps) {
            (Some(s), Some(t)) if t > 0 => Some(((s.min(t) * 100) / t) as u32),
            _ => None,
        }
    }
}

/// A fine-tuning job as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The trainer's id (`ftjob-...` for OpenAI); also the file name.
    pub id: String,
    pub kind: JobKind,
    /// Who runs a remote job (absent in records written before Together: OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::config::Provider>,
    pub status: JobStatus,
    /// Base model (OpenAI model name, or GGUF path for local jobs).
    pub model: String,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// The voice name to register when the job succeeds.
    #[serde(default)]
    pub voice: Option<String>,
    /// What the job produced: the fine-tuned model id, or the adapter folder.
    #[serde(default)]
    pub result_model: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub progress: Progress,
    /// The trainer's own id of the newest event already in `log`.
    #[serde(default)]
    pub last_event_id: Option<String>,
    /// The newest [`Job::LOG_LIMIT`] log lines, oldest first.
    #[serde(default)]
    pub log: Vec<LogEntry>,
    /// Kind-specific facts: for remote jobs the base URL, file ids, the estimate.
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
}

impl Job {
    pub const LOG_LIMIT: usize = 500;

    pub fn new(id: impl Into<String>, kind: JobKind, model: impl Into<String>) -> Job {
        let now = now_secs();
        Job {
            id: id.into(),
            kind,
            provider: None,
            status: JobStatus::Validating,
            model: model.into(),
            created_at: now,
            updated_at: now,
            voice: None,
            result_model: None,
            error: None,
            progress: Progress::default(),
            last_event_id: None,
            log: Vec::new(),
            details: BTreeMap::new(),
        }
    }

    /// Moves to `next`; an illegal move (backwards, or out of a final state) is refused and
    /// leaves the job unchanged. Returns whether the status changed.
    pub fn set_status(&mut self, next: JobStatus) -> Result<bool, String> {
        if !self.status.can_become(next) {
            return Err(format!(
                "job {}: cannot go from {} to {}",
                self.id, self.status, next
            ));
        }
        let changed = self.status != next;
        self.status = next;
        self.updated_at = now_secs();
        Ok(changed)
    }

    pub fn push_log(&mut self, at: i64, level: &str, message: &str) {
        self.log.push(LogEntry {
            at,
            level: level.to_string(),
            message: message.to_string(),
        });
        if self.log.len() > Self::LOG_LIMIT {
            let excess = self.log.len() - Self::LOG_LIMIT;
            self.log.drain(..excess);
        }
        self.updated_at = now_secs();
    }

    /// Who runs the job, for display: `local`, `openai` or `together`.
    pub fn runner(&self) -> &'static str {
        match (self.kind, self.provider) {
            (JobKind::Local, _) => "local",
            (JobKind::Remote, Some(crate::config::Provider::Together)) => "together",
            (JobKind::Remote, _) => "openai",
        }
    }

    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.details.get(key).and_then(|v| v.as_str())
    }
}

/// The running process as a job records its owner: the pid and the kernel's start time of the
/// process, so that a later process that happens to get the same pid is not taken for it.
pub fn this_process() -> serde_json::Value {
    let pid = std::process::id();
    serde_json::json!({ "pid": pid, "started": process_start(pid) })
}

/// The start time of process `pid` (clock ticks after boot, from `/proc/PID/stat`), or None
/// where there is no such process or no `/proc`.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process recorded by [`this_process`] still runs; None when that cannot be told.
fn owner_alive(owner: &serde_json::Value) -> Option<bool> {
    let pid = u32::try_from(owner.get("pid")?.as_u64()?).ok()?;
    let started = owner.get("started")?.as_u64()?;
    if !Path::new("/proc/self/stat").exists() {
        return None;
    }
    Some(process_start(pid) == Some(started))
}

impl Job {
    /// A running local job whose training process is gone was killed or crashed: it becomes
    /// failed, saying so (its checkpoint is still there). Returns whether it changed.
    pub fn settle_if_orphaned(&mut self) -> bool {
        if self.kind != JobKind::Local || self.status != JobStatus::Running {
            return false;
        }
        let Some(owner) = self.details.get("owner") else {
            return false;
        };
        if owner_alive(owner) != Some(false) {
            return false;
        }
        let pid = owner.get("pid").and_then(|p| p.as_u64()).unwrap_or(0);
        let message = format!(
            "the training process (pid {pid}) ended without finishing: it was killed or crashed; \
             train the same voice again with --resume to continue from its last checkpoint"
        );
        let _ = self.set_status(JobStatus::Failed);
        self.push_log(now_secs(), "error", &message);
        self.error = Some(message);
        true
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The job files of one workspace.
#[derive(Debug, Clone)]
pub struct JobStore {
    dir: PathBuf,
}

/// Serialises saves within this process: `write_atomic`'s temp name is per process, so two
/// threads saving the same job at once must not interleave.
static SAVE_LOCK: Mutex<()> = Mutex::new(());

impl JobStore {
    /// The store of `workspace` (`<workspace>/.voicetune/jobs`); created on first save.
    pub fn new(workspace: &Path) -> JobStore {
        JobStore {
            dir: workspace.join(".voicetune").join("jobs"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> anyhow::Result<PathBuf> {
        crate::voices::check_path_name("job id", id)?;
        Ok(self.dir.join(format!("{id}.json")))
    }

    /// Writes the job atomically.
    pub fn save(&self, job: &Job) -> anyhow::Result<()> {
        let path = self.path(&job.id)?;
        let json = serde_json::to_vec_pretty(job)?;
        let _guard = SAVE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.dir.display()))?;
        crate::fsutil::write_atomic(&path, &json)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The cancel marker of job `id`: `<id>.cancel` beside its JSON. A local job is trained by
    /// whichever process started it (a terminal's `voicetune train`, another editor's server);
    /// any other process asks it to stop by writing this file, which the trainer polls for.
    fn cancel_marker(&self, id: &str) -> anyhow::Result<PathBuf> {
        crate::voices::check_path_name("job id", id)?;
        Ok(self.dir.join(format!("{id}.cancel")))
    }

    /// Asks the process training local job `id` to stop at its next step with a checkpoint.
    pub fn request_cancel(&self, id: &str) -> anyhow::Result<()> {
        let path = self.cancel_marker(id)?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.dir.display()))?;
        crate::fsutil::write_atomic(&path, b"")
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Whether some process asked job `id` to stop (one stat).
    pub fn cancel_requested(&self, id: &str) -> bool {
        self.cancel_marker(id).is_ok_and(|p| p.exists())
    }

    /// Removes job `id`'s cancel marker once the request is answered (or before a run starts).
    pub fn clear_cancel(&self, id: &str) {
        if let Ok(path) = self.cancel_marker(id) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The job `id`, or None if there is no such file.
    pub fn get(&self, id: &str) -> anyhow::Result<Option<Job>> {
        let path = self.path(id)?;
        match std::fs::read_to_string(&path) {
            Ok(text) => self.settled(parse_job(&path, &text)?).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    /// The job `id`, or an error saying how to see the known ones.
    pub fn load(&self, id: &str) -> anyhow::Result<Job> {
        self.get(id)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no job `{id}` in {}; `voicetune jobs list` shows the known jobs",
                self.dir.display()
            )
        })
    }

    /// All jobs, oldest first. Unreadable files are reported, not skipped silently.
    pub fn list(&self) -> anyhow::Result<Vec<Job>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", self.dir.display())),
        };
        let mut jobs = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            jobs.push(self.settled(parse_job(&path, &text)?)?);
        }
        jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(jobs)
    }

    /// `job`, marked failed and saved if its training process is gone.
    fn settled(&self, mut job: Job) -> anyhow::Result<Job> {
        if job.settle_if_orphaned() {
            self.save(&job)?;
        }
        Ok(job)
    }

    /// Jobs not yet in a final state: the ones to resume following after a restart.
    pub fn active(&self, kind: Option<JobKind>) -> anyhow::Result<Vec<Job>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|j| !j.status.is_terminal() && kind.is_none_or(|k| j.kind == k))
            .collect())
    }
}

fn parse_job(path: &Path, text: &str) -> anyhow::Result<Job> {
    serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: invalid job file: {e}; fix or delete it",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_local_job_whose_process_is_gone_becomes_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = JobStore::new(dir.path());
        let running = |id: &str, owner: serde_json::Value| {
            let mut job = Job::new(id, JobKind::Local, "base.gguf");
            job.set_status(JobStatus::Running).unwrap();
            job.details.insert("owner".into(), owner);
            store.save(&job).unwrap();
        };
        // This process: alive.
        running("local-alive", this_process());
        // Our pid with another start time: a process that has ended and whose pid was reused.
        let mut gone = this_process();
        gone["started"] = serde_json::json!(gone["started"].as_u64().unwrap() + 1);
        running("local-gone", gone);
        // An older job without an owner is left alone.
        let mut old = Job::new("local-old", JobKind::Local, "base.gguf");
        old.set_status(JobStatus::Running).unwrap();
        store.save(&old).unwrap();

        assert_eq!(
            store.load("local-alive").unwrap().status,
            JobStatus::Running
        );
        assert_eq!(store.load("local-old").unwrap().status, JobStatus::Running);
        let jobs = store.list().unwrap();
        let gone = jobs.iter().find(|j| j.id == "local-gone").unwrap();
        assert_eq!(gone.status, JobStatus::Failed);
        let error = gone.error.as_deref().unwrap();
        assert!(
            error.contains("killed or crashed") && error.contains("--resume"),
            "{error}"
        );
        // Saved, so every later reader sees it failed.
        let text =
            std::fs::read_to_string(dir.path().join(".voicetune/jobs/local-gone.json")).unwrap();
        assert!(text.contains("\"failed\""), "{text}");
    }

    #[test]
    fn a_cancel_request_is_a_marker_beside_the_job_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = JobStore::new(dir.path());
        let job = Job::new("local-pirate-1", JobKind::Local, "base.gguf");
        store.save(&job).unwrap();
        assert!(!store.cancel_requested(&job.id));
        store.request_cancel(&job.id).unwrap();
        assert!(store.cancel_requested(&job.id));
        assert!(dir
            .path()
            .join(".voicetune/jobs/local-pirate-1.cancel")
            .exists());
        // The marker is not a job: the list is unchanged.
        assert_eq!(store.list().unwrap(), std::slice::from_ref(&job));
        store.clear_cancel(&job.id);
        assert!(!store.cancel_requested(&job.id));
        assert!(store.request_cancel("../x").is_err());
    }

    #[test]
    fn status_only_moves_forward_and_final_states_stay() {
        use JobStatus::*;
        let mut job = Job::new("ftjob-1", JobKind::Remote, "gpt-4o-mini-2024-07-18");
        assert_eq!(job.set_status(Queued), Ok(true));
        assert_eq!(job.set_status(Queued), Ok(false));
        assert!(job.set_status(Validating).is_err());
        assert_eq!(job.status, Queued);
        assert_eq!(job.set_status(Failed), Ok(true)); // skipping running is allowed
        for next in [Validating, Queued, Running, Succeeded, Cancelled] {
            assert!(job.set_status(next).is_err(), "{next}");
        }
        assert_eq!(job.status, Failed);
        assert_eq!(JobStatus::from_api("validating_files"), Some(Validating));
        assert_eq!(JobStatus::from_api("paused"), None);
    }

    #[test]
    fn store_round_trips_and_lists_active_jobs() {
        let dir = std::env::temp_dir().join(format!("voicetune-jobs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = JobStore::new(&dir);
        assert!(store.list().unwrap().is_empty());
        let mut a = Job::new("ftjob-a", JobKind::Remote, "m");
        a.created_at = 1;
        a.push_log(1, "info", "created");
        let mut b = Job::new("local-b", JobKind::Local, "base.gguf");
        b.created_at = 2;
        b.set_status(JobStatus::Succeeded).unwrap();
        store.save(&a).unwrap();
        store.save(&b).unwrap();
        assert_eq!(store.load("ftjob-a").unwrap(), a);
        let ids: Vec<String> = store.list().unwrap().into_iter().map(|j| j.id).collect();
        assert_eq!(ids, ["ftjob-a", "local-b"]);
        let active = store.active(None).unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].id, "ftjob-a");
        assert!(store.active(Some(JobKind::Local)).unwrap().is_empty());
        assert!(store.get("nope").unwrap().is_none());
        assert!(store.load("../x").is_err());
        std::fs::write(store.dir().join("bad.json"), "{").unwrap();
        let err = store.list().unwrap_err().to_string();
        assert!(err.contains("bad.json:1:"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_keeps_the_newest_lines() {
        let mut job = Job::new("j", JobKind::Local, "m");
        for i in 0..(Job::LOG_LIMIT + 10) {
            job.push_log(i as i64, "info", &format!("line {i}"));
        }
        assert_eq!(job.log.len(), Job::LOG_LIMIT);
        assert_eq!(job.log[0].message, "line 10");
    }
}
