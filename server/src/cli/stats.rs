//! `voicetune stats`: token distribution, billed tokens, epochs and cost, as text or JSON.

use super::config::config_for;
use std::path::PathBuf;
use std::process::ExitCode;
use voicetune::dataset::FileKind;
use voicetune::lint::{self, LintOptions};
use voicetune::tokens::stats::cost_table;

#[derive(clap::Args)]
pub struct StatsArgs {
    pub file: PathBuf,
    /// Target model (overrides voicetune.toml).
    #[arg(long)]
    pub model: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let config = config_for(&args.file, args.model.as_deref(), &[], &[])?;
    let opts = LintOptions::new(&config);
    let kind = FileKind::from_path(&args.file).ok_or_else(|| {
        anyhow::anyhow!("{}: not a .jsonl, .json or .md file", args.file.display())
    })?;
    let bytes =
        std::fs::read(&args.file).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let (text, _) = lint::engine::decode_lossless_offsets(bytes);
    let stats = lint::file_stats(&text, kind, &opts);
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
    let limit = opts.counter.model.max_training_tokens;
    println!(
        "{}: {} examples, counted for {}",
        args.file.display(),
        stats.examples,
        stats.model
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
    println!("estimated cost: ${:.2} on {}", stats.cost_usd, stats.model);
    for (model, cost) in cost_table(&stats) {
        if model != stats.model {
            println!("  ${cost:.2} on {model}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
