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

pub mod csv;
pub mod filters;
pub mod markdown;
pub mod options;
pub mod output;
pub mod post;
pub mod report;
pub mod transcript;
pub mod wxr;

pub use filters::Filters;
pub use options::{BuildConfig, BuildField, BuildOptions, BuildRequest, OptionsError};
pub use output::Format;
pub use post::{BodyFormat, Post, SourceError};
pub use report::{BuildReport, Stage};

use crate::clean::{self, CleanStats, SourceFormat};
use crate::lint::engine::LineRef;
use crate::lint::{self, FixMode, LintOptions, RecordSummary};
use rayon::prelude::*;
use report::{SourceReport, StageCount, TokenStats, STAGES};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

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
        write!(f, "{}", self.message)?;
        if let Some(report) = &self.report {
            write!(
                f,
                "\nread before the error: {}; no output written",
                report.summary_line()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}

impl BuildError {
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
            .map(|f| f.1.name())
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
        });
    }
    let source_count = files.len();
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
        let result = builder.read_source(path, *kind, *spec_index, &mut |bytes, items, written| {
            last.bytes_read = bytes;
            last.items_read = items;
            last.examples_written = written;
            progress(&last);
        });
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
    let mut report = builder
        .finish()
        .map_err(|e| BuildError::plain(format!("{}: {e}", options.output.display())))?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The files to read, each with its kind; refuses an output that would overwrite a source.
fn plan(options: &BuildOptions) -> Result<Vec<(PathBuf, SourceKind, usize)>, BuildError> {
    let mut files = Vec::new();
    for (index, spec) in options.sources.iter().enumerate() {
        let path = &spec.path;
        let meta = std::fs::metadata(path)
            .map_err(|e| BuildError::plain(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let exts: &[&str] = match spec.kind {
                Some(SourceKind::Markdown) => &["md", "markdown"],
                Some(SourceKind::Transcript) => &["md", "markdown", "txt", "vtt", "srt"],
                Some(SourceKind::Wxr) => &["xml"],
                Some(SourceKind::Csv) => &["csv", "tsv"],
                None => &["md", "markdown", "txt", "vtt", "srt"],
            };
            let listed = markdown::list_files(path, exts)
                .map_err(|e| BuildError::plain(format!("{}: {e}", path.display())))?;
            if listed.is_empty() {
                return Err(BuildError::plain(format!(
                    "{}: no {} files in this folder",
                    path.display(),
                    exts.join("/")
                )));
            }
            for file in listed {
                let kind = classify(&file, spec.kind).map_err(BuildError::plain)?;
                files.push((file, kind, index));
            }
        } else {
            let kind = classify(path, spec.kind).map_err(BuildError::plain)?;
            files.push((path.clone(), kind, index));
        }
    }
    // Never overwrite a source (the output or its validation file).
    let mut targets = vec![options.output.clone()];
    if options.split.is_some() {
        targets.push(output::validation_path(&options.output));
    }
    for target in &targets {
        let Ok(target) = std::fs::canonicalize(target) else {
            continue;
        };
        if let Some((file, _, _)) = files
            .iter()
            .find(|(f, _, _)| std::fs::canonicalize(f).ok().as_ref() == Some(&target))
        {
            return Err(BuildError::plain(format!(
                "{}: refusing to overwrite a source file; choose another -o",
                file.display()
            )));
        }
    }
    Ok(files)
}

/// A file's kind from the forced kind, its extension, or (for `.md`) its content.
fn classify(path: &Path, forced: Option<SourceKind>) -> Result<SourceKind, String> {
    if let Some(kind) = forced {
        return Ok(kind);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "xml" | "wxr" => SourceKind::Wxr,
        "csv" | "tsv" => SourceKind::Csv,
        "txt" | "vtt" | "srt" => SourceKind::Transcript,
        "md" | "markdown" => {
            let head =
                wxr::head(path, 16 * 1024).map_err(|e| format!("{}: {e}", path.display()))?;
            if transcript::looks_like_transcript(&String::from_utf8_lossy(&head)) {
                SourceKind::Transcript
            } else {
                SourceKind::Markdown
            }
        }
        _ => {
            let head = wxr::head(path, 4096).map_err(|e| format!("{}: {e}", path.display()))?;
            if wxr::sniff(&head) {
                SourceKind::Wxr
            } else {
                return Err(format!(
                    "{}: unknown source kind; name it KIND:PATH with KIND one of wxr, csv, markdown, transcript",
                    path.display()
                ));
            }
        }
    })
}

