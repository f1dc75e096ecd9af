//! Applying fixes: non-overlapping edits spliced into the text, repeated until nothing fixable
//! is left (so "fix all" is idempotent: a second run finds nothing to fix).

use super::options::LintOptions;
use super::types::{Applicability, Edit, Finding, Fix};
use crate::dataset::FileKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixMode {
    /// Only fixes marked safe (`voicetune lint --fix`).
    Safe,
    /// Safe and unsafe fixes (`--fix --unsafe-fixes`).
    All,
}

impl FixMode {
    pub fn allows(self, applicability: Applicability) -> bool {
        self == FixMode::All || applicability == Applicability::Safe
    }
}

/// Applies every allowed fix whose edits don't overlap an earlier accepted fix. Identical
/// fixes (several findings sharing one whole-string clean-up) are applied once. Returns the
/// new text and how many fixes were applied.
///
/// O(f log f + n) for f fixes of an n-byte text: fixes are sorted once, each clash check is a
/// lookup in an ordered set of the accepted edits, and the text is spliced in one pass.
pub fn apply_fixes(text: &str, findings: &[Finding], mode: FixMode) -> (String, usize) {
    let mut fixes: Vec<&Fix> = findings
        .iter()
        .filter_map(|f| f.fix.as_ref())
        .filter(|fix| mode.allows(fix.applicability) && !fix.edits.is_empty())
        .filter(|fix| fix.edits.iter().all(|e| valid_edit(text, e)))
        .collect();
    fixes.sort_by_key(|fix| fix.edits.iter().map(|e| e.span.start).min());
    // Shared fixes compare by pointer first (`Arc<str>`), so this is cheap for them too.
    fixes.dedup_by(|a, b| a.edits == b.edits);
    let mut accepted = AcceptedEdits::default();
    let mut applied = 0;
    for fix in fixes {
        if !fix.edits.iter().any(|e| accepted.clashes(e)) && !self_clashing(&fix.edits) {
            for edit in &fix.edits {
                accepted.insert(edit);
            }
            applied += 1;
        }
    }
    let mut edits = accepted.into_sorted();
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for edit in edits {
        out.push_str(&text[cursor..edit.span.start]);
        out.push_str(&edit.new_text);
        cursor = edit.span.end;
    }
    out.push_str(&text[cursor..]);
    (out, applied)
}

/// Whether two edits of one fix clash with each other (the slow check is fine: a fix has one
/// or two edits).
fn self_clashing(edits: &[Edit]) -> bool {
    edits
        .iter()
        .enumerate()
        .any(|(i, a)| edits[i + 1..].iter().any(|b| overlaps(a, b)))
}

/// The edits accepted so far, which never clash with each other: non-empty spans are
/// disjoint, and each insertion point is distinct and not strictly inside a span.
#[derive(Default)]
struct AcceptedEdits<'a> {
    /// Non-empty edits by start.
    spans: std::collections::BTreeMap<usize, &'a Edit>,
    /// Insertions by position.
    points: std::collections::BTreeMap<usize, &'a Edit>,
}

impl<'a> AcceptedEdits<'a> {
    /// Whether `e` clashes with an accepted edit ([`overlaps`]). O(log n).
    fn clashes(&self, e: &Edit) -> bool {
        let (s, t) = (e.span.start, e.span.end);
        if s == t {
            // The same point, or strictly inside the span that starts last before it.
            return self.points.contains_key(&s)
                || self
                    .spans
                    .range(..s)
                    .next_back()
                    .is_some_and(|(_, a)| a.span.end > s);
        }
        // The disjoint span starting last before `t` is the only one that can reach past `s`;
        // an insertion clashes when strictly inside.
        self.spans
            .range(..t)
            .next_back()
            .is_some_and(|(_, a)| a.span.end > s)
            || self.points.range(s + 1..t).next().is_some()
    }

    fn insert(&mut self, e: &'a Edit) {
        if e.span.is_empty() {
            self.points.insert(e.span.start, e);
        } else {
            self.spans.insert(e.span.start, e);
        }
    }

    fn into_sorted(self) -> Vec<&'a Edit> {
        self.spans
            .into_values()
            .chain(self.points.into_values())
            .collect()
    }
}

fn valid_edit(text: &str, edit: &Edit) -> bool {
    edit.span.start <= edit.span.end
        && edit.span.end <= text.len()
        && text.is_char_boundary(edit.span.start)
        && text.is_char_boundary(edit.span.end)
}

/// Two edits clash when their ranges intersect, or both insert at the same point (the order of
/// the insertions would be arbitrary).
fn overlaps(a: &Edit, b: &Edit) -> bool {
    if a.span.is_empty() && b.span.is_empty() {
        return a.span.start == b.span.start;
    }
    a.span.start < b.span.end && b.span.start < a.span.end
        || (a.span.is_empty() && b.span.start < a.span.start && a.span.start < b.span.end)
        || (b.span.is_empty() && a.span.start < b.span.start && b.span.start < a.span.end)
}

/// How many lint-and-fix rounds "fix all" runs at most: each round fixes what the previous
/// round's fixes exposed, and real files settle in two or three.
pub const MAX_FIX_ROUNDS: usize = 10;

/// Lints and fixes repeatedly until no allowed fix is left (at most [`MAX_FIX_ROUNDS`]), the one
/// "fix all" of the CLI and the editor. `cancelled` is asked before each round; `on_round` hears
/// the round number and the fixes applied so far after each round that fixed something.
/// Returns the fixed text and the total number of fixes applied, or None when cancelled.
pub fn fix_until_clean(
    text: &str,
    kind: FileKind,
    opts: &LintOptions,
    mode: FixMode,
    cancelled: impl Fn() -> bool,
    mut on_round: impl FnMut(usize, usize),
) -> Option<(String, usize)> {
    let mut current = text.to_string();
    let mut total = 0;
    for round in 1..=MAX_FIX_ROUNDS {
        if cancelled() {
            return None;
        }
        let findings = super::lint_text(&current, kind, opts);
        let (next, applied) = apply_fixes(&current, &findings, mode);
        if applied == 0 {
            break;
        }
        total += applied;
        current = next;
        on_round(round, total);
    }
    Some((current, total))
}

/// [`fix_until_clean`] without cancel or progress. Returns the fixed text and the total number
/// of fixes applied.
pub fn fix_all(text: &str, kind: FileKind, opts: &LintOptions, mode: FixMode) -> (String, usize) {
    fix_until_clean(text, kind, opts, mode, || false, |_, _| {}).expect("never cancelled")
}
