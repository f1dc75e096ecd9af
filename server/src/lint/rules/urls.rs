//! Bare URLs inside training text.

use crate::clean;
use crate::lint::text::{TextEdit, TextField};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};
use std::ops::Range;

pub static URL: RuleInfo = RuleInfo {
    code: "VT102",
    name: "url",
    severity: Severity::Warning,
    summary: "A bare URL in training text",
    doc: "URLs carry no voice, and a model fine-tuned on them starts inventing links (the \
gibberish the seed project paid for). The fix removes the URL and one adjacent space. Links \
written as markdown or HTML are reported by `markdown-link` and `html`, which keep the anchor \
text.",
    fixable: true,
};

pub fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&URL) || (!text.contains("://") && !text.contains("www.")) {
        return;
    }
    let covered = covered_by_other_rules(text);
    for span in clean::url_spans(text) {
        if field.in_code(&span)
            || covered
                .iter()
                .any(|c| c.start <= span.start && span.end <= c.end)
        {
            continue;
        }
        let removal = clean::removal_range(text, span.clone());
        let fix = (
            "Remove the URL".to_string(),
            vec![TextEdit {
                range: removal,
                text: String::new(),
            }],
            Applicability::Safe,
        );
        out.extend(field.finding(
            opts,
            &URL,
            span.clone(),
            format!("URL `{}` in training text", &text[span]),
            Some(fix),
        ));
    }
}

/// URLs inside markdown links, link definitions, autolinks and HTML tags belong to those rules.
fn covered_by_other_rules(text: &str) -> Vec<Range<usize>> {
    let mut covered: Vec<Range<usize>> = clean::MARKDOWN_LINK
        .find_iter(text)
        .map(|m| m.range())
        .collect();
    covered.extend(clean::LINK_DEFINITION.find_iter(text).map(|m| m.range()));
    covered.extend(clean::AUTOLINK.find_iter(text).map(|m| m.range()));
    if text.contains('<') {
        covered.extend(clean::HTML_TAG.find_iter(text).map(|m| m.range()));
    }
    covered
}
