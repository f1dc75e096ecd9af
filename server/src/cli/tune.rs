//! `voicetune tune`: lint gate, estimate, confirmation, upload, and the job followed to its end.

use super::config::remote_config;
use super::remote::{current_workspace, fail, find_workspace, printer, report_final, runtime};
use clap::{Args, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use voicetune::config::Provider;
use voicetune::train::remote::api::{Auto, Hyperparameters, MethodType};
use voicetune::train::remote::{self, TogetherOptions, TuneRequest};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    Supervised,
    Dpo,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProviderArg {
    Openai,
    Together,
}

/// `voicetune tune DATASET.jsonl --model M [--provider together] [--validation FILE] [--yes]`
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Training file (JSONL).
    #[arg(required_unless_present = "list_models")]
    pub dataset: Option<PathBuf>,
    /// Who fine-tunes (default: `provider` in voicetune.toml, else openai).
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// List the models the provider fine-tunes and exit (Together).
    #[arg(long)]
    pub list_models: bool,
    /// Base model (default: `model` in the [remote] section of voicetune.toml, or in
    /// [together] for Together).
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
    /// Epochs, 1-50 (default: OpenAI's automatic choice; Together: `epochs` in [together],
    /// else 1; its model limits are checked before upload).
    #[arg(long)]
    pub epochs: Option<u32>,
    /// Examples per batch, 1-256 (default: automatic; Together: the model's limits).
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Together: the learning rate (within the model's limits).
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Together: full fine-tuning instead of LoRA.
    #[arg(long)]
    pub full: bool,
    /// Together: LoRA rank (default: `lora_r` in [together], else 16 or the model's maximum).
    #[arg(long)]
    pub lora_r: Option<u32>,
    /// Together: LoRA alpha (default: twice the rank).
    #[arg(long)]
    pub lora_alpha: Option<u32>,
    /// Together: LoRA dropout, 0 to below 1.
    #[arg(long)]
    pub lora_dropout: Option<f64>,
    /// Together: LoRA target modules, `all-linear` or e.g. `q_proj,v_proj`.
    #[arg(long)]
    pub lora_modules: Option<String>,
    /// Together: checkpoints to save during training (each downloadable).
    #[arg(long)]
    pub checkpoints: Option<u32>,
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
    let dataset = args.dataset.clone().unwrap_or_default();
    let dir = dataset
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The dataset's workspace, else the current one: `jobs` run from here must find the job.
    let workspace = find_workspace(dir).unwrap_or_else(current_workspace);
    let result = (|| -> anyhow::Result<ExitCode> {
        let config = remote_config(&workspace)?;
        let provider = match args.provider {
            Some(ProviderArg::Openai) => Provider::Openai,
            Some(ProviderArg::Together) => Provider::Together,
            None => config.provider,
        };
        if args.list_models {
            return list_models(&config, provider);
        }
        let hyper = Hyperparameters {
            n_epochs: args.epochs.map(Auto::Value),
            batch_size: args.batch_size.map(Auto::Value),
            learning_rate_multiplier: args.learning_rate_multiplier.map(Auto::Value),
            beta: args.beta.map(Auto::Value),
        };
        let request = TuneRequest {
            training: dataset.clone(),
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
            provider: Some(provider),
            together: TogetherOptions {
                full: args.full.then_some(true),
                lora_r: args.lora_r,
                lora_alpha: args.lora_alpha,
                lora_dropout: args.lora_dropout,
                lora_modules: args.lora_modules.clone(),
                learning_rate: args.learning_rate,
                n_checkpoints: args.checkpoints,
            },
        };
        // Fail on a missing key before linting a large file.
        config.client_for(provider, None)?;
        let rt = runtime()?;
        let mut plan = rt
            .block_on(remote::check(&config, request, printer()))
            .map_err(|e| match e.downcast::<remote::BlockedByLint>() {
                Ok(blocked) => anyhow::Error::msg(blocked.describe("--force")),
                Err(e) => e,
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
        rt.block_on(remote::quote(&config, &mut plan, printer()))?;
        if let Some(quote) = &plan.quote {
            eprintln!("{}", quote.comparison);
        }
        if !args.yes {
            if !std::io::stdin().is_terminal() {
                eprintln!("(reading the answer from standard input; pass --yes to skip)");
            }
            if !ask(&format!("{}?", plan.confirm_title())) {
                match plan.uploaded.is_empty() {
                    true => eprintln!("cancelled; nothing was uploaded"),
                    false => eprintln!(
                        "cancelled; no job was started (the uploaded file stays on {provider}, unused)"
                    ),
                }
                return Ok(ExitCode::FAILURE);
            }
        }
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

/// `--list-models`: the models Together fine-tunes, one a line.
fn list_models(config: &remote::RemoteConfig, provider: Provider) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        provider == Provider::Together,
        "--list-models asks Together (--provider together); OpenAI's fine-tunable models are \
         the target models `voicetune stats` knows"
    );
    let client = config
        .client_for(provider, None)?
        .with_wait_notice(super::remote::waiting_on_stderr());
    for model in runtime()?.block_on(client.together_models())? {
        println!("{model}");
    }
    Ok(ExitCode::SUCCESS)
}
