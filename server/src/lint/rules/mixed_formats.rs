//! One format per file: chat, prompt/completion and preference lines don't mix.

use crate::dataset::json::Node;
use crate::dataset::Format;
use crate::lint::record::LineRef;
use crate::lint::rule::DatasetRule;
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};
use std::collections::HashMap;

pub static MIXED_FORMATS: RuleInfo = RuleInfo {
    code: "VT019",
    name: "mixed-formats",
    severity: Severity::Error,
    summary: "Lines of different record formats in one file",
    doc: "A training file holds one format: every line chat, or every line prompt/completion, or \
every line preference. Services detect the format from the first line and reject the rest. The \
finding marks lines that differ from the file's majority (or from `format` in voicetune.toml); \
convert or move them.",
    fixable: false,
};

pub struct MixedFormats;

impl DatasetRule for MixedFormats {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&MIXED_FORMATS];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        check(records, opts, out);
    }
}

fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    if opts.config.format != crate::config::FormatSetting::Auto {
        return; // Checked per line against the configured format.
    }
    let mut counts: HashMap<Format, usize> = HashMap::new();
    for format in records.iter().filter_map(|r| r.summary.format) {
        *counts.entry(format).or_default() += 1;
    }
    if counts.len() < 2 {
        return;
    }
    // Majority wins; ties go to the format of the first record.
    let first = records.iter().find_map(|r| r.summary.format);
    let (majority, count) = counts
        .iter()
        .max_by_key(|(f, c)| (**c, Some(**f) == first))
        .map(|(f, c)| (*f, *c))
        .expect("two or more formats");
    for record in records {
        match record.summary.format {
            Some(format) if format != majority => {
                let span = record.full_span.start..record.full_span.start + 1;
                out.extend(opts.finding(
                    &MIXED_FORMATS,
                    span,
                    format!(
                        "{} record in a {} file ({count} lines are {})",
                        format.name(),
                        majority.name(),
                        majority.name()
                    ),
                    None,
                ));
            }
            _ => {}
        }
    }
}

pub fn not_configured_format(
    node: &Node,
    detected: Option<Format>,
    wanted: Format,
    opts: &LintOptions,
) -> Option<Finding> {
    let detected = detected.map_or("unknown", Format::name);
    opts.finding(
        &MIXED_FORMATS,
        node.span.start..node.span.start + 1,
        format!(
            "{detected} record, but voicetune.toml sets format to {}",
            wanted.name()
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_the_minority_format() {
        let mut lines = clean_lines(12);
        lines.push(r#"{"prompt": "Tea?", "completion": " Yes, always."}"#.into());
        let found = file_findings(&(lines.join("\n") + "\n"), "mixed-formats");
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .contains("prompt/completion record in a chat file")
                || found[0].message.contains("record in a"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn one_format_is_clean() {
        let text = clean_lines(12).join("\n") + "\n";
        assert!(file_findings(&text, "mixed-formats").is_empty());
    }
}
