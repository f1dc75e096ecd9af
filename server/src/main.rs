//! The `voicetune` command line: a thin face over the library.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use voicetune::config::Config;
use voicetune::dataset::FileKind;
use voicetune::lint::{self, FixMode, LintOptions};
use voicetune::report::{self, LineIndex};

#[derive(Parser)]
#[command(
    name = "voicetune",
    version,
    about = "Teach a language model to write in your voice"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lint JSONL training files and markdown drafts (files or folders).
    Lint(LintArgs),
    /// Explain a rule (`voicetune rule html`), or list them all (`voicetune rule --list`).
    Rule {
        /// Rule name or code; omit to list every rule.
        name: Option<String>,
        /// List every rule (the default without a name).
        #[arg(long, conflicts_with = "name")]
        list: bool,
        /// How to print the list: text, or the markdown table of the README.
        #[arg(long, value_enum, default_value = "text", conflicts_with = "name")]
        format: RuleListFormat,
    },
    /// Token distribution, billed tokens, epochs and cost of a training file.
    Stats(StatsArgs),
    /// Build a training file from WordPress exports, markdown posts or transcripts.
    Build(Box<voicetune::import::cli::BuildArgs>),
    /// Manage the local base model (`voicetune model pull`).
    #[command(subcommand)]
    Model(voicetune::model::cli::ModelCommand),
    /// Complete a prompt with the local base model or a local voice model.
    Generate(voicetune::infer::local::GenerateArgs),
    /// Fine-tune a local voice model (LoRA) on a chat JSONL dataset.
    Train(voicetune::train::local::cli::TrainArgs),
    /// Perplexity of held-out texts under the base model and a voice model.
    Eval(voicetune::train::local::eval::EvalArgs),
    /// Fine-tune a model on the OpenAI API (lint, estimate, confirm, upload, train, follow).
    Tune(voicetune::train::remote::cli::TuneArgs),
    /// List, follow, cancel fine-tuning jobs, or print their events.
    Jobs(voicetune::train::remote::cli::JobsArgs),
    /// Ghostwrite: the suggestion an editor would show at FILE:LINE:COL.
    Complete(voicetune::ghost::cli_complete::CompleteArgs),
    /// Run the language server over stdio (for editors).
    Lsp,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RuleListFormat {
    Text,
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
    Github,
}

#[derive(clap::Args)]
struct LintArgs {
    /// Files or folders (folders are searched for *.jsonl and *.md).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Apply safe fixes in place (atomically; the original is kept on any error).
    #[arg(long)]
    fix: bool,
    /// With --fix, also apply unsafe fixes (removing keys, splitting long examples).
    #[arg(long)]
    unsafe_fixes: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
    /// Target model (overrides voicetune.toml), e.g. gpt-4o-mini-2024-07-18.
    #[arg(long)]
    model: Option<String>,
    /// Only these rules (names or codes, comma-separated).
    #[arg(long, value_delimiter = ',')]
    select: Vec<String>,
    /// Skip these rules (names or codes, comma-separated).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
}

