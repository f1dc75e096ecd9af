//! Dataset builder: WordPress WXR/CSV exports, markdown folders and transcripts -> records,
//! filtered, cleaned with [`crate::clean`], checked with the linter's own per-record rules, and
//! written as training JSONL with a build report.
//!
//! The pipeline streams: readers hand over one item at a time, cheap metadata filters run at
//! once, and kept items are cleaned and linted in parallel batches, so memory holds one batch
//! plus a small summary per written example, however large the export.
//!
//! `voicetune build SOURCE... -o OUT.jsonl` and the server's `voicetune.buildDataset` both
//! resolve their options with [`options`] and call [`build`].

mod builder;
pub mod csv;
pub mod filters;
pub mod markdown;
pub mod options;
pub mod output;
mod plan;
pub mod post;
mod process;
pub mod report;
pub mod transcript;
pub mod wxr;

pub use filters::Filters;
pub use options::{BuildConfig, BuildField, BuildOptions, BuildRequest, OptionsError};
pub use output::Format;
pub use post::{BodyFormat, Post, SourceError};
pub use report::{BuildReport, SkippedFile, Stage};

use builder::Builder;
use plan::plan;
use report::SourceReport;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// The kinds of source the builder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Wxr,
    Csv,
    Markdown,
    Transcript,
}

impl SourceKind {
    fn name(self) -> &'static str {
        match self {
            SourceKind::Wxr => "wxr",
            SourceKind::Csv => "csv",
            SourceKind::Markdown => "markdown",
            SourceKind::Transcript => "transcript",
        }
    }
}

/// A source path, optionally with a forced kind (`transcript:talks/`, `wxr:export.txt`).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSpec {
    pub path: PathBuf,
    pub kind: Option<SourceKind>,
}

impl SourceSpec {
    /// Parses `PATH` or `KIND:PATH` (kind = wxr, csv, markdown, transcript).
    pub fn parse(text: &str) -> SourceSpec {
        if let Some((kind, path)) = text.split_once(':') {
            let kind = match kind {
                "wxr" | "wordpress" => Some(SourceKind::Wxr),
                "csv" => Some(SourceKind::Csv),
                "markdown" | "md" => Some(SourceKind::Markdown),
                "transcript" => Some(SourceKind::Transcript),
                _ => None,
            };
            if kind.is_some() && !path.is_empty() {
                return SourceSpec {
                    path: PathBuf::from(path),
                    kind,
                };
            }
        }
        SourceSpec {
            path: PathBuf::from(text),
            kind: None,
        }
    }
}

/// Progress of a build, reported every few items.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    pub source: PathBuf,
    /// 0-based index of the current source, and how many there are.
    pub source_index: usize,
    pub source_count: usize,
    /// Bytes of the current file read so far, and its size.
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub items_read: usize,
    pub examples_written: usize,
}

/// A failed build: the error, and the report of what was read before it. No output file is
/// left behind.
#[derive(Debug)]
pub struct BuildError {
    pub message: String,
    pub source_error: Option<Box<SourceError>>,
    pub report: Option<Box<BuildReport>>,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(|option| option.key().to_string()))
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
    /// The message with the build option it names (a source error's [`SourceError::option`])
    /// called `name(option)`, the way each face names options (`--speaker`, `options.speaker`).
    pub fn describe(&self, name: impl Fn(BuildField) -> String) -> String {
        let mut message = match &self.source_error {
            Some(source) if source.option.is_some() => source.describe(name),
            _ => self.message.clone(),
        };
        if let Some(report) = &self.report {
            message += &format!(
                "\nread before the error: {}; no output written",
                report.summary_line()
            );
        }
        message
    }

    /// An error with no source position (options, paths).
    fn plain(message: impl Into<String>) -> BuildError {
        BuildError {
            message: message.into(),
            source_error: None,
            report: None,
        }
    }
}

/// Builds the dataset. `progress` is called every few items and after each source.
pub fn build(
    options: &BuildOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<BuildReport, BuildError> {
    let started = std::time::Instant::now();
    let files = plan(options)?;
    let writer = output::Writer::create(&options.output).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidInput {
            // Already names the path and what is wrong with it (not a regular file).
            return BuildError::plain(e.to_string());
        }
        BuildError::plain(format!(
            "{}: cannot create the output: {e}",
            options.output.display()
        ))
    })?;
    let mut builder = Builder::new(options, writer);

    for (i, spec) in options.sources.iter().enumerate() {
        let mut kinds: Vec<&str> = files
            .iter()
            .filter(|f| f.2 == i)
            .filter_map(|f| f.1.as_ref().ok().map(|kind| kind.name()))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        let kind = if kinds.len() == 1 {
            kinds[0].to_string()
        } else {
            kinds.join("+")
        };
        builder.report.sources.push(SourceReport {
            path: spec.path.clone(),
            kind,
            items: 0,
            notes: Vec::new(),
            ignored_columns: Vec::new(),
            recoded_fields: 0,
        });
    }
    let source_count = files.len();
    builder.report.files = source_count;
    // With several files, one that cannot be used is skipped (its partial reading undone);
    // alone, or with `strict`, it fails the build.
    let skip_bad_files = source_count > 1 && !options.strict;
    for (index, (path, kind, spec_index)) in files.iter().enumerate() {
        let bytes_total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut last = Progress {
            source: path.clone(),
            source_index: index,
            source_count,
            bytes_read: 0,
            bytes_total,
            items_read: 0,
            examples_written: 0,
        };
        let checkpoint = skip_bad_files.then(|| builder.checkpoint());
        let result = match kind {
            Ok(kind) => {
                builder.read_source(path, *kind, *spec_index, &mut |bytes, items, written| {
                    last.bytes_read = bytes;
                    last.items_read = items;
                    last.examples_written = written;
                    progress(&last);
                })
            }
            Err(unreadable) => Err(anyhow::Error::new(unreadable.clone())),
        };
        if let (Err(err), Some(checkpoint)) = (&result, checkpoint) {
            let error = err.downcast_ref::<SourceError>().cloned();
            let reason = match &error {
                Some(source) => source.to_string(),
                None => format!("{}: {err:#}", path.display()),
            };
            builder
                .rollback(checkpoint)
                .map_err(|e| BuildError::plain(format!("{}: {e}", options.output.display())))?;
            builder.report.skipped.push(report::SkippedFile {
                path: path.clone(),
                reason,
                error,
            });
            builder.report.bytes_read += bytes_total;
            continue;
        }
        if let Err(err) = result {
            builder.report.seconds = started.elapsed().as_secs_f64();
            let report = builder.partial_report();
            drop(builder); // deletes the temp output
            let source_error = err.downcast_ref::<SourceError>().cloned().map(Box::new);
            return Err(BuildError {
                message: format!("{err:#}"),
                source_error,
                report: Some(Box::new(report)),
            });
        }
        builder.report.bytes_read += bytes_total;
        last.bytes_read = bytes_total;
        last.items_read = builder.items;
        last.examples_written = builder.writer_lines();
        progress(&last);
    }
    if builder.report.skipped.len() == source_count {
        let reasons: Vec<String> = builder
            .report
            .skipped
            .iter()
            .map(|s| format!("\n  {}", s.reason))
            .collect();
        return Err(BuildError::plain(format!(
            "none of the {source_count} files could be used:{}",
            reasons.concat()
        )));
    }
    let mut report = builder
        .finish()
        .map_err(|e| BuildError::plain(format!("{}: {e}", options.output.display())))?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
