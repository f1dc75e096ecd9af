//! `voicetune train` and [`train_voice`], the entry point shared with the language server's
//! `voicetune.trainLocal` command.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::config::LocalConfig;
use super::data::{load_jsonl, DataReport, Example};
use super::trainer::{train, TrainEvent, TrainOutcome, TrainStatus, CHECKPOINT_DIR};
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
    let mut rng = crate::model::generate::Rng::new(cfg.seed.wrapping_add(1));
    for i in (1..examples.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        examples.swap(i, j);
    }
    let val = examples.split_off(examples.len() - n_val);
    (examples, val)
}

/// Checks a voice name: letters, digits, `-`, `_` or `.` (it names a folder).
pub fn check_voice_name(name: &str) -> Result<()> {
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.".contains(c)),
        "voice name `{name}`: use letters, digits, `-`, `_` or `.`"
    );
    Ok(())
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
    let at = crate::report::LineIndex::new(&report.text).line_col(first.span.start);
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
        let id = format!("local-{voice}-{}", now_secs());
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
    let trained = train(
        &model,
        &train_set,
        &val_set,
        cfg,
        &dir,
        resume,
        cancel,
        &mut |e: &TrainEvent| {
            job.record(e);
            on_event(e);
        },
    );
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

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Chat JSONL (`messages`), or `prompt`/`completion` lines.
    pub dataset: PathBuf,
    /// The voice model's name.
    #[arg(long)]
    pub name: String,
    /// Validation JSONL (default: hold out `val_fraction` of the dataset).
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Continue from the voice's last checkpoint.
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub rank: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub max_seq_len: Option<usize>,
    #[arg(long)]
    pub grad_accum: Option<usize>,
}

impl TrainArgs {
    /// The command that continues this run from its checkpoint: the same dataset and the
    /// flags that shape the run (a checkpoint only resumes with the same steps and adapter).
    pub fn resume_command(&self) -> String {
        let mut words = vec![
            "voicetune".to_string(),
            "train".into(),
            shell_word(&self.dataset.display().to_string()),
            "--name".into(),
            shell_word(&self.name),
        ];
        if let Some(v) = &self.val {
            words.push("--val".into());
            words.push(shell_word(&v.display().to_string()));
        }
        let flags = [
            ("--epochs", self.epochs.map(|v| v.to_string())),
            ("--rank", self.rank.map(|v| v.to_string())),
            ("--lr", self.lr.map(|v| v.to_string())),
            ("--max-seq-len", self.max_seq_len.map(|v| v.to_string())),
            ("--grad-accum", self.grad_accum.map(|v| v.to_string())),
        ];
        for (flag, value) in flags {
            if let Some(value) = value {
                words.push(flag.into());
                words.push(value);
            }
        }
        words.push("--resume".into());
        words.join(" ")
    }
}

/// A word for a POSIX shell: as it is when plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Ctrl-C: the first sets `cancel` (training stops before its next example and writes a
/// checkpoint); a second one ends the process at once with status 130.
fn install_ctrl_c(cancel: Arc<AtomicBool>, bar: indicatif::ProgressBar) -> Result<()> {
    ctrlc::set_handler(move || {
        if cancel.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        bar.suspend(|| {
            eprintln!("stopping after this step to save a checkpoint (Ctrl-C again to quit now)")
        });
    })
    .context("cannot install the Ctrl-C handler")
}

/// `voicetune train`: settings from `[local]` in voicetune.toml, overridden by flags.
/// Exit status 0 when the voice is registered, 130 when cancelled with Ctrl-C.
pub fn run(args: &TrainArgs) -> Result<ExitCode> {
    super::keep_freed_memory_for_reuse();
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let mut cfg = LocalConfig::from_workspace(&workspace)?;
    if let Some(v) = args.epochs {
        cfg.epochs = v;
    }
    if let Some(v) = args.rank {
        cfg.rank = v;
        cfg.alpha = 2.0 * v as f64;
    }
    if let Some(v) = args.lr {
        cfg.lr = v;
    }
    if let Some(v) = args.max_seq_len {
        cfg.max_seq_len = v;
    }
    if let Some(v) = args.grad_accum {
        cfg.grad_accum = v;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    // Without a terminal the bar is hidden; its lines still go to stderr then.
    let say = |bar: &indicatif::ProgressBar, line: String| {
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let cancel = Arc::new(AtomicBool::new(false));
    install_ctrl_c(cancel.clone(), bar.clone())?;
    let mut last_val = String::new();
    let mut on_event = |e: &TrainEvent| match e {
        TrainEvent::Started {
            total_steps,
            start_step,
            train_examples,
            val_examples,
        } => {
            bar.set_length(*total_steps as u64);
            bar.set_position(*start_step as u64);
            say(&bar, format!(
                "training on {train_examples} sequences ({val_examples} for validation), {total_steps} steps{}",
                if *start_step > 0 { format!(", resuming at step {start_step}") } else { String::new() }
            ));
        }
        TrainEvent::Step {
            step,
            loss,
            tokens_per_sec,
            lr,
            ..
        } => {
            bar.set_position(*step as u64);
            bar.set_message(format!(
                "loss {loss:.3}  lr {lr:.1e}  {tokens_per_sec:.0} tok/s{last_val}"
            ));
        }
        TrainEvent::Validation { step, loss } => {
            last_val = format!("  val {loss:.3}");
            say(&bar, format!("step {step}: validation loss {loss:.4}"));
        }
        TrainEvent::Checkpoint { step, dir } => {
            say(
                &bar,
                format!("step {step}: checkpoint in {}", dir.display()),
            );
        }
    };
    let result = train_voice(
        &workspace,
        &args.dataset,
        args.val.as_deref(),
        &args.name,
        &cfg,
        args.resume,
        &cancel,
        &mut on_event,
    )?;
    bar.finish_and_clear();
    let o = &result.outcome;
    println!("data: {}", result.report);
    println!(
        "{} steps in {:.1}s ({:.0} tok/s), last loss {}, validation loss {}",
        o.steps_done,
        o.secs,
        o.tokens as f64 / o.secs.max(1e-9),
        o.last_loss.map_or("-".into(), |l| format!("{l:.4}")),
        o.val_loss.map_or("-".into(), |l| format!("{l:.4}")),
    );
    if o.status == TrainStatus::Cancelled {
        println!(
            "cancelled at step {}/{}; checkpoint in {}",
            o.steps_done,
            o.total_steps,
            result.adapter_dir.join(CHECKPOINT_DIR).display()
        );
        println!("resume with: {}", args.resume_command());
        return Ok(ExitCode::from(130));
    }
    println!(
        "voice `{}` registered: adapter {} over {}",
        args.name,
        result.adapter_dir.display(),
        result.base_model.display()
    );
    Ok(ExitCode::SUCCESS)
}
