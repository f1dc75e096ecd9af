//! `voicetune stats`: token distribution, billed tokens, epochs and cost, as text or JSON.

use super::config::{config_for, Overrides};
use std::path::PathBuf;
use std::process::ExitCode;
use voicetune::config::Provider;
use voicetune::dataset::FileKind;
use voicetune::lint::report::escape_controls;
use voicetune::lint::{self, LintOptions};
use voicetune::tokens::stats::cost_table;

#[derive(clap::Args)]
pub struct StatsArgs {
    pub file: PathBuf,
    /// Target model (overrides voicetune.toml).
    #[arg(long, alias = "target-model")]
    pub model: Option<String>,
    /// The fine-tuning service: openai or together (overrides voicetune.toml).
    #[arg(long)]
    pub provider: Option<Provider>,
    /// Training token limit per example (overrides the target model's; `lint.max_tokens`).
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        model: args.model.as_deref(),
        provider: args.provider,
        max_tokens: args.max_tokens,
        ..Overrides::default()
    };
    let config = config_for(&args.file, &overrides)?;
    let opts = LintOptions::new(&config);
    let kind = FileKind::from_path(&args.file).ok_or_else(|| {
        anyhow::anyhow!("{}: not a .jsonl, .json or .md file", args.file.display())
    })?;
    let bytes =
        std::fs::read(&args.file).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let shown = escape_controls(&args.file.display().to_string()).into_owned();
    if let Some(at) = memchr::memchr(0, &bytes) {
        anyhow::bail!(
            "{shown}: not a text file (a NUL byte at offset {at}); stats reads a JSONL dataset \
             or a markdown draft"
        );
    }
    let (text, invalid) = lint::engine::decode_lossless_offsets(bytes);
    let stats = lint::file_stats(&text, kind, &opts);
    if let (0, Some(at)) = (stats.examples, invalid.first()) {
        anyhow::bail!(
            "{shown}: not UTF-8 text (an invalid byte at offset {at}) and no example could be \
             read; run `voicetune lint` on it to see each line's problem"
        );
    }
    if args.json {
        let costs: serde_json::Map<String, serde_json::Value> = cost_table(&stats)
            .into_iter()
            .map(|(m, c)| (m.to_string(), c.into()))
            .collect();
        let mut value = serde_json::to_value(&stats)?;
        value["cost_by_model_usd"] = costs.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let limit = opts.config.max_training_tokens();
    println!(
        "{}: {} examples, counted for {}",
        shown, stats.examples, stats.model
    );
    println!(
        "tokens per example: min {}, median {}, p95 {}, max {}",
        stats.min_tokens, stats.median_tokens, stats.p95_tokens, stats.max_tokens
    );
    println!(
        "total tokens: {}; over the {limit}-token limit: {}",
        stats.total_tokens, stats.over_limit
    );
    println!(
        "billed tokens per epoch: {}; default epochs: {}; trained tokens: {}",
        stats.billed_tokens, stats.epochs, stats.trained_tokens
    );
    if opts.config.provider == Provider::Together {
        println!(
            "estimated cost: Together quotes it per job (`voicetune tune --provider together` shows its estimate)"
        );
    } else {
        println!("estimated cost: ${:.2} on {}", stats.cost_usd, stats.model);
    }
    for (model, cost) in cost_table(&stats) {
        if model != stats.model {
            println!("  ${cost:.2} on {model}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
