//! Dataset size: OpenAI requires at least 10 examples (Together 1); both want many more.

use crate::lint::record::LineRef;
use crate::lint::rule::DatasetRule;
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static DATASET_SIZE: RuleInfo = RuleInfo {
    code: "VT403",
    name: "dataset-size",
    severity: Severity::Warning,
    summary: "Too few examples to fine-tune (error under 10 for OpenAI or 1 for Together, warning under 100)",
    doc: "OpenAI rejects training files with fewer than 10 examples (Together with fewer than 1), \
and OpenAI's guide says 50-100 are usually needed before a fine-tune beats prompting. Thresholds \
are `lint.min_examples` (error; default: the provider's minimum) and \
`lint.recommended_examples` (warning). Build more examples, e.g. with `voicetune build`.",
    fixable: false,
};

pub struct DatasetSize;

impl DatasetRule for DatasetSize {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&DATASET_SIZE];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        check(records, opts, out);
    }
}

fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    let examples = records
        .iter()
        .filter(|r| r.summary.format.is_some())
        .count();
    let lint = &opts.config.lint;
    let min_examples = opts.config.min_examples();
    let (severity, message) = if examples < min_examples {
        (
            Severity::Error,
            format!(
                "{examples} examples: fine-tuning on {} needs at least {min_examples}",
                opts.config.provider.title()
            ),
        )
    } else if examples < lint.recommended_examples {
        (
            Severity::Warning,
            format!(
                "{examples} examples: {} or more are recommended for a noticeable effect",
                lint.recommended_examples
            ),
        )
    } else {
        return;
    };
    // The rule picks error or warning by count, unless the config sets its severity.
    out.extend(
        opts.finding(&DATASET_SIZE, 0..0, message, None)
            .map(|mut f| {
                if !opts.severity_configured(&DATASET_SIZE) {
                    f.severity = severity;
                }
                f
            }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::test_support::*;

    #[test]
    fn few_examples_are_an_error_and_some_a_warning() {
        let few = file_findings(&(clean_lines(3).join("\n") + "\n"), "dataset-size");
        assert_eq!(few.len(), 1);
        assert_eq!(few[0].severity, Severity::Error);
        let some = file_findings(&(clean_lines(20).join("\n") + "\n"), "dataset-size");
        assert_eq!(some[0].severity, Severity::Warning);
    }

    #[test]
    fn enough_examples_are_clean() {
        let text = clean_lines(100).join("\n") + "\n";
        assert!(file_findings(&text, "dataset-size").is_empty());
    }
}
