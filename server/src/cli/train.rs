//! `voicetune train`: a progress bar over [`train_voice`], Ctrl-C to stop with a checkpoint, and
//! the command that resumes the run.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use voicetune::train::local::trainer::CHECKPOINT_DIR;
use voicetune::train::local::{
    keep_freed_memory_for_reuse, train_voice, LocalConfig, TrainEvent, TrainOverrides, TrainStatus,
};

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
    fn overrides(&self) -> TrainOverrides {
        TrainOverrides {
            epochs: self.epochs,
            rank: self.rank,
            lr: self.lr,
            max_seq_len: self.max_seq_len,
            grad_accum: self.grad_accum,
        }
    }

    /// The command that continues this run from its checkpoint: the same dataset and the
    /// flags that shape the run (a checkpoint only resumes with the same steps and adapter).
    fn resume_command(&self) -> String {
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
            voicetune::fsutil::remove_live_temp_files();
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
pub(crate) fn run(args: &TrainArgs) -> Result<ExitCode> {
    keep_freed_memory_for_reuse();
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let mut cfg = LocalConfig::from_workspace(&workspace)?;
    args.overrides().apply(&mut cfg);
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
