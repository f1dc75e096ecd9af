//! Bare URLs inside training text.

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{Cover, TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};
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

pub struct Urls;

impl TextRule for Urls {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&URL];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&URL) || (!text.contains("://") && !text.contains("www.")) {
        return;
    }
    let covered = covered_by_other_rules(text);
    for span in clean::url_spans(text) {
        if field.in_code(&span) || covered.covers(&span) {
            continue;
        }
        let removal = clean::removal_range(text, span.clone());
        let fix = TextFix::remove("Remove the URL", removal);
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
fn covered_by_other_rules(text: &str) -> Cover {
    let mut covered: Vec<Range<usize>> = clean::MARKDOWN_LINK
        .find_iter(text)
        .map(|m| m.range())
        .collect();
    covered.extend(clean::LINK_DEFINITION.find_iter(text).map(|m| m.range()));
    covered.extend(clean::AUTOLINK.find_iter(text).map(|m| m.range()));
    if text.contains('<') {
        covered.extend(clean::HTML_TAG.find_iter(text).map(|m| m.range()));
    }
    Cover::new(covered)
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_and_removes_a_bare_url() {
        let line = reply("See https://tea.example.com for the rest of my notes.");
        assert_eq!(line_findings(&line, "url").len(), 1);
        assert!(fixed(&line, "url").contains("See for the rest"));
    }

    #[test]
    fn leaves_links_to_the_markdown_rule_and_plain_text_alone() {
        assert!(line_findings(
            &reply("[my notes](https://tea.example.com) are long."),
            "url"
        )
        .is_empty());
        assert!(
            line_findings(&reply("My notes on tea are long and slow to read."), "url").is_empty()
        );
    }
}