/// What the parallel part of the pipeline decided for one item.
enum Outcome {
    Empty,
    Lint(Vec<String>),
    Kept {
        line: String,
        summary: Box<RecordSummary>,
        fixes: Vec<String>,
    },
}

struct Processed {
    stats: CleanStats,
    outcome: Outcome,
}

/// Items per parallel batch, and the body bytes that close a batch early.
const BATCH_ITEMS: usize = 256;
const BATCH_BYTES: usize = 8 << 20;

struct Builder<'a> {
    options: &'a BuildOptions,
    lint: LintOptions,
    writer: Option<output::Writer>,
    report: BuildReport,
    /// Items dropped at each stage.
    dropped: [usize; STAGES.len()],
    items: usize,
    batch: Vec<Post>,
    batch_bytes: usize,
    seen: HashSet<u64>,
    /// Per written record: its lint summary, byte offset in the temp file, and tokens.
    summaries: Vec<(RecordSummary, usize, usize)>,
    written_bytes: usize,
    max_tokens: usize,
}

impl<'a> Builder<'a> {
    fn new(options: &'a BuildOptions, writer: output::Writer) -> Builder<'a> {
        let lint = LintOptions::new(&options.lint_config);
        let max_tokens = options
            .max_tokens
            .unwrap_or(lint.counter.model.max_training_tokens);
        Builder {
            options,
            lint,
            writer: Some(writer),
            report: BuildReport::default(),
            dropped: [0; STAGES.len()],
            items: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            seen: HashSet::new(),
            summaries: Vec::new(),
            written_bytes: 0,
            max_tokens,
        }
    }

    fn writer_lines(&self) -> usize {
        self.writer.as_ref().map_or(0, |w| w.lines())
    }

    fn read_source(
        &mut self,
        path: &Path,
        kind: SourceKind,
        source: usize,
        progress: &mut dyn FnMut(u64, usize, usize),
    ) -> anyhow::Result<()> {
        let before = self.items;
        let result = match kind {
            SourceKind::Wxr => {
                // The reader calls both closures, never at the same time.
                let this = std::cell::RefCell::new(&mut *self);
                let mut tick = |bytes: u64| {
                    let b = this.borrow();
                    progress(bytes, b.items, b.writer_lines());
                };
                wxr::read(path, &mut tick, &mut |post| this.borrow_mut().accept(post)).map(|_| ())
            }
            SourceKind::Csv => {
                let r = {
                    let this = std::cell::RefCell::new(&mut *self);
                    let mut tick = |bytes: u64| {
                        let b = this.borrow();
                        progress(bytes, b.items, b.writer_lines());
                    };
                    csv::read(path, &mut tick, &mut |post| this.borrow_mut().accept(post))
                };
                if let Ok((_, notes)) = &r {
                    let source = &mut self.report.sources[source];
                    source.notes.push(format!(
                        "{}-separated",
                        if notes.delimiter == '\t' {
                            "tab"
                        } else {
                            "comma"
                        }
                    ));
                    if notes.utf16 {
                        source.notes.push("decoded from UTF-16".into());
                    }
                    if !notes.windows_1252_lines.is_empty() {
                        let shown: Vec<String> = notes
                            .windows_1252_lines
                            .iter()
                            .take(10)
                            .map(u64::to_string)
                            .collect();
                        let more = if notes.windows_1252_lines.len() > 10 {
                            ", ..."
                        } else {
                            ""
                        };
                        let message = format!(
                            "{} rows were not valid UTF-8 and were decoded as Windows-1252 (lines {}{more}): mixed encodings, check them",
                            notes.windows_1252_lines.len(),
                            shown.join(", ")
                        );
                        source.notes.push(message.clone());
                        self.report
                            .warnings
                            .push(format!("{}: {message}", path.display()));
                    }
                }
                r.map(|_| ())
            }
            SourceKind::Markdown => {
                let post = markdown::read_post(path)?;
                self.accept(post)
            }
            SourceKind::Transcript => {
                let (post, counts) = transcript::read(path, self.options.speaker.as_deref())?;
                self.report.transcripts.files += 1;
                self.report.transcripts.turns_kept += counts.turns_kept;
                self.report.transcripts.turns_dropped += counts.turns_dropped;
                self.report.clean.transcript_artefacts += counts.artefacts;
                if counts.turns_kept == 0 {
                    let speakers = self.options.speaker.as_deref().unwrap_or("");
                    self.report
                        .warnings
                        .push(format!("{}: no turns by {speakers:?}", path.display()));
                }
                self.accept(post)
            }
        };
        self.report.sources[source].items += self.items - before;
        result?;
        self.flush()
    }

    /// Runs the metadata filters at once (cheap) and queues survivors for cleaning.
    fn accept(&mut self, post: Post) -> anyhow::Result<()> {
        self.items += 1;
        let f = &self.options.filters;
        let stage = if !f.type_ok(&post) {
            Some(Stage::Type)
        } else if !f.status_ok(&post) {
            Some(Stage::Status)
        } else if !f.author_ok(&post) {
            Some(Stage::Author)
        } else if !f.date_ok(&post) {
            Some(Stage::Date)
        } else if !f.title_ok(&post) {
            Some(Stage::Title)
        } else if !f.terms_ok(&post) {
            Some(Stage::Terms)
        } else {
            None
        };
        if let Some(stage) = stage {
            self.drop_at(stage);
            return Ok(());
        }
        self.batch_bytes += post.body.len();
        self.batch.push(post);
        if self.batch.len() >= BATCH_ITEMS || self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn drop_at(&mut self, stage: Stage) {
        let i = STAGES
            .iter()
            .position(|s| *s == stage)
            .expect("known stage");
        self.dropped[i] += 1;
    }

    /// Cleans and lints the queued posts in parallel, then dedups, applies token limits and
    /// writes them in order.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let (format, lint) = (&self.options.format, &self.lint);
        let processed: Vec<Processed> = batch
            .par_iter()
            .with_min_len(4)
            .map(|post| process(post, format, lint))
            .collect();
        drop(batch);
        for p in processed {
            self.report.clean.add(&p.stats);
            match p.outcome {
                Outcome::Empty => self.drop_at(Stage::Cleaned),
                Outcome::Lint(rules) => {
                    self.drop_at(Stage::Lint);
                    for rule in rules {
                        *self.report.lint_drops.entry(rule).or_default() += 1;
                    }
                }
                Outcome::Kept {
                    line,
                    summary,
                    fixes,
                } => {
                    if let Some(hash) = summary.content_hash {
                        if !self.seen.insert(hash) {
                            self.drop_at(Stage::Duplicate);
                            continue;
                        }
                    }
                    let tokens = summary
                        .tokens
                        .unwrap_or_else(|| self.lint.counter.count(&line));
                    if tokens > self.max_tokens
                        || self.options.min_tokens.is_some_and(|m| tokens < m)
                    {
                        self.drop_at(Stage::Tokens);
                        continue;
                    }
                    for rule in fixes {
                        *self.report.lint_fixes.entry(rule).or_default() += 1;
                    }
                    self.writer.as_mut().expect("open").write_line(&line)?;
                    self.summaries.push((*summary, self.written_bytes, tokens));
                    self.written_bytes += line.len() + 1;
                }
            }
        }
        Ok(())
    }

    fn stages(&self) -> Vec<StageCount> {
        let f = &self.options.filters;
        let mut kept = self.items;
        let mut out = Vec::with_capacity(STAGES.len());
        for (i, stage) in STAGES.iter().enumerate() {
            kept -= self.dropped[i];
            let (label, active) = match stage {
                Stage::Read => ("items".to_string(), true),
                Stage::Type => match f.types.as_slice() {
                    [] => ("of any type".into(), false),
                    [t] if t == "post" => ("posts".into(), true),
                    types => (format!("of type {}", types.join("/")), true),
                },
                Stage::Status => match f.statuses.as_slice() {
                    [] => ("of any status".into(), false),
                    [s] if s == "publish" => ("published".into(), true),
                    statuses => (format!("with status {}", statuses.join("/")), true),
                },
                Stage::Author => (
                    format!("by {}", f.author.as_deref().unwrap_or("any author")),
                    f.author.is_some(),
                ),
                Stage::Date => {
                    let show =
                        |d: Option<post::DateTime>| d.map(|d| d.to_string()).unwrap_or_default();
                    (
                        format!("dated {}..{}", show(f.since), show(f.until)),
                        f.has_dates(),
                    )
                }
                Stage::Title => ("after title filters".into(), f.has_titles()),
                Stage::Terms => ("with the tags/categories".into(), f.has_terms()),
                Stage::Cleaned => ("with text after cleaning".into(), false),
                Stage::Lint => ("lint-clean".into(), false),
                Stage::Duplicate => ("unique".into(), false),
                Stage::NearDuplicate => ("not near-duplicates".into(), false),
                Stage::Templated => ("not templated".into(), false),
                Stage::Tokens => {
                    let min = self.options.min_tokens.unwrap_or(0);
                    (
                        format!(
                            "within {}-{} tokens",
                            report::thousands(min),
                            report::thousands(self.max_tokens)
                        ),
                        self.options.min_tokens.is_some() || self.options.max_tokens.is_some(),
                    )
                }
            };
            out.push(StageCount {
                stage: *stage,
                label,
                kept,
                dropped: self.dropped[i],
                active,
            });
        }
        out
    }

    /// The report so far (for errors).
    fn partial_report(&self) -> BuildReport {
        let mut report = self.report.clone();
        report.stages = self.stages();
        report
    }

    fn finish(mut self) -> std::io::Result<BuildReport> {
        self.flush().map_err(std::io::Error::other)?;
        // Near-duplicates (the later of two), then templated examples (shared openings or
        // closings) are found by the linter's own dataset rules over the per-record summaries,
        // and dropped so that the file lints clean.
        let mut keep = vec![true; self.summaries.len()];
        let has_changes = {
            let mut dropped_any = false;
            for (rule, stage) in [
                ("near-duplicate", Stage::NearDuplicate),
                ("templated", Stage::Templated),
            ] {
                let flagged = self.flagged(rule, &keep);
                for i in flagged {
                    if keep[i] {
                        keep[i] = false;
                        dropped_any = true;
                        self.drop_at(stage);
                    }
                }
            }
            dropped_any
        };
        let mut report = std::mem::take(&mut self.report);
        report.stages = self.stages();
        let tokens: Vec<usize> = self
            .summaries
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(s, _)| s.2)
            .collect();
        report.tokens = TokenStats::from_counts(&self.options.model, tokens);
        // What the linter still says about the dataset as a whole (its size).
        let refs = line_refs(&self.summaries, Some(&keep));
        let mut findings: Vec<String> = lint::dataset_findings(&refs, &self.lint)
            .into_iter()
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect();
        findings.dedup();
        report.dataset_findings = findings;
        if report.kept() == 0 {
            report
                .warnings
                .push("no examples were written: loosen the filters (see the stages above)".into());
        }
        let writer = self.writer.take().expect("open");
        let keep = has_changes.then_some(keep);
        report.outputs = writer.finish(keep, self.options.split)?;
        Ok(report)
    }
}