#[derive(clap::Args)]
struct StatsArgs {
    file: PathBuf,
    /// Target model (overrides voicetune.toml).
    #[arg(long)]
    model: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    voicetune::model::settle_thread_count();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Train(_) | Command::Eval(_)) {
        voicetune::model::prefer_f32_matmul_threads();
    }
    let result = match cli.command {
        Command::Lint(args) => run_lint(args),
        Command::Rule { name, format, .. } => run_rule(name.as_deref(), format),
        Command::Stats(args) => run_stats(args),
        Command::Build(args) => voicetune::import::cli::run(*args),
        Command::Model(cmd) => voicetune::model::cli::run(&cmd).map(|()| ExitCode::SUCCESS),
        Command::Generate(args) => {
            voicetune::infer::local::cli_generate(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Complete(args) => {
            voicetune::ghost::cli_complete::run(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Train(args) => voicetune::train::local::cli::run(&args),
        Command::Eval(args) => {
            voicetune::train::local::eval::cli_eval(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Tune(args) => Ok(voicetune::train::remote::cli::run_tune(args)),
        Command::Jobs(args) => Ok(voicetune::train::remote::cli::run_jobs(args)),
        Command::Lsp => voicetune::lsp::run_stdio().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// The config for `path` with command-line overrides applied.
fn config_for(
    path: &Path,
    model: Option<&str>,
    select: &[String],
    ignore: &[String],
) -> anyhow::Result<Config> {
    let (mut config, config_path) = Config::for_file(path)?;
    if let Some(config_path) = &config_path {
        lint::check_config(&config, config_path)?;
    }
    if let Some(model) = model {
        if voicetune::tokens::lookup(model).is_none() {
            anyhow::bail!("unknown model {model:?}; known: {}", known_models());
        }
        config.target_model = model.to_string();
    }
    for name in select.iter().chain(ignore) {
        if lint::rule_by_name(name).is_none() {
            anyhow::bail!("unknown rule {name:?}; `voicetune rule` lists them");
        }
    }
    if !select.is_empty() {
        config.lint.select = select.to_vec();
    }
    config.lint.ignore.extend(ignore.iter().cloned());
    Ok(config)
}

fn known_models() -> String {
    voicetune::tokens::models::MODELS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files to lint under `paths`: named files as they are, folders searched recursively (hidden
/// folders, target/ and node_modules/ skipped).
fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    walk(&path, out)?;
                }
            } else if FileKind::from_path(&path).is_some() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut files).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn run_lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let files = collect_files(&args.paths)?;
    let mode = if args.unsafe_fixes {
        FixMode::All
    } else {
        FixMode::Safe
    };
    let mut total = 0;
    let mut fixed_total = 0;
    let mut json = Vec::new();
    for path in &files {
        let config = config_for(path, args.model.as_deref(), &args.select, &args.ignore)?;
        let opts = LintOptions::new(&config);
        let mut report = lint::lint_file(path, &opts)?;
        if args.fix
            && report.findings.iter().any(|f| {
                f.fix
                    .as_ref()
                    .is_some_and(|fix| mode.allows(fix.applicability))
            })
        {
            if report.invalid_utf8.is_empty() {
                let (fixed, applied) = lint::fix::fix_all(&report.text, report.kind, &opts, mode);
                if applied > 0 && fixed != report.text {
                    voicetune::fsutil::write_atomic(path, fixed.as_bytes()).map_err(|e| {
                        anyhow::anyhow!(
                            "{}: could not write fixes ({e}); the file is unchanged",
                            path.display()
                        )
                    })?;
                    fixed_total += applied;
                    if args.format == OutputFormat::Text {
                        eprintln!(
                            "{}: fixed {applied} problem{}",
                            path.display(),
                            if applied == 1 { "" } else { "s" }
                        );
                    }
                    report = lint::lint_file(path, &opts)?;
                }
            } else {
                eprintln!(
                    "{}: not fixing a file with invalid UTF-8; re-encode it first",
                    path.display()
                );
            }
        }
        let index = LineIndex::new(&report.text);
        // One buffered writer: thousands of findings are not thousands of write calls.
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        for finding in &report.findings {
            match args.format {
                OutputFormat::Text => write!(stdout, "{}", report::to_text(path, &index, finding))?,
                OutputFormat::Github => {
                    writeln!(stdout, "{}", report::to_github(path, &index, finding))?
                }
                OutputFormat::Json => json.push(report::to_json(path, &index, finding)),
            }
        }
        stdout.flush()?;
        total += report.findings.len();
    }
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&json)?),
        OutputFormat::Text => {
            if total == 0 {
                eprintln!(
                    "All clean: {} file{} checked.",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" }
                );
            } else {
                eprintln!(
                    "Found {total} problem{} in {} file{}{}.",
                    if total == 1 { "" } else { "s" },
                    files.len(),
                    if files.len() == 1 { "" } else { "s" },
                    if fixed_total > 0 {
                        format!(" ({fixed_total} fixed)")
                    } else {
                        String::new()
                    }
                );
            }
        }
        OutputFormat::Github => {}
    }
    Ok(if total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_rule(name: Option<&str>, format: RuleListFormat) -> anyhow::Result<ExitCode> {
    match name {
        None => match format {
            RuleListFormat::Text => print!("{}", lint::rules_listing()),
            RuleListFormat::Markdown => print!("{}", lint::rules_table_markdown()),
        },
        Some(name) => {
            let rule = lint::rule_by_name(name).ok_or_else(|| {
                anyhow::anyhow!("unknown rule {name:?}; `voicetune rule` lists them")
            })?;
            println!(
                "{} {} ({}, {})\n\n{}\n",
                rule.code,
                rule.name,
                rule.severity.label(),
                if rule.fixable {
                    "fixable"
                } else {
                    "no automatic fix"
                },
                rule.summary
            );
            println!("{}", textwrap(rule.doc, 88));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn textwrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

fn run_stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let config = config_for(&args.file, args.model.as_deref(), &[], &[])?;
    let opts = LintOptions::new(&config);
    let kind = FileKind::from_path(&args.file)
        .ok_or_else(|| anyhow::anyhow!("{}: not a .jsonl or .md file", args.file.display()))?;
    let bytes =
        std::fs::read(&args.file).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let (text, _) = lint::engine::decode_lossless_offsets(bytes);
    let stats = lint::file_stats(&text, kind, &opts);
    if args.json {
        let costs: serde_json::Map<String, serde_json::Value> =
            voicetune::tokens::stats::cost_table(&stats)
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
    for (model, cost) in voicetune::tokens::stats::cost_table(&stats) {
        if model != stats.model {
            println!("  ${cost:.2} on {model}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
