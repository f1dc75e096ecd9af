//! An open document: its text in a rope and, for JSONL, one cached [`LineResult`] per line.
//!
//! An incremental edit splices the per-line cache (lines inserted or removed) and re-lints only
//! the lines it touched; the dataset-wide rules then run over the per-line summaries, never over
//! the text. Markdown drafts are small and are re-linted whole.
//!
//! Each line also caches its diagnostics with positions relative to the line (line 0), so a
//! publish after a one-line edit only shifts line numbers instead of converting every finding.
//!
//! Dataset-wide findings are kept anchored to their line, so that an edit elsewhere moves them
//! with their line. In a large file the dataset rules (over every summary) cost more than an
//! edit's budget, so the server takes a [`DatasetInput`] (shared summaries, cheap to take),
//! computes them off the request loop and hands them back with [`Document::set_dataset`];
//! until then the previous dataset findings stay on their lines (those on edited lines are
//! dropped).

use super::diagnostics::{self, to_diagnostic};
use super::position::{self, Encoding};
use crate::dataset::FileKind;
use crate::lint::engine::LineRef;
use crate::lint::{self, Finding, LineResult, LintOptions};
use rayon::prelude::*;
use ropey::Rope;
use std::ops::Range;
use std::sync::Arc;
use tower_lsp_server::ls_types::{
    Diagnostic, Position, Range as LspRange, TextDocumentContentChangeEvent,
};

/// Above this many lines, dataset-wide rules run off the request loop after an edit.
pub const DEFER_DATASET_LINES: usize = 2_000;

pub struct Document {
    pub kind: FileKind,
    /// The client's version of the text held here.
    pub version: i32,
    /// Bumped on every change: a result computed for an older generation is stale.
    pub generation: u64,
    pub encoding: Encoding,
    rope: Rope,
    /// JSONL: one entry per rope line (the empty line after a final `\n` included).
    lines: Vec<LineState>,
    /// JSONL: the lines that have diagnostics, ascending (a publish visits only these, not
    /// every line of a 100,000-line file).
    flagged: Vec<usize>,
    /// JSONL: the dataset-wide findings, each with the line it starts on and its span relative
    /// to that line's start.
    dataset: Vec<(usize, Finding)>,
    /// Whether `dataset` reflects the current text.
    dataset_fresh: bool,
    /// Above this many lines an edit leaves the dataset rules to the caller.
    pub defer_dataset_lines: usize,
    /// Markdown: the whole document's findings (file offsets).
    whole: Vec<Finding>,
}

#[derive(Default)]
struct LineState {
    /// Bytes of the line including its line break.
    len: usize,
    /// Findings relative to the line start (after a BOM on line 0, shifted to include it).
    /// Shared, so that the dataset rules can run on a snapshot off the request loop.
    result: Arc<LineResult>,
    /// The findings as diagnostics on line 0, to be moved to the line's number.
    diagnostics: Vec<Diagnostic>,
}

