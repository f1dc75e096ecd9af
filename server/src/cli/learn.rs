//! `voicetune learn [--workspace DIR] [-o OUT.jsonl]`: the suggestions accepted in the editor
//! (with `[completion] learn = true`), as the user finally wrote them, turned into a chat JSONL
//! that lints clean (see [`voicetune::ghost::learn`]). The log is only read.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

use voicetune::ghost::learn;
use voicetune::lint::{config_for_file, LintOptions};

#[derive(Debug, clap::Args)]
pub struct LearnArgs {
    /// The workspace whose `.voicetune/learn/accepted.jsonl` is read (default: this folder).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Where to write the examples (default: `.voicetune/learn/examples.jsonl` in the
    /// workspace); replaced atomically.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub(crate) fn run(args: &LearnArgs) -> Result<ExitCode> {
    let workspace = match &args.workspace {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the current folder")?,
    };
    let log = learn::log_path(&workspace);
    let text = match std::fs::read_to_string(&log) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{}: no accepted suggestions recorded yet; set `learn = true` in the [completion] \
             section of voicetune.toml and accept suggestions in the editor",
            log.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", log.display())),
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| workspace.join(learn::EXAMPLES_PATH));
    let same = |a: &std::path::Path, b: &std::path::Path| {
        std::path::absolute(a).ok() == std::path::absolute(b).ok()
            || a.canonicalize()
                .ok()
                .is_some_and(|a| b.canonicalize().ok() == Some(a))
    };
    if same(&output, &log) {
        bail!(
            "{}: the output must not be the log itself",
            output.display()
        );
    }
    let (events, unreadable) = learn::parse_log(&text);
    let (config, _) = config_for_file(&output)?;
    let (jsonl, report) = learn::dataset(&events, &LintOptions::new(&config));
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    voicetune::fsutil::write_atomic(&output, jsonl.as_bytes())
        .with_context(|| format!("{}: cannot write", output.display()))?;
    let accepted = events
        .iter()
        .filter(|e| matches!(e, learn::Event::Accepted(_)))
        .count();
    eprintln!(
        "{}: {} example{} from {accepted} accepted suggestion{}",
        output.display(),
        report.examples,
        if report.examples == 1 { "" } else { "s" },
        if accepted == 1 { "" } else { "s" },
    );
    let skipped = accepted.saturating_sub(report.examples + report.flagged);
    if skipped > 0 {
        eprintln!(
            "  {skipped} left out: repeated, removed by the user, or under {} words",
            learn::MIN_WORDS
        );
    }
    if report.flagged > 0 {
        eprintln!("  {} left out: flagged by `voicetune lint`", report.flagged);
    }
    if unreadable > 0 {
        eprintln!(
            "  {unreadable} unreadable line(s) of {} skipped",
            log.display()
        );
    }
    for finding in &report.dataset_findings {
        eprintln!("  note: {finding}");
    }
    Ok(ExitCode::SUCCESS)
}
