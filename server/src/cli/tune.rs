//! `voicetune tune`: lint gate, estimate, confirmation, upload, and the job followed to its end.

use super::config::remote_config;
use super::remote::{current_workspace, fail, find_workspace, printer, report_final, runtime};
use clap::{Args, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use voicetune::train::remote::api::{Auto, Hyperparameters, MethodType};
use voicetune::train::remote::{self, TuneRequest};

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

pub(crate) fn run(args: TuneArgs) -> ExitCode {
    let dir = args
        .dataset
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The dataset's workspace, else the current one: `jobs` run from here must find the job.
    let workspace = find_workspace(dir).unwrap_or_else(current_workspace);
    let result = (|| -> anyhow::Result<ExitCode> {
        let config = remote_config(&workspace)?;
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
        let plan = remote::plan(&config, request).map_err(|e| {
            match e.downcast::<remote::BlockedByLint>() {
                Ok(blocked) => anyhow::Error::msg(blocked.describe("--force")),
                Err(e) => e,
            }
        })?;
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
            let job = remote::start(&workspace, &config, &plan, printer()).await?;
            if args.detach {
                return Ok(ExitCode::SUCCESS);
            }
            let job = remote::follow(&workspace, &config, &job.id, printer()).await?;
            Ok(report_final(&job))
        })
    })();
    result.unwrap_or_else(fail)
}
