//! Dataset size: OpenAI requires at least 10 examples and recommends 50-100 or more.

use crate::lint::engine::LineRef;
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static DATASET_SIZE: RuleInfo = RuleInfo {
    code: "VT403",
    name: "dataset-size",
    severity: Severity::Warning,
    summary: "Too few examples to fine-tune (error under 10, warning under 100)",
    doc: "OpenAI rejects training files with fewer than 10 examples, and its guide says 50-100 \
are usually needed before a fine-tune beats prompting. Thresholds are `lint.min_examples` \
(error) and `lint.recommended_examples` (warning). Build more examples, e.g. with `voicetune build`.",
    fixable: false,
};

pub fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    super::syntax::blank_lines(records, opts, out);
    let examples = records
        .iter()
        .filter(|r| r.summary.format.is_some())
        .count();
    let lint = &opts.config.lint;
    let (severity, message) = if examples < lint.min_examples {
        (
            Severity::Error,
            format!(
                "{examples} examples: fine-tuning needs at least {}",
                lint.min_examples
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
    out.extend(
        opts.finding(&DATASET_SIZE, 0..0, message, None)
            .map(|mut f| {
                if !opts
                    .config
                    .lint
                    .severity
                    .keys()
                    .any(|k| crate::lint::rule_by_name(k) == Some(&DATASET_SIZE))
                {
                    f.severity = severity;
                }
                f
            }),
    );
}
