//! `.json` datasets: one JSON array whose elements are the records. Each element is linted as a
//! JSONL line would be (its text is a valid JSON value wherever it sits), and its findings are
//! shifted to where the element sits in the file, so positions and fixes work unchanged.

use super::engine::{dataset_findings, lint_line};
use super::options::LintOptions;
use super::record::{LineRef, LineResult};
use super::rules;
use super::types::Finding;
use crate::dataset::json::{self, Node};
use std::ops::Range;

/// One element of the array: where its value is, and what deleting it removes (the value with
/// one of its separating commas).
pub struct Element {
    pub span: Range<usize>,
    pub removal: Range<usize>,
}

/// The elements of a `.json` dataset, or the findings that say why it has none.
pub fn elements(text: &str, opts: &LintOptions) -> Result<Vec<Element>, Vec<Finding>> {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[start..];
    let root = match json::parse(body) {
        Ok(root) => root,
        Err(err) => {
            let found = rules::syntax::invalid_json(body, &err, opts)
                .into_iter()
                .map(|f| f.shifted(start))
                .collect();
            return Err(found);
        }
    };
    let Some(items) = root.as_array() else {
        let finding = opts.finding(
            &rules::syntax::NOT_AN_OBJECT,
            start + root.span.start..start + root.span.start + 1,
            format!(
                "a .json dataset is an array of records, not {}; put the records in `[...]` or save them as JSONL",
                root.type_name()
            ),
            None,
        );
        return Err(finding.into_iter().collect());
    };
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, item)| Element {
            span: start + item.span.start..start + item.span.end,
            removal: removal(items, i, start),
        })
        .collect())
}

/// The element with the comma after it (the one before it, for the last element).
fn removal(items: &[Node], i: usize, base: usize) -> Range<usize> {
    let span = &items[i].span;
    let range = if i + 1 < items.len() {
        span.start..items[i + 1].span.start
    } else if i > 0 {
        items[i - 1].span.end..span.end
    } else {
        span.clone()
    };
    base + range.start..base + range.end
}

/// Lints a `.json` dataset.
pub fn lint_document(text: &str, opts: &LintOptions) -> Vec<Finding> {
    let elements = match elements(text, opts) {
        Ok(elements) => elements,
        Err(findings) => return findings,
    };
    let results: Vec<LineResult> = elements
        .iter()
        .map(|e| lint_line(&text[e.span.clone()], opts))
        .collect();
    let mut findings: Vec<Finding> = elements
        .iter()
        .zip(&results)
        .flat_map(|(e, r)| r.findings.iter().cloned().map(|f| f.shifted(e.span.start)))
        .collect();
    // A record's index is the 0-based line its element starts on, so that messages such as
    // "duplicate of line 4" name the line an editor shows; in an array written on one line
    // (several elements per line) it is the element's position instead, to stay unique.
    let mut counted_to = 0;
    let mut lines: Vec<usize> = Vec::with_capacity(elements.len());
    for e in &elements {
        let newlines = memchr::memchr_iter(b'\n', &text.as_bytes()[counted_to..e.span.start]);
        lines.push(lines.last().copied().unwrap_or(0) + newlines.count());
        counted_to = e.span.start;
    }
    if lines.windows(2).any(|w| w[0] == w[1]) {
        lines = (0..elements.len()).collect();
    }
    let refs: Vec<LineRef> = elements
        .iter()
        .zip(&results)
        .zip(lines)
        .map(|((e, r), index)| LineRef {
            index,
            full_span: e.removal.clone(),
            summary: &r.summary,
        })
        .collect();
    // Dataset rules point at a record's first byte, which for a removal span that starts with
    // the comma before it is not on the element: move those marks onto the element itself.
    let element_at: std::collections::HashMap<usize, usize> = elements
        .iter()
        .filter(|e| e.removal.start != e.span.start)
        .map(|e| (e.removal.start, e.span.start))
        .collect();
    findings.extend(dataset_findings(&refs, opts).into_iter().map(|mut f| {
        if let Some(&start) = element_at.get(&f.span.start).filter(|_| f.span.len() <= 1) {
            f.span = start..start + f.span.len();
        }
        f
    }));
    findings
}

/// The texts of the records, for token statistics.
pub fn record_texts<'a>(text: &'a str, opts: &LintOptions) -> Vec<&'a str> {
    elements(text, opts)
        .unwrap_or_default()
        .into_iter()
        .map(|e| &text[e.span])
        .collect()
}
