//! Turning a fixed text back into a small set of edits: a fix-all computes the final text (the
//! engine loops to a fixed point), and the client gets one edit per changed region rather than a
//! whole-document replacement, so cursors, marks and undo stay where they were.

use crate::lint::Edit;

/// How far ahead to look for a matching line when lines were inserted or deleted.
const LOOKAHEAD: usize = 16;

/// Edits (byte spans of `old`, non-overlapping, sorted) that turn `old` into `new`.
pub fn minimal_edits(old: &str, new: &str) -> Vec<Edit> {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let mut offsets = Vec::with_capacity(a.len() + 1);
    let mut at = 0;
    for line in &a {
        offsets.push(at);
        at += line.len();
    }
    offsets.push(at);

    let mut edits = Vec::new();
    let (mut i, mut j) = (0, 0);
    // A run of differing lines: old[i0..i] becomes new[j0..j].
    let mut run: Option<(usize, usize)> = None;
    let flush = |run: &mut Option<(usize, usize)>, i: usize, j: usize, edits: &mut Vec<Edit>| {
        if let Some((i0, j0)) = run.take() {
            edits.push(trimmed(old, offsets[i0]..offsets[i], &b[j0..j].concat()));
        }
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            flush(&mut run, i, j, &mut edits);
            i += 1;
            j += 1;
            continue;
        }
        run.get_or_insert((i, j));
        // Deleted old lines, inserted new lines, or one changed line.
        let deleted = (1..=LOOKAHEAD).find(|&k| i + k < a.len() && j < b.len() && a[i + k] == b[j]);
        let inserted =
            (1..=LOOKAHEAD).find(|&k| j + k < b.len() && i < a.len() && a[i] == b[j + k]);
        match (deleted, inserted) {
            (Some(k), Some(m)) if k <= m => i += k,
            (Some(k), None) => i += k,
            (_, Some(m)) => j += m,
            _ => {
                i = (i + 1).min(a.len());
                j = (j + 1).min(b.len());
            }
        }
    }
    flush(&mut run, i, j, &mut edits);
    edits
}

/// Shrinks a replacement to the characters that actually change.
fn trimmed(old: &str, span: std::ops::Range<usize>, new_text: &str) -> Edit {
    let before = &old[span.clone()];
    let prefix = common_prefix(before, new_text);
    let suffix = common_prefix_rev(&before[prefix..], &new_text[prefix..]);
    Edit {
        span: span.start + prefix..span.end - suffix,
        new_text: new_text[prefix..new_text.len() - suffix].into(),
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map(|((i, _), _)| i)
        .unwrap_or(a.len().min(b.len()))
}

fn common_prefix_rev(a: &str, b: &str) -> usize {
    let mut n = 0;
    for (x, y) in a.chars().rev().zip(b.chars().rev()) {
        if x != y {
            break;
        }
        n += x.len_utf8();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apply(old: &str, edits: &[Edit]) -> String {
        let mut out = String::new();
        let mut at = 0;
        for e in edits {
            assert!(e.span.start >= at, "edits overlap or are unsorted");
            out.push_str(&old[at..e.span.start]);
            out.push_str(&e.new_text);
            at = e.span.end;
        }
        out + &old[at..]
    }

    #[test]
    fn one_edit_per_changed_region() {
        let old = "a\nb <p>x</p>\nc\nd\ne <b>\n";
        let new = "a\nb x\nc\nd\ne \n";
        let edits = minimal_edits(old, new);
        assert_eq!(apply(old, &edits), new);
        assert_eq!(edits.len(), 2);
        assert_eq!(&*edits[0].new_text, "x");
        assert_eq!(&old[edits[0].span.clone()], "<p>x</p>");
    }

    #[test]
    fn deleted_and_inserted_lines() {
        let old = "1\n2\n2\n3\n";
        let new = "1\n2\n3\n4\n";
        let edits = minimal_edits(old, new);
        assert_eq!(apply(old, &edits), new);
        assert_eq!(minimal_edits("same\n", "same\n"), vec![]);
    }

    proptest! {
        #[test]
        fn edits_rebuild_the_new_text(
            old in prop::collection::vec("[ab\u{e9}😀]{0,3}\n?", 0..12),
            new in prop::collection::vec("[ab\u{e9}😀]{0,3}\n?", 0..12),
        ) {
            let (old, new) = (old.concat(), new.concat());
            prop_assert_eq!(apply(&old, &minimal_edits(&old, &new)), new);
        }
    }
}