impl Document {
    pub fn new(
        text: &str,
        kind: FileKind,
        version: i32,
        encoding: Encoding,
        opts: &LintOptions,
    ) -> Document {
        let mut doc = Document {
            kind,
            version,
            generation: 0,
            encoding,
            rope: Rope::from_str(text),
            lines: Vec::new(),
            flagged: Vec::new(),
            dataset: Vec::new(),
            dataset_fresh: false,
            defer_dataset_lines: DEFER_DATASET_LINES,
            whole: Vec::new(),
        };
        doc.relint_all(opts);
        doc
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    /// Re-lints everything (after opening, a config change or a whole-text replacement).
    pub fn relint_all(&mut self, opts: &LintOptions) {
        self.generation += 1;
        match self.kind {
            // Documents linted whole: a draft, a `.json` array of records.
            FileKind::Markdown | FileKind::Json => {
                self.whole = lint::lint_text(&self.text(), self.kind, opts)
            }
            FileKind::Jsonl => {
                let n = self.rope.len_lines();
                self.lines = (0..n)
                    .into_par_iter()
                    .with_min_len(256)
                    .map(|i| self.lint_line(i, opts))
                    .collect();
                self.flagged = (0..self.lines.len())
                    .filter(|&i| !self.lines[i].diagnostics.is_empty())
                    .collect();
                self.refresh_dataset(opts);
            }
        }
    }

    /// Applies a `didChange`'s content changes in order, then re-lints what they touched. The
    /// dataset-wide rules are re-run too unless the file is large ([`Self::dataset_fresh`]
    /// then says false and the caller runs them via [`Self::dataset_input`]).
    pub fn apply_changes(
        &mut self,
        changes: &[TextDocumentContentChangeEvent],
        version: i32,
        opts: &LintOptions,
    ) {
        self.version = version;
        self.generation += 1;
        let mut whole = false;
        for change in changes {
            match change.range {
                None => {
                    self.rope = Rope::from_str(&change.text);
                    whole = true;
                }
                Some(range) => {
                    let lines = self.edit(range, &change.text);
                    if !whole && self.kind.is_line_based() {
                        self.relint_lines(lines, &change.text, opts);
                    }
                }
            }
        }
        if whole || !self.kind.is_line_based() {
            self.relint_all(opts);
        } else if self.lines.len() <= self.defer_dataset_lines {
            self.refresh_dataset(opts);
        }
    }

    pub fn dataset_fresh(&self) -> bool {
        !self.kind.is_line_based() || self.dataset_fresh
    }

    /// Replaces `range` with `text` in the rope; returns the old lines it covered.
    fn edit(&mut self, range: LspRange, text: &str) -> Range<usize> {
        let mut start = position::char_of(&self.rope, range.start, self.encoding);
        let mut end = position::char_of(&self.rope, range.end, self.encoding);
        if end < start {
            std::mem::swap(&mut start, &mut end); // a reversed range from a client
        }
        let first = self.rope.char_to_line(start);
        let last = self.rope.char_to_line(end);
        self.rope.remove(start..end);
        self.rope.insert(start, text);
        first..last + 1
    }

    /// Splices the line cache after an edit of `old` lines by `text` and re-lints the new lines.
    fn relint_lines(&mut self, old: Range<usize>, text: &str, opts: &LintOptions) {
        let added = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        let new = old.start..old.start + added;
        let fresh: Vec<LineState> = new.clone().map(|i| self.lint_line(i, opts)).collect();
        let (removed, added) = (old.len(), new.len());
        // Dataset findings on edited lines go; those below move with their lines.
        self.dataset.retain(|(line, _)| !old.contains(line));
        for (line, _) in &mut self.dataset {
            if *line >= old.end {
                *line = *line + added - removed;
            }
        }
        self.dataset_fresh = false;
        let keep_below = self.flagged.partition_point(|&l| l < old.start);
        let first_after = self.flagged.partition_point(|&l| l < old.end);
        let after: Vec<usize> = self.flagged[first_after..]
            .iter()
            .map(|&l| l + added - removed)
            .collect();
        self.flagged.truncate(keep_below);
        self.flagged.extend(
            fresh
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.diagnostics.is_empty())
                .map(|(k, _)| new.start + k),
        );
        self.flagged.extend(after);
        self.lines.splice(old, fresh);
        debug_assert_eq!(self.lines.len(), self.rope.len_lines());
        debug_assert!(self
            .flagged
            .iter()
            .copied()
            .eq((0..self.lines.len()).filter(|&i| !self.lines[i].diagnostics.is_empty())));
    }

    fn lint_line(&self, i: usize, opts: &LintOptions) -> LineState {
        let slice = self.rope.line(i);
        let text = position::line_text(&self.rope, i);
        let (body, shift) = match (i, text.strip_prefix('\u{feff}')) {
            (0, Some(rest)) => (rest, 3),
            _ => (&*text, 0),
        };
        let mut result = lint::lint_line(body, opts);
        if shift > 0 {
            result.findings = result
                .findings
                .into_iter()
                .map(|f| f.shifted(shift))
                .collect();
        }
        if i == 0 {
            result
                .findings
                .extend(lint::rules::syntax::bom(&text, opts));
        }
        let diagnostics = result
            .findings
            .iter()
            .map(|f| {
                let range = line_range(&text, &f.span, self.encoding);
                to_diagnostic(
                    f,
                    range,
                    diagnostics::Anchor::Line(diagnostics::hash(&text)),
                )
            })
            .collect();
        LineState {
            len: slice.len_bytes(),
            result: Arc::new(result),
            diagnostics,
        }
    }

    /// How many lines are records or blank lines in the engine's sense: the empty line after a
    /// final line break is not one.
    fn record_lines(&self) -> usize {
        let n = self.lines.len();
        if n > 0 && self.lines[n - 1].len == 0 {
            n - 1
        } else {
            n
        }
    }

    fn line_starts(&self) -> Vec<usize> {
        let mut starts = Vec::with_capacity(self.lines.len());
        let mut at = 0;
        for line in &self.lines {
            starts.push(at);
            at += line.len;
        }
        starts
    }

    /// Runs the dataset-wide rules now.
    pub fn refresh_dataset(&mut self, opts: &LintOptions) {
        let findings = self.dataset_input().findings(opts);
        self.set_dataset(self.generation, findings);
    }

    /// What the dataset-wide rules need, shared with the document (cheap to take).
    pub fn dataset_input(&self) -> DatasetInput {
        let starts = self.line_starts();
        let n = self.record_lines();
        DatasetInput {
            generation: self.generation,
            spans: (0..n)
                .map(|i| starts[i]..starts[i] + self.lines[i].len)
                .collect(),
            results: self.lines[..n].iter().map(|l| l.result.clone()).collect(),
        }
    }

