//! An open document: its text in a rope and, for JSONL, one cached [`LineResult`] per line.
//!
//! An incremental edit splices the per-line cache (lines inserted or removed) and re-lints only
//! the lines it touched; the dataset-wide rules then run over the per-line summaries, never over
//! the text. Markdown drafts are small and are re-linted whole.
//!
//! A publish converts at most [`MAX_PUBLISHED`] findings to diagnostics, in document order,
//! plus one summary at the first finding left out: a 20 MB dataset can hold 700,000 findings,
//! and publishing them all (516 MB of JSON) or keeping them all as diagnostics made the server
//! grow without bound. The findings themselves stay cached per line for code actions.
//!
//! Work on a whole document (open, a config change, an edit that replaces the text) checks a
//! cancel flag between lines: a newer change or the end of the session stops it, and the
//! document is left marked incomplete so the next change lints it whole.
//!
//! Dataset-wide findings are kept anchored to their line, so that an edit elsewhere moves them
//! with their line. In a large file the dataset rules (over every summary) cost more than an
//! edit's budget, so the server takes a [`DatasetInput`] (shared summaries, cheap to take),
//! computes them off the request loop and hands them back with [`Document::set_dataset`];
//! until then the previous dataset findings stay on their lines (those on edited lines are
//! dropped).

use super::diagnostics::{self, to_diagnostic};
use super::position::{self, Encoding};
use crate::dataset::columns::Columns;
use crate::dataset::FileKind;
use crate::lint::engine::LineRef;
use crate::lint::{self, Finding, LineResult, LintOptions};
use rayon::prelude::*;
use ropey::Rope;
use std::ops::Range;
use std::sync::Arc;
use tower_lsp_server::ls_types::{
    Diagnostic, DiagnosticSeverity, NumberOrString, Position, Range as LspRange,
    TextDocumentContentChangeEvent,
};

/// Above this many lines, dataset-wide rules run off the request loop after an edit.
pub const DEFER_DATASET_LINES: usize = 2_000;

/// At most this many diagnostics are published per document (in document order), plus one
/// summary at the first finding left out. Editors slow down long before this many, and the
/// CLI lists them all.
pub const MAX_PUBLISHED: usize = 2_000;

/// Asked between lines of work on a whole document: true when the work is no longer wanted.
pub type Cancelled<'a> = &'a (dyn Fn() -> bool + Sync);

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
    /// JSONL: the lines that have findings, ascending (a publish visits only these, not
    /// every line of a 100,000-line file).
    flagged: Vec<usize>,
    /// JSONL: the dataset-wide findings, each with the line it starts on and its span relative
    /// to that line's start, ordered by line.
    dataset: Vec<(usize, Finding)>,
    /// False when a whole-document lint was cancelled: the cache is empty and the next change
    /// lints the whole text.
    complete: bool,
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
    /// Findings relative to the line start (after a BOM on line 0, shifted to include it),
    /// sorted by position. Shared, so that the dataset rules can run on a snapshot off the
    /// request loop.
    result: Arc<LineResult>,
}

impl Document {
    pub fn new(
        text: &str,
        kind: FileKind,
        version: i32,
        encoding: Encoding,
        opts: &LintOptions,
    ) -> Document {
        Document::new_until(text, kind, version, encoding, opts, &|| false)
    }

