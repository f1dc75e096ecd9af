//! Local fine-tuning from the editor: `voicetune.trainLocal DATASET [{name, epochs, ...}]`.
//! The dataset is linted first (errors refuse the run); training runs on the blocking pool
//! through [`crate::train::local::train_voice`], the same entry point as `voicetune train`,
//! reporting each step through cancellable `$/progress`; a cancel stops it at the next step
//! with a checkpoint that `{resume: true}` continues from. The request returns at once.

use crate::lsp::api::background::{Job, Outcome};
use crate::lsp::commands::TRAIN_LOCAL;
use crate::lsp::session::Session;
use crate::train::local::{
    check_voice_name, lint_errors, train_voice, voice_dir, LocalConfig, TrainEvent, TrainStatus,
};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{MessageType, ProgressToken, Uri};
use tower_lsp_server::Client;

/// The adapter folders being trained: one run per voice at a time.
static RUNNING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Holds a voice's place in [`RUNNING`] until dropped.
struct Running(PathBuf);

impl Running {
    fn claim(dir: PathBuf) -> Option<Running> {
        RUNNING
            .lock()
            .ok()?
            .insert(dir.clone())
            .then_some(Running(dir))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut running) = RUNNING.lock() {
            running.remove(&self.0);
        }
    }
}

/// What the command was asked: the dataset, then the options, from `[DATASET, {options}]` or
/// `[{uri, ...options}]`.
struct Request {
    dataset: PathBuf,
    name: String,
    validation: Option<PathBuf>,
    resume: bool,
    /// `[local]` settings to override (`epochs`, `maxSeqLen`, `rank`, ...).
    settings: Map<String, Value>,
}

fn parse(args: &[Value], root: &Path) -> Result<Request> {
    let usage = || {
        Error::invalid_params(format!(
            "{TRAIN_LOCAL} expects the dataset URI, then optionally {{name, epochs, maxSeqLen, rank, resume, validation, ...}}"
        ))
    };
    let first = args.first().ok_or_else(usage)?;
    let mut options = match first {
        Value::Object(o) => o.clone(),
        Value::String(_) => Map::new(),
        _ => return Err(usage()),
    };
    match args.get(1) {
        Some(Value::Object(more)) => options.extend(more.clone()),
        Some(Value::Null) | None => {}
        Some(_) => return Err(usage()),
    }
    let uri = first
        .as_str()
        .or_else(|| options.get("uri").and_then(Value::as_str))
        .ok_or_else(usage)?
        .to_string();
    options.remove("uri");
    let dataset = file_arg(&uri, root)?;
    if crate::dataset::FileKind::from_path(&dataset) != Some(crate::dataset::FileKind::Jsonl) {
        return Err(Error::invalid_params(format!(
            "{TRAIN_LOCAL}: {} is not a JSONL dataset",
            dataset.display()
        )));
    }
    let text = |key: &str, options: &mut Map<String, Value>| match options.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::invalid_params(format!(
            "{TRAIN_LOCAL}: `{key}` must be a string, not {other}"
        ))),
    };
    let name = match text("name", &mut options)? {
        Some(name) => name,
        None => dataset
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    check_voice_name(&name)
        .map_err(|e| Error::invalid_params(format!("{TRAIN_LOCAL}: {e}; pass {{name}}")))?;
    let validation = text("validation", &mut options)?
        .map(|v| file_arg(&v, root))
        .transpose()?;
    let resume = match options.remove("resume") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(Error::invalid_params(format!(
                "{TRAIN_LOCAL}: `resume` must be true or false, not {other}"
            )))
        }
    };
    Ok(Request {
        dataset,
        name,
        validation,
        resume,
        settings: options,
    })
}

/// A file named by a `file://` URI, or by a path (relative to the workspace folder).
pub(crate) fn file_arg(text: &str, root: &Path) -> Result<PathBuf> {
    if text.contains("://") {
        let uri: Uri = text
            .parse()
            .map_err(|_| Error::invalid_params(format!("not a URI: {text}")))?;
        return uri
            .to_file_path()
            .map(|p| p.into_owned())
            .ok_or_else(|| Error::invalid_params(format!("not a file URI: {text}")));
    }
    Ok(root.join(text))
}

/// Whether the dataset may be trained on.
enum Gate {
    Clean,
    /// The open document differs from the file on disk.
    Unsaved,
    LintErrors(crate::train::local::LintErrors),
}

/// A refusal: shown to the person, and the command's result says why.
async fn refuse(client: &Client, message: String) -> Result<Option<Value>> {
    client
        .show_message(MessageType::ERROR, format!("voicetune: {message}"))
        .await;
    Ok(Some(
        serde_json::json!({ "started": false, "message": message }),
    ))
}