impl Builder<'_> {
    /// Indices of the kept records that the linter's dataset rule `rule` flags.
    fn flagged(&self, rule: &str, keep: &[bool]) -> Vec<usize> {
        let refs = line_refs(&self.summaries, Some(keep));
        lint::dataset_findings(&refs, &self.lint)
            .into_iter()
            .filter(|f| f.rule == rule)
            .filter_map(|f| {
                self.summaries
                    .binary_search_by_key(&f.span.start, |(_, start, _)| *start)
                    .ok()
            })
            .collect()
    }
}

/// Line references over the written records (optionally only the kept ones), as the linter's
/// dataset rules take them.
fn line_refs<'s>(
    summaries: &'s [(RecordSummary, usize, usize)],
    keep: Option<&[bool]>,
) -> Vec<LineRef<'s>> {
    summaries
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.is_none_or(|k| k[*i]))
        .map(|(index, (summary, start, _))| LineRef {
            index,
            full_span: *start..*start + 1,
            summary,
        })
        .collect()
}

/// Cleans one post and lints its record, applying the linter's safe fixes to what cleaning left.
fn process(post: &Post, format: &Format, lint: &LintOptions) -> Processed {
    let source_format = match post.format {
        BodyFormat::Html => SourceFormat::Html,
        BodyFormat::Markdown => SourceFormat::Markdown,
        BodyFormat::Text => SourceFormat::Text,
    };
    let (text, stats) = clean::clean_post(&post.body, source_format);
    let mut title = clean::clean_title(&post.title);
    if title.is_empty() && !post.slug.is_empty() && !post.slug.bytes().all(|b| b.is_ascii_digit()) {
        title = post.slug.replace('-', " ");
    }
    if text.trim().is_empty() || title.is_empty() {
        return Processed {
            stats,
            outcome: Outcome::Empty,
        };
    }
    let fields = output::TemplateFields {
        title: &title,
        date: post.date.map(|d| d.to_string()).unwrap_or_default(),
        author: post
            .author_display
            .as_deref()
            .or(post.author.as_deref())
            .unwrap_or(""),
        tags: post.tags.join(", "),
        categories: post.categories.join(", "),
        slug: &post.slug,
    };
    let mut line = output::format_record(format, &fields, &text);
    let mut fixes = Vec::new();
    // Token limits are the builder's own stage; everything else must be clean or fixable.
    let blocking = |f: &&lint::Finding| f.rule != "too-many-tokens";
    for _ in 0..3 {
        let result = lint::lint_line(&line, lint);
        if !result.findings.iter().any(|f| blocking(&f)) {
            return Processed {
                stats,
                outcome: Outcome::Kept {
                    line,
                    summary: Box::new(result.summary),
                    fixes,
                },
            };
        }
        let (fixed, applied) = lint::apply_fixes(&line, &result.findings, FixMode::Safe);
        if applied == 0 || fixed == line {
            let mut rules: Vec<String> = result
                .findings
                .iter()
                .filter(blocking)
                .map(|f| f.rule.clone())
                .collect();
            rules.sort();
            rules.dedup();
            return Processed {
                stats,
                outcome: Outcome::Lint(rules),
            };
        }
        fixes.extend(
            result
                .findings
                .iter()
                .filter(|f| f.fix.is_some())
                .map(|f| f.rule.clone()),
        );
        line = fixed;
    }
    let result = lint::lint_line(&line, lint);
    let rules: Vec<String> = result
        .findings
        .iter()
        .filter(blocking)
        .map(|f| f.rule.clone())
        .collect();
    if rules.is_empty() {
        return Processed {
            stats,
            outcome: Outcome::Kept {
                line,
                summary: Box::new(result.summary),
                fixes,
            },
        };
    }
    Processed {
        stats,
        outcome: Outcome::Lint(rules),
    }
}
