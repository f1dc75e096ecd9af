//! The streaming builder: metadata filters at once, cleaning and linting in parallel batches,
//! dedup and token limits in order, then the dataset-wide near-duplicate and template drops.

use super::process::{process, Outcome, Processed};
use super::report::{self, StageCount, TokenStats, STAGES};
use super::{csv, markdown, output, post, transcript, wxr};
use super::{BuildOptions, BuildReport, Post, SourceKind, Stage};
use crate::lint::engine::LineRef;
use crate::lint::{self, LintOptions, RecordSummary};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::Path;

/// Items per parallel batch, and the body bytes that close a batch early.
const BATCH_ITEMS: usize = 256;
const BATCH_BYTES: usize = 8 << 20;

pub(super) struct Builder<'a> {
    options: &'a BuildOptions,
    lint: LintOptions,
    writer: Option<output::Writer>,
    pub(super) report: BuildReport,
    /// Items dropped at each stage.
    dropped: [usize; STAGES.len()],
    pub(super) items: usize,
    batch: Vec<Post>,
    batch_bytes: usize,
    seen: HashSet<u64>,
    /// Hashes added to `seen` since the last [`Checkpoint`], to take back if the file is skipped.
    seen_since_checkpoint: Vec<u64>,
    /// Per written record: its lint summary, byte offset in the temp file, and tokens.
    summaries: Vec<(RecordSummary, usize, usize)>,
    written_bytes: usize,
    max_tokens: usize,
}

impl<'a> Builder<'a> {
    pub(super) fn new(options: &'a BuildOptions, writer: output::Writer) -> Builder<'a> {
        let lint = LintOptions::new(&options.lint_config);
        let max_tokens = options
            .max_tokens
            .unwrap_or(lint.config.max_training_tokens());
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
            seen_since_checkpoint: Vec::new(),
            summaries: Vec::new(),
            written_bytes: 0,
            max_tokens,
        }
    }

    pub(super) fn writer_lines(&self) -> usize {
        self.writer.as_ref().map_or(0, |w| w.lines())
    }

    pub(super) fn read_source(
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
                let strict_columns = self.options.strict_columns;
                let r = {
                    let this = std::cell::RefCell::new(&mut *self);
                    let mut tick = |bytes: u64| {
                        let b = this.borrow();
                        progress(bytes, b.items, b.writer_lines());
                    };
                    csv::read(path, strict_columns, &mut tick, &mut |post| {
                        this.borrow_mut().accept(post)
                    })
                };
                if let Ok((_, notes)) = &r {
                    let source = &mut self.report.sources[source];
                    source.notes.extend(notes.report_lines());
                    source.ignored_columns.clone_from(&notes.ignored_columns);
                    source.recoded_fields += notes.windows_1252_fields;
                    if let Some(message) = notes.encoding_warning() {
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
                let (post, counts) = transcript::read(
                    path,
                    self.options.speaker.as_deref(),
                    self.options.monologue_speaker.as_deref(),
                )?;
                let stats = &mut self.report.transcripts;
                stats.files += 1;
                stats.turns_kept += counts.turns_kept;
                stats.turns_dropped += counts.turns_dropped;
                stats.metadata_lines += counts.metadata_lines;
                stats.monologues_kept += usize::from(counts.monologue_kept);
                stats.monologues_skipped += usize::from(counts.monologue_skipped);
                self.report.clean.transcript_artefacts += counts.artefacts;
                match post {
                    Some(post) => {
                        if counts.turns_kept == 0 && !counts.monologue_kept {
                            let speakers = self.options.speaker.as_deref().unwrap_or("");
                            self.report
                                .warnings
                                .push(format!("{}: no turns by {speakers:?}", path.display()));
                        }
                        self.accept(post)
                    }
                    None => Ok(()),
                }
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
                        self.seen_since_checkpoint.push(hash);
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

    /// The state before a file is read, to go back to if the file cannot be used. Called between
    /// files, when the batch is empty.
    pub(super) fn checkpoint(&mut self) -> Checkpoint {
        self.seen_since_checkpoint.clear();
        // The lists that only grow are cut back to their length instead of copied each file.
        let warnings = std::mem::take(&mut self.report.warnings);
        let skipped = std::mem::take(&mut self.report.skipped);
        let report = self.report.clone();
        self.report.warnings = warnings;
        self.report.skipped = skipped;
        Checkpoint {
            warnings: self.report.warnings.len(),
            skipped: self.report.skipped.len(),
            report,
            dropped: self.dropped,
            items: self.items,
            summaries: self.summaries.len(),
            written_bytes: self.written_bytes,
        }
    }

    /// Forgets everything read since `checkpoint`: counts, written lines, duplicate hashes.
    pub(super) fn rollback(&mut self, checkpoint: Checkpoint) -> std::io::Result<()> {
        self.batch.clear();
        self.batch_bytes = 0;
        for hash in self.seen_since_checkpoint.drain(..) {
            self.seen.remove(&hash);
        }
        let mut warnings = std::mem::take(&mut self.report.warnings);
        let mut skipped = std::mem::take(&mut self.report.skipped);
        warnings.truncate(checkpoint.warnings);
        skipped.truncate(checkpoint.skipped);
        self.report = checkpoint.report;
        self.report.warnings = warnings;
        self.report.skipped = skipped;
        self.dropped = checkpoint.dropped;
        self.items = checkpoint.items;
        self.summaries.truncate(checkpoint.summaries);
        self.written_bytes = checkpoint.written_bytes;
        self.writer
            .as_mut()
            .expect("open")
            .truncate(checkpoint.summaries, checkpoint.written_bytes as u64)
    }

    /// The report so far (for errors).
    pub(super) fn partial_report(&self) -> BuildReport {
        let mut report = self.report.clone();
        report.stages = self.stages();
        report
    }

    pub(super) fn finish(mut self) -> std::io::Result<BuildReport> {
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

/// What [`Builder::rollback`] goes back to.
pub(super) struct Checkpoint {
    /// The report without its warnings and skipped files, and how many of those there were.
    report: BuildReport,
    warnings: usize,
    skipped: usize,
    dropped: [usize; STAGES.len()],
    items: usize,
    summaries: usize,
    written_bytes: usize,
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