pub async fn train_local(
    session: &Session,
    args: &[Value],
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let root = session.workspace_root();
    let request = parse(args, &root)?;
    let file = request.dataset.display().to_string();
    let cfg = LocalConfig::from_workspace(&root)
        .and_then(|c| c.with_overrides(&root, &request.settings))
        .map_err(|e| Error::invalid_params(format!("{TRAIN_LOCAL}: {e:#}")))?;

    // The gate, off the request loop: training reads the file on disk, so an open document
    // with other text is refused (it is not what the person sees), and so are lint errors.
    let open_text = match Uri::from_file_path(&request.dataset) {
        Some(uri) => session.snapshot(&uri).await.ok().map(|(snap, _)| snap.rope),
        None => None,
    };
    let opts = session.options_for(Some(request.dataset.as_path())).await;
    let dataset = request.dataset.clone();
    let gate = tokio::task::spawn_blocking(move || -> anyhow::Result<Gate> {
        if let (Some(open), Ok(disk)) = (open_text, std::fs::read_to_string(&dataset)) {
            if open != disk.as_str() {
                return Ok(Gate::Unsaved);
            }
        }
        Ok(match lint_errors(&dataset, &opts)? {
            Some(errors) => Gate::LintErrors(errors),
            None => Gate::Clean,
        })
    })
    .await
    .map_err(|e| Error::invalid_params(format!("{TRAIN_LOCAL}: lint failed: {e}")))?;
    let refusal = match gate {
        Err(e) => Some(format!("cannot train on {file}: {e:#}")),
        Ok(Gate::Unsaved) => Some(format!(
            "{file} has unsaved changes: save it, then train (training reads the file on disk)"
        )),
        Ok(Gate::LintErrors(errors)) => Some(format!(
            "not training on {file}: it has {}, the first at line {}: {} [{} {}]. \
             Fix {} (voicetune.fixAll fixes what it can), save, and train again",
            match errors.count {
                1 => "1 lint error".to_string(),
                n => format!("{n} lint errors"),
            },
            errors.line,
            errors.message,
            errors.code,
            errors.rule,
            if errors.count == 1 { "it" } else { "them" },
        )),
        Ok(Gate::Clean) => None,
    };
    if let Some(message) = refusal {
        return refuse(&session.client, message).await;
    }

    let Some(running) = Running::claim(voice_dir(&root, &request.name)) else {
        return refuse(
            &session.client,
            format!(
                "voice {} is already training; cancel that run first",
                request.name
            ),
        )
        .await;
    };

    let job = Job::new(
        session,
        client_token,
        "trainLocal",
        format!("voicetune: train {name}", name = request.name),
    )
    .with_message(format!("loading the model for {file}"))
    .with_percentage(0)
    .cancellable();
    let name = request.name.clone();
    let reply = serde_json::json!({ "started": true, "name": name, "token": job.token() });
    job.spawn(move |progress| async move {
        let _running = running;
        let flag = progress.cancel_flag();
        let work = tokio::task::spawn_blocking(move || {
            let mut described = Described::default();
            train_voice(
                &root,
                &request.dataset,
                request.validation.as_deref(),
                &request.name,
                &cfg,
                request.resume,
                &flag,
                &mut |event| {
                    let message = described.event(event);
                    progress.report_percent(message, described.percent);
                },
            )
        });
        match work.await {
            Ok(Ok(run)) if run.outcome.status == TrainStatus::Finished => {
                let o = &run.outcome;
                Outcome::info(format!(
                    "voice {name} registered: {} steps, last loss {}, validation loss {}; adapter in {}",
                    o.steps_done,
                    o.last_loss.map_or("-".into(), |l| format!("{l:.3}")),
                    o.val_loss.map_or("-".into(), |l| format!("{l:.3}")),
                    run.adapter_dir.display()
                ))
            }
            Ok(Ok(run)) => Outcome::info(format!(
                "training of voice {name} cancelled at step {}/{}; checkpoint saved in {}. \
                 To continue, run {TRAIN_LOCAL} again with {{\"resume\": true}} and the same settings",
                run.outcome.steps_done,
                run.outcome.total_steps,
                run.adapter_dir
                    .join(crate::train::local::trainer::CHECKPOINT_DIR)
                    .display()
            )),
            Ok(Err(e)) => Outcome::error(format!("training of voice {name} failed: {e:#}")),
            Err(e) => Outcome::error(format!("training of voice {name} failed: {e}")),
        }
    });
    Ok(Some(reply))
}

/// Training events as progress messages, and the percentage done.
#[derive(Default)]
struct Described {
    total: usize,
    percent: u32,
}

impl Described {
    fn event(&mut self, event: &TrainEvent) -> String {
        let total = self.total;
        match event {
            TrainEvent::Started {
                total_steps,
                start_step,
                train_examples,
                val_examples,
            } => {
                self.total = *total_steps;
                self.percent = percentage(*start_step, *total_steps);
                let resuming = match start_step {
                    0 => String::new(),
                    s => format!(", resuming at step {s}"),
                };
                format!("{train_examples} examples ({val_examples} for validation), {total_steps} steps{resuming}")
            }
            TrainEvent::Step {
                step,
                total_steps,
                loss,
                tokens_per_sec,
                ..
            } => {
                self.percent = percentage(*step, *total_steps);
                format!("step {step}/{total_steps}, loss {loss:.3}, {tokens_per_sec:.0} tok/s")
            }
            TrainEvent::Validation { step, loss } => {
                format!("step {step}/{total}: validation loss {loss:.3}")
            }
            TrainEvent::Checkpoint { step, .. } => format!("step {step}/{total}: checkpoint saved"),
        }
    }
}

fn percentage(step: usize, total: usize) -> u32 {
    (step * 100 / total.max(1)).min(100) as u32
}
