//! Templated near-duplicates: many examples opening or closing with the same long text.

use crate::lint::record::LineRef;
use crate::lint::rule::DatasetRule;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};
use std::hash::{Hash, Hasher};

pub static TEMPLATED: RuleInfo = RuleInfo {
    code: "VT402",
    name: "templated",
    severity: Severity::Warning,
    summary: "Many examples share a long opening or closing (templated posts)",
    doc: "Weekly recaps, newsletters and listicles written from a template share their first or \
last paragraph word for word. A model trained on them learns the template rather than the \
writer's voice. The rule groups outputs (assistant replies, completions) whose first or last \
`lint.template_min_chars` characters match, when at least `lint.template_min_examples` do. Drop \
or rewrite the templated examples (the dataset builder's title filters help).",
    fixable: false,
};

/// Hashes of the output text's first and last characters (whitespace folded).
pub fn template_key(fields: &[TextField], opts: &LintOptions) -> Option<(u64, u64)> {
    let output = fields.iter().rev().find(|f| {
        matches!(
            f.role,
            FieldRole::Assistant | FieldRole::Completion | FieldRole::Text | FieldRole::Body
        )
    })?;
    let n = opts.config.lint.template_min_chars;
    let text = output.text();
    if text.len() < n * 2 {
        return None;
    }
    // Whitespace-folded first and last n characters, without copying the whole text.
    let head: Vec<char> = text
        .split_whitespace()
        .flat_map(|w| w.chars().chain([' ']))
        .take(n)
        .collect();
    let tail: Vec<char> = text
        .split_whitespace()
        .rev()
        .flat_map(|w| [' '].into_iter().chain(w.chars().rev()))
        .take(n)
        .collect();
    if head.len() < n || tail.len() < n {
        return None;
    }
    let hash = |chars: &[char]| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        chars.hash(&mut h);
        h.finish()
    };
    Some((hash(&head), hash(&tail)))
}

pub struct Templated;

impl DatasetRule for Templated {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&TEMPLATED];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        check(records, opts, out);
    }
}

fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    if !opts.enabled(&TEMPLATED) {
        return;
    }
    let mut openings: super::HashKeyMap<Vec<&LineRef>> = super::HashKeyMap::default();
    let mut closings: super::HashKeyMap<Vec<&LineRef>> = super::HashKeyMap::default();
    for record in records {
        if let Some((head, tail)) = record.summary.template {
            openings.entry(head).or_default().push(record);
            closings.entry(tail).or_default().push(record);
        }
    }
    let min = opts.config.lint.template_min_examples.max(2);
    let n = opts.config.lint.template_min_chars;
    let mut flagged = std::collections::HashSet::new();
    for (groups, which) in [(&openings, "opening"), (&closings, "closing")] {
        for group in groups.values().filter(|g| g.len() >= min) {
            let lines: Vec<String> = group
                .iter()
                .take(5)
                .map(|r| (r.index + 1).to_string())
                .collect();
            for record in group {
                if !flagged.insert(record.index) {
                    continue;
                }
                let span = record.full_span.start..record.full_span.start + 1;
                out.extend(opts.finding(
                    &TEMPLATED,
                    span,
                    format!("{} examples share the same {which} {n} characters (lines {}{}): templated text", group.len(), lines.join(", "), if group.len() > 5 { ", ..." } else { "" }),
                    None,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    const OPENING: &str = "Welcome back to the weekly tea roundup, where I share what I brewed, what I bought and what I spilled. ";

    #[test]
    fn flags_examples_sharing_a_long_opening() {
        let lines: Vec<String> = ["oolong", "sencha", "assam"]
            .iter()
            .map(|tea| reply(&format!("{OPENING}This week it was {tea}, which I brewed for three minutes and drank in the garden while the rain came down.")))
            .collect();
        let found = file_findings(&(lines.join("\n") + "\n"), "templated");
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn different_openings_are_clean() {
        let text = clean_lines(12).join("\n") + "\n";
        assert!(file_findings(&text, "templated").is_empty());
    }
}
