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
pub fn apply_fixes(text: &str, findings: &[Finding], mode: FixMode) -> (String, usize) {
    let mut fixes: Vec<&Fix> = findings
        .iter()
        .filter_map(|f| f.fix.as_ref())
        .filter(|fix| mode.allows(fix.applicability) && !fix.edits.is_empty())
        .filter(|fix| fix.edits.iter().all(|e| valid_edit(text, e)))
        .collect();
    fixes.sort_by_key(|fix| fix.edits.iter().map(|e| e.span.start).min());
    fixes.dedup_by(|a, b| a.edits == b.edits);
    let mut accepted: Vec<&Edit> = Vec::new();
    let mut applied = 0;
    for fix in fixes {
        let clashes = fix
            .edits
            .iter()
            .any(|e| accepted.iter().any(|a| overlaps(a, e)));
        if !clashes {
            accepted.extend(&fix.edits);
            applied += 1;
        }
    }
    accepted.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for edit in accepted {
        out.push_str(&text[cursor..edit.span.start]);
        out.push_str(&edit.new_text);
        cursor = edit.span.end;
    }
    out.push_str(&text[cursor..]);
    (out, applied)
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
