//! Training a voice: [`train_voice`] loads the base model and the dataset, trains a LoRA adapter
//! as a persisted local job, and registers the voice when it finishes. `voicetune train` and the
//! language server's `voicetune.trainLocal` both call it.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::config::LocalConfig;
use super::data::{load_jsonl, DataReport, Example};
use super::trainer::{train, TrainEvent, TrainOutcome, TrainStatus};
use crate::model::adapter::save_adapter;
use crate::model::gguf::GgufFile;
use crate::model::llama::{Llama, Mode};
use crate::model::pull::{DEFAULT_MODEL_HF_ID, DEFAULT_MODEL_SHA256};
use crate::model::tokenizer::GgufTokenizer;
use crate::train::jobs::{now_secs, Job, JobKind, JobStatus, JobStore};
use crate::voices::{Registry, Voice};

/// What a finished (or cancelled) training run produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VoiceTraining {
    pub outcome: TrainOutcome,
    pub report: DataReport,
    pub val_examples: usize,
    /// The adapter folder (PEFT layout); registered as the voice when training finished.
    pub adapter_dir: PathBuf,
    pub base_model: PathBuf,
}

/// Settings a run overrides in the `[local]` section (None keeps the configured value).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrainOverrides {
    pub epochs: Option<usize>,
    /// The LoRA rank; alpha follows it (twice the rank).
    pub rank: Option<usize>,
    pub lr: Option<f64>,
    pub max_seq_len: Option<usize>,
    pub grad_accum: Option<usize>,
}

impl TrainOverrides {
    pub fn apply(&self, cfg: &mut LocalConfig) {
        if let Some(v) = self.epochs {
            cfg.epochs = v;
        }
        if let Some(v) = self.rank {
            cfg.rank = v;
            cfg.alpha = 2.0 * v as f64;
        }
        if let Some(v) = self.lr {
            cfg.lr = v;
        }
        if let Some(v) = self.max_seq_len {
            cfg.max_seq_len = v;
        }
        if let Some(v) = self.grad_accum {
            cfg.grad_accum = v;
        }
    }
}

/// The adapter folder of voice `name`: `.voicetune/voices/NAME/`.
pub fn voice_dir(workspace: &Path, name: &str) -> PathBuf {
    workspace.join(".voicetune").join("voices").join(name)
}

/// Splits off the validation examples: the given file's, or the last `val_fraction` of a
/// seeded shuffle of the training examples.
fn split_validation(
    mut examples: Vec<Example>,
    val: Option<Vec<Example>>,
    cfg: &LocalConfig,
) -> (Vec<Example>, Vec<Example>) {
    if let Some(v) = val {
        return (examples, v);
    }
    let n_val = ((examples.len() as f64) * cfg.val_fraction).floor() as usize;
    if n_val == 0 || examples.len() - n_val == 0 {
        return (examples, Vec::new());
    }
    let mut rng = crate::model::rng::Rng::new(cfg.seed.wrapping_add(1));
    for i in (1..examples.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        examples.swap(i, j);
    }
    let val = examples.split_off(examples.len() - n_val);
    (examples, val)
}

/// Checks a voice name: it names the adapter folder (see [`crate::voices::check_path_name`]).
pub fn check_voice_name(name: &str) -> Result<()> {
    crate::voices::check_path_name("voice name", name)
}

/// The lint errors that keep a dataset from being trained on: how many, and the first one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LintErrors {
    pub count: usize,
    /// 1-based line and column (characters) of the first error.
    pub line: usize,
    pub column: usize,
    pub code: String,
    pub rule: String,
    pub message: String,
}

/// Lints `dataset` with `opts`; None when it has no finding of severity error.
pub fn lint_errors(dataset: &Path, opts: &crate::lint::LintOptions) -> Result<Option<LintErrors>> {
    let report = crate::lint::lint_file(dataset, opts)?;
    let mut errors = report
        .findings
        .iter()
        .filter(|f| f.severity == crate::lint::Severity::Error);
    let Some(first) = errors.next() else {
        return Ok(None);
    };
    let at = crate::lint::report::LineIndex::new(&report.text).line_col(first.span.start);
    Ok(Some(LintErrors {
        count: 1 + errors.count(),
        line: at.line,
        column: at.column,
        code: first.code.clone(),
        rule: first.rule.clone(),
        message: first.message.clone(),
    }))
}

/// A local training run as a persisted job: progress saved as it goes, final state at the end.
struct LocalJob {
    store: JobStore,
    job: Job,
}

impl LocalJob {
    fn start(workspace: &Path, voice: &str, base: &Path, dataset: &Path) -> Result<LocalJob> {
        let store = JobStore::new(workspace);
        // A checked voice name is ASCII; a shortened one keeps the id within the name limit.
        let short = &voice[..voice.len().min(crate::voices::MAX_PATH_NAME_LEN - 30)];
        let id = format!("local-{short}-{}", now_secs());
        let mut job = Job::new(id, JobKind::Local, base.display().to_string());
        job.voice = Some(voice.to_string());
        job.details.insert(
            "dataset".into(),
            serde_json::Value::String(dataset.display().to_string()),
        );
        // Who trains: if this process is killed, readers of the job see it is gone.
        job.details
            .insert("owner".into(), crate::train::jobs::this_process());
        let _ = job.set_status(JobStatus::Running);
        store.clear_cancel(&job.id);
        store.save(&job)?;
        Ok(LocalJob { store, job })
    }