    /// Installs dataset findings computed for `generation`; false (and ignored) when the text
    /// has changed since.
    pub fn set_dataset(&mut self, generation: u64, findings: Vec<Finding>) -> bool {
        if generation != self.generation {
            return false;
        }
        let starts = self.line_starts();
        self.dataset = findings
            .into_iter()
            .map(|f| {
                let line = starts
                    .partition_point(|&s| s <= f.span.start)
                    .saturating_sub(1);
                let start = starts.get(line).copied().unwrap_or(0);
                (line, shift_back(f, start))
            })
            .collect();
        self.dataset_fresh = true;
        true
    }

    /// Every finding with file offsets, sorted like [`lint::lint_text`].
    pub fn findings(&self) -> Vec<Finding> {
        if !self.kind.is_line_based() {
            return self.whole.clone();
        }
        let starts = self.line_starts();
        let mut out: Vec<Finding> = self
            .dataset
            .iter()
            .map(|(line, f)| f.clone().shifted(starts[*line]))
            .collect();
        for (line, start) in self.lines.iter().zip(&starts) {
            out.extend(
                line.result
                    .findings
                    .iter()
                    .cloned()
                    .map(|f| f.shifted(*start)),
            );
        }
        out.sort_by(|a, b| {
            (a.span.start, a.span.end, &a.code).cmp(&(b.span.start, b.span.end, &b.code))
        });
        out
    }

    /// The diagnostics to publish for the current text.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let file_findings: Vec<Finding> = match self.kind {
            FileKind::Markdown | FileKind::Json => self.whole.clone(),
            FileKind::Jsonl => self
                .dataset
                .iter()
                .map(|(line, f)| f.clone().shifted(self.rope.line_to_byte(*line)))
                .collect(),
        };
        let mut out: Vec<Diagnostic> = file_findings
            .iter()
            .map(|f| {
                to_diagnostic(
                    f,
                    self.range_of(&f.span),
                    diagnostics::Anchor::Version(self.version),
                )
            })
            .collect();
        for &i in &self.flagged {
            out.extend(self.lines[i].diagnostics.iter().map(|d| {
                let mut d = d.clone();
                d.range.start.line += i as u32;
                d.range.end.line += i as u32;
                d
            }));
        }
        out
    }

    /// The LSP range of a byte span of the file.
    pub fn range_of(&self, span: &Range<usize>) -> LspRange {
        LspRange::new(
            position::position_of(&self.rope, span.start, self.encoding),
            position::position_of(&self.rope, span.end, self.encoding),
        )
    }

    /// The byte offset of an LSP position, clamped.
    pub fn byte_of(&self, pos: Position) -> usize {
        position::byte_of(&self.rope, pos, self.encoding)
    }

    /// The byte offset where `line` starts (clamped).
    pub fn line_start(&self, line: usize) -> usize {
        if line >= self.rope.len_lines() {
            return self.rope.len_bytes();
        }
        self.rope.line_to_byte(line)
    }

    /// JSONL: the cached result of line `i`.
    pub fn line_result(&self, i: usize) -> Option<&LineResult> {
        self.lines.get(i).map(|l| &*l.result)
    }

    /// JSONL: the summaries of the record lines.
    pub fn summaries(&self) -> impl Iterator<Item = &lint::RecordSummary> {
        self.lines[..self.record_lines()]
            .iter()
            .map(|l| &l.result.summary)
    }
}

/// The dataset rules' input: each record line's file span and shared lint result.
pub struct DatasetInput {
    pub generation: u64,
    spans: Vec<Range<usize>>,
    results: Vec<Arc<LineResult>>,
}

impl DatasetInput {
    /// The dataset-wide findings (file offsets).
    pub fn findings(&self, opts: &LintOptions) -> Vec<Finding> {
        let refs: Vec<LineRef> = self
            .spans
            .iter()
            .zip(&self.results)
            .enumerate()
            .map(|(index, (span, result))| LineRef {
                index,
                full_span: span.clone(),
                summary: &result.summary,
            })
            .collect();
        lint::dataset_findings(&refs, opts)
    }
}

/// A finding moved `delta` bytes back (file offsets -> relative to a line start).
fn shift_back(mut f: Finding, delta: usize) -> Finding {
    let back = |r: &Range<usize>| r.start.saturating_sub(delta)..r.end.saturating_sub(delta);
    f.span = back(&f.span);
    if let Some(fix) = &mut f.fix {
        for e in &mut fix.edits {
            e.span = back(&e.span);
        }
    }
    f
}

/// The LSP range of a line-relative byte span, on line 0; a span reaching past the line's text
/// (into its line break) ends on line 1, column 0.
fn line_range(line: &str, span: &Range<usize>, enc: Encoding) -> LspRange {
    let at = |b: usize| {
        if b > line.len() {
            Position::new(1, 0)
        } else {
            Position::new(0, position::column(line, b, enc))
        }
    };
    LspRange::new(at(span.start), at(span.end))
}
