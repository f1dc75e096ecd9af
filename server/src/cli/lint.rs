//! `voicetune lint`: findings as text, JSON or GitHub annotations, `--fix` in place, and the
//! exit code (0 clean, 1 findings, 2 errors).

use super::config::{config_for, Overrides};
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use voicetune::config::Provider;
use voicetune::dataset::FileKind;
use voicetune::lint::report::{self, LineIndex};
use voicetune::lint::{self, FixMode, LintOptions};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Github,
}

#[derive(clap::Args)]
pub struct LintArgs {
    /// Files or folders (folders are searched for *.jsonl and *.md; a .json array of records
    /// is linted when named).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Apply safe fixes in place (atomically; the original is kept on any error).
    #[arg(long)]
    pub fix: bool,
    /// With --fix, also apply unsafe fixes (removing keys, splitting long examples).
    #[arg(long)]
    pub unsafe_fixes: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
    /// Target model (overrides voicetune.toml), e.g. gpt-4o-mini-2024-07-18, or with
    /// `--provider together` a Together model such as
    /// meta-llama/Meta-Llama-3.1-8B-Instruct-Reference.
    #[arg(long, alias = "target-model")]
    pub model: Option<String>,
    /// The fine-tuning service the data is for: openai or together (overrides voicetune.toml).
    #[arg(long)]
    pub provider: Option<Provider>,
    /// Training token limit per example (overrides the target model's; `lint.max_tokens`).
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Only these rules (names or codes, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub select: Vec<String>,
    /// Skip these rules (names or codes, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
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
            } else if matches!(
                FileKind::from_path(&path),
                Some(FileKind::Jsonl | FileKind::Markdown)
            ) {
                // A folder's .json files are mostly configuration: only named ones are linted.
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

pub(crate) fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let files = collect_files(&args.paths)?;
    let mode = if args.unsafe_fixes {
        FixMode::All
    } else {
        FixMode::Safe
    };
    let mut total = 0;
    let mut fixed_total = 0;
    let mut json = report::JsonReport::default();
    let overrides = Overrides {
        model: args.model.as_deref(),
        provider: args.provider,
        max_tokens: args.max_tokens,
        select: &args.select,
        ignore: &args.ignore,
    };
    for path in &files {
        let config = config_for(path, &overrides)?;
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
                OutputFormat::Json => json.push(path, &index, finding),
            }
        }
        stdout.flush()?;
        total += report.findings.len();
    }
    match args.format {
        OutputFormat::Json => writeln!(std::io::stdout().lock(), "{}", json.to_string_pretty()?)?,
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