    /// Notes a trainer event; the file is rewritten on steps, validations and checkpoints
    /// (a step takes about a second, so this is cheap).
    fn record(&mut self, event: &TrainEvent) {
        let at = now_secs();
        match event {
            TrainEvent::Started {
                total_steps,
                start_step,
                ..
            } => {
                self.job.progress.total_steps = Some(*total_steps as u64);
                self.job.progress.step = Some(*start_step as u64);
                self.job
                    .push_log(at, "info", &format!("training: {total_steps} steps"));
            }
            TrainEvent::Step { step, loss, .. } => {
                self.job.progress.step = Some(*step as u64);
                self.job.progress.train_loss = Some(*loss);
            }
            TrainEvent::Validation { step, loss } => {
                self.job.push_log(
                    at,
                    "info",
                    &format!("step {step}: validation loss {loss:.4}"),
                );
            }
            TrainEvent::Checkpoint { step, dir } => {
                self.job.push_log(
                    at,
                    "info",
                    &format!("step {step}: checkpoint in {}", dir.display()),
                );
            }
        }
        self.job.updated_at = at;
        // A job file that cannot be written must not stop the training itself.
        let _ = self.store.save(&self.job);
    }

    fn finish(&mut self, status: JobStatus, result: Option<String>, error: Option<String>) {
        let _ = self.job.set_status(status);
        self.job.result_model = result;
        if let Some(e) = &error {
            self.job.push_log(now_secs(), "error", e);
        }
        self.job.error = error;
        let _ = self.store.save(&self.job);
    }
}

/// How often the trainer looks for a cancel request from another process: one stat, well
/// under one training step.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// Sets `stop` once the caller's `cancel` is set or another process asks job `id` to stop
/// (`voicetune jobs cancel`, an editor's job list); returns when `stop` is set.
fn watch_for_cancel(store: &JobStore, id: &str, cancel: &AtomicBool, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        if cancel.load(Ordering::Relaxed) || store.cancel_requested(id) {
            stop.store(true, Ordering::Relaxed);
            return;
        }
        std::thread::sleep(CANCEL_POLL);
    }
}

/// Trains voice `name` on `dataset` in `workspace` and, when it finishes, registers it.
/// With `resume`, continues from the voice's checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn train_voice(
    workspace: &Path,
    dataset: &Path,
    validation: Option<&Path>,
    name: &str,
    cfg: &LocalConfig,
    resume: bool,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<VoiceTraining> {
    check_voice_name(name)?;
    cfg.validate()?;
    let base = cfg.model_path()?;
    let mut gguf = GgufFile::open(&base)?;
    super::data::check_seq_len(cfg.max_seq_len, gguf.llama_config()?.context_length)?;
    let tok = GgufTokenizer::from_gguf(&gguf)?;
    let (examples, report) = load_jsonl(dataset, &tok, cfg.max_seq_len, cfg.long_examples)?;
    let val = match validation {
        Some(p) => Some(load_jsonl(p, &tok, cfg.max_seq_len, cfg.long_examples)?.0),
        None => None,
    };
    let (train_set, val_set) = split_validation(examples, val, cfg);
    let mut model = Llama::load(&mut gguf, Mode::F32)
        .with_context(|| format!("{}: cannot load the model", base.display()))?;
    drop(gguf);
    model.add_lora_seeded(&cfg.lora(), cfg.seed)?;
    let dir = voice_dir(workspace, name);
    // The run is a job in `.voicetune/jobs/` like a remote fine-tune: `voicetune jobs` and the
    // editor's job list show it, with its progress, while it runs and after.
    let mut job = LocalJob::start(workspace, name, &base, dataset)?;
    let job_id = job.job.id.clone();
    let store = job.store.clone();
    let stop = AtomicBool::new(false);
    let trained = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch_for_cancel(&store, &job_id, cancel, &stop));
        let trained = train(
            &model,
            &train_set,
            &val_set,
            cfg,
            &dir,
            resume,
            &stop,
            &mut |e: &TrainEvent| {
                job.record(e);
                on_event(e);
            },
        );
        // Ends the watcher, which stops at the next poll.
        stop.store(true, Ordering::Relaxed);
        let _ = watcher.join();
        trained
    });
    store.clear_cancel(&job_id);
    let outcome = match trained {
        Ok(outcome) => outcome,
        Err(e) => {
            job.finish(JobStatus::Failed, None, Some(format!("{e:#}")));
            return Err(e);
        }
    };
    if outcome.status == TrainStatus::Cancelled {
        job.finish(JobStatus::Cancelled, None, None);
    }
    if outcome.status == TrainStatus::Finished {
        let base_id = if cfg.model.is_none()
            || crate::model::pull::sha256_file(&base)? == DEFAULT_MODEL_SHA256
        {
            DEFAULT_MODEL_HF_ID.to_string()
        } else {
            base.display().to_string()
        };
        save_adapter(&model, &cfg.lora(), &dir, &base_id)?;
        let base_abs = std::fs::canonicalize(&base).unwrap_or(base.clone());
        let dir_abs = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
        Registry::register(
            workspace,
            name,
            Voice::Local {
                base_model: base_abs,
                adapter: Some(dir_abs.clone()),
                job_id: Some(job.job.id.clone()),
            },
        )?;
        // Ghostwriting asks the voice in the shape it learned (system prompt, user template).
        if let Some(shape) = std::fs::read_to_string(dataset)
            .ok()
            .and_then(|t| crate::dataset::prompt_shape::PromptShape::infer_from_jsonl(&t))
        {
            Registry::record_prompt(workspace, name, shape)?;
        }
        job.finish(
            JobStatus::Succeeded,
            Some(dir_abs.display().to_string()),
            None,
        );
    }
    Ok(VoiceTraining {
        outcome,
        report,
        val_examples: val_set.len(),
        adapter_dir: dir,
        base_model: base,
    })
}