    /// [`Document::new`], stopping between lines once `cancelled` says so (the document is
    /// then [incomplete](Self::is_complete)).
    pub fn new_until(
        text: &str,
        kind: FileKind,
        version: i32,
        encoding: Encoding,
        opts: &LintOptions,
        cancelled: Cancelled,
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
            complete: false,
            dataset_fresh: false,
            defer_dataset_lines: DEFER_DATASET_LINES,
            whole: Vec::new(),
        };
        doc.relint_all_until(opts, cancelled);
        doc
    }

    /// Whether the lint cache reflects the whole text (false after a cancelled whole lint).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    /// Re-lints everything (after opening, a config change or a whole-text replacement).
    pub fn relint_all(&mut self, opts: &LintOptions) {
        self.relint_all_until(opts, &|| false);
    }

    /// [`Self::relint_all`], checking `cancelled` between lines; when it says so the cache is
    /// left empty and the document incomplete.
    pub fn relint_all_until(&mut self, opts: &LintOptions, cancelled: Cancelled) {
        self.generation += 1;
        self.lines.clear();
        self.flagged.clear();
        self.dataset.clear();
        self.whole.clear();
        self.complete = false;
        if cancelled() {
            return;
        }
        match self.kind {
            // Documents linted whole: a draft, a `.json` array of records.
            FileKind::Markdown | FileKind::Json => {
                self.whole = lint::lint_text(&self.text(), self.kind, opts)
            }
            FileKind::Jsonl => {
                let n = self.rope.len_lines();
                let lines: Option<Vec<LineState>> = (0..n)
                    .into_par_iter()
                    .with_min_len(256)
                    .map(|i| (!cancelled()).then(|| self.lint_line(i, opts)))
                    .collect();
                let Some(lines) = lines else { return };
                if cancelled() {
                    return; // before the dataset rules, which read every line
                }
                self.lines = lines;
                self.flagged = (0..self.lines.len())
                    .filter(|&i| !self.lines[i].result.findings.is_empty())
                    .collect();
                self.refresh_dataset(opts);
            }
        }
        self.complete = true;
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
        self.apply_changes_until(changes, version, opts, &|| false);
    }

    /// [`Self::apply_changes`]; a whole-document re-lint (a replaced text, or a document whose
    /// last whole lint was cancelled) checks `cancelled` between lines.
    pub fn apply_changes_until(
        &mut self,
        changes: &[TextDocumentContentChangeEvent],
        version: i32,
        opts: &LintOptions,
        cancelled: Cancelled,
    ) {
        self.version = version;
        self.generation += 1;
        let mut whole = !self.complete;
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
            self.relint_all_until(opts, cancelled);
        } else if self.lines.len() <= self.defer_dataset_lines {
            self.refresh_dataset(opts);
        }
    }

    /// Whether an edit of `range` re-lints more text than fits between keystrokes (the lines it
    /// touches are long, or the whole document must be linted).
    pub fn is_heavy_edit(&self, range: Option<LspRange>) -> bool {
        const INLINE_BYTES: usize = 256 << 10;
        let Some(range) = range else { return true };
        if !self.complete || (!self.kind.is_line_based() && self.rope.len_bytes() > INLINE_BYTES) {
            return true; // linted whole
        }
        let n = self.rope.len_lines();
        let first = (range.start.line as usize).min(n.saturating_sub(1));
        let last = (range.end.line as usize).min(n.saturating_sub(1));
        let mut bytes = 0;
        for line in first..=last {
            bytes += self.rope.line(line).len_bytes();
            if bytes > INLINE_BYTES {
                return true;
            }
        }
        false
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
                .filter(|(_, l)| !l.result.findings.is_empty())
                .map(|(k, _)| new.start + k),
        );
        self.flagged.extend(after);
        self.lines.splice(old, fresh);
        debug_assert_eq!(self.lines.len(), self.rope.len_lines());
        debug_assert!(self
            .flagged
            .iter()
            .copied()
            .eq((0..self.lines.len()).filter(|&i| !self.lines[i].result.findings.is_empty())));
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
        result.findings.sort_by(|a, b| {
            (a.span.start, a.span.end, &a.code).cmp(&(b.span.start, b.span.end, &b.code))
        });
        LineState {
            len: slice.len_bytes(),
            result: Arc::new(result),
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
        self.dataset
            .sort_by_key(|(line, f)| (*line, f.span.start, f.span.end));
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

    /// The diagnostics to publish for the current text: the first [`MAX_PUBLISHED`] findings
    /// in document order, then one summary at the first finding left out that says how many
    /// more there are and that `voicetune lint FILE` (`file`) lists them all. The work is
    /// O(published + flagged lines + the length of the lines shown), whatever the number of
    /// findings.
    pub fn diagnostics(&self, file: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut left_out: Option<(LspRange, usize)> = None;
        match self.kind {
            FileKind::Markdown | FileKind::Json => {
                let text = self.text();
                let positions = position::Positions::new(&text, self.encoding);
                for f in &self.whole {
                    let range = positions.range(&f.span);
                    if out.len() == MAX_PUBLISHED {
                        left_out = Some((range, self.whole.len() - MAX_PUBLISHED));
                        break;
                    }
                    out.push(to_diagnostic(
                        f,
                        range,
                        diagnostics::Anchor::Version(self.version),
                    ));
                }
            }
            FileKind::Jsonl => left_out = self.line_diagnostics(&mut out),
        }
        if let Some((range, more)) = left_out {
            out.push(Diagnostic {
                range,
                severity: Some(DiagnosticSeverity::INFORMATION),
                code: Some(NumberOrString::String("more".into())),
                source: Some(diagnostics::SOURCE.to_string()),
                message: format!(
                    "{more} more finding{} not shown: the editor gets the first {MAX_PUBLISHED}; \
                     `voicetune lint {file}` lists them all",
                    if more == 1 { "" } else { "s" }
                ),
                ..Diagnostic::default()
            });
        }
        out
    }

    /// JSONL: line and dataset findings in line order into `out` (up to [`MAX_PUBLISHED`]);
    /// the range of the first finding left out and how many were left out.
    fn line_diagnostics(&self, out: &mut Vec<Diagnostic>) -> Option<(LspRange, usize)> {
        let total = self.dataset.len()
            + self
                .flagged
                .iter()
                .map(|&i| self.lines[i].result.findings.len())
                .sum::<usize>();
        let (mut flagged, mut dataset) = (self.flagged.iter().peekable(), 0);
        loop {
            // The next line with findings of either kind.
            let next_line = flagged.peek().copied().copied();
            let next_dataset = self.dataset.get(dataset).map(|(l, _)| *l);
            let line = match (next_line, next_dataset) {
                (None, None) => return None,
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).expect("one is some"),
            };
            let text = position::line_text(&self.rope, line);
            let columns = Columns::new(&text, self.encoding.unit());
            let start = self.rope.line_to_byte(line);
            let range = |span: &Range<usize>| {
                let mut r = line_range(&text, &columns, span);
                r.start.line += line as u32;
                r.end.line += line as u32;
                r
            };
            let mut of_line: Vec<(&Finding, bool)> = Vec::new();
            if next_line == Some(line) {
                flagged.next();
                of_line.extend(self.lines[line].result.findings.iter().map(|f| (f, false)));
            }
            while self.dataset.get(dataset).is_some_and(|(l, _)| *l == line) {
                of_line.push((&self.dataset[dataset].1, true));
                dataset += 1;
            }
            // The order of `lint::lint_text`.
            of_line.sort_by(|(a, _), (b, _)| {
                (a.span.start, a.span.end, &a.code).cmp(&(b.span.start, b.span.end, &b.code))
            });
            let hash = diagnostics::hash(&text);
            for (f, wide) in of_line {
                if out.len() == MAX_PUBLISHED {
                    return Some((range(&f.span), total - MAX_PUBLISHED));
                }
                out.push(if wide {
                    // Dataset-wide fixes hold file offsets, valid for this version; their spans
                    // may reach over several lines.
                    let f = f.clone().shifted(start);
                    let range = self.range_of(&f.span);
                    to_diagnostic(&f, range, diagnostics::Anchor::Version(self.version))
                } else {
                    to_diagnostic(f, range(&f.span), diagnostics::Anchor::Line(hash.clone()))
                });
            }
        }
    }

    /// The fix of the finding of `code` at `range`, looked up in the cache (for a diagnostic
    /// whose fix was too large to travel in its data).
    pub fn fix_at(&self, range: &LspRange, code: &str) -> Option<lint::Fix> {
        let span = self.byte_of(range.start)..self.byte_of(range.end);
        let found = |findings: &[Finding], span: &Range<usize>| {
            findings
                .iter()
                .find(|f| f.code == code && f.span == *span)
                .and_then(|f| f.fix.clone())
        };
        match self.kind {
            FileKind::Markdown | FileKind::Json => found(&self.whole, &span),
            FileKind::Jsonl => {
                let line = range.start.line as usize;
                let start = self.line_start(line);
                let relative = span.start.saturating_sub(start)..span.end.saturating_sub(start);
                found(&self.lines.get(line)?.result.findings, &relative).map(|f| f.shifted(start))
            }
        }
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
/// (into its line break) ends on line 1, column 0. `columns` counts in the document's encoding.
fn line_range(line: &str, columns: &Columns, span: &Range<usize>) -> LspRange {
    let at = |b: usize| {
        if b > line.len() {
            Position::new(1, 0)
        } else {
            let mut b = b;
            while !line.is_char_boundary(b) {
                b -= 1;
            }
            Position::new(0, columns.count(0..b) as u32)
        }
    };
    LspRange::new(at(span.start), at(span.end))
}
