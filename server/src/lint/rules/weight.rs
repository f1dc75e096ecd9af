//! Message weights: only 0 or 1, and (for OpenAI) only on assistant messages.

use crate::config::Provider;
use crate::dataset::json::{Node, Value};
use crate::dataset::Format;
use crate::lint::record::{Record, RecordLint};
use crate::lint::rule::RecordRule;
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static INVALID_WEIGHT: RuleInfo = RuleInfo {
    code: "VT016",
    name: "invalid-weight",
    severity: Severity::Error,
    summary:
        "A message `weight` other than the integer 0 or 1, or (OpenAI) on a non-assistant message",
    doc: "OpenAI's chat format lets an assistant message say `\"weight\": 0` (don't learn from \
this reply) or `1`; the schema types it as an integer, so `1.0` is rejected too. Any other \
value, or a weight on a system/user message, is rejected. Set 0 or 1 on assistant messages \
only. Together takes the same 0 or 1 on a message of any role (with `provider = \"together\"`).",
    fixable: false,
};

pub struct Weights;

impl RecordRule for Weights {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&INVALID_WEIGHT];
        RULES
    }

    fn applies_to(&self, format: Format) -> bool {
        matches!(format, Format::Chat | Format::Preference)
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        out.findings.extend(check(record, opts));
    }
}

fn check(record: &Record, opts: &LintOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let lists = [
        record.node.get("messages"),
        record.node.get("input").and_then(|i| i.get("messages")),
        record.node.get("preferred_output"),
        record.node.get("non_preferred_output"),
    ];
    for message in lists
        .into_iter()
        .flatten()
        .filter_map(Node::as_array)
        .flatten()
    {
        let Some(weight) = message.get("weight") else {
            continue;
        };
        let role = message
            .get("role")
            .and_then(Node::as_str)
            .map(|r| r.text.to_string());
        // The schema types `weight` as an integer: `1.0` is a number but not 0 or 1. Other
        // types are `field-type`'s finding.
        let Value::Number(number) = &weight.value else {
            continue;
        };
        if !matches!(*number, "0" | "1") {
            out.extend(opts.finding(
                &INVALID_WEIGHT,
                weight.span.clone(),
                format!("`weight` must be the integer 0 or 1, not {number}"),
                None,
            ));
        } else if opts.config.provider == Provider::Openai && role.as_deref() != Some("assistant") {
            out.extend(opts.finding(
                &INVALID_WEIGHT,
                weight.span.clone(),
                format!(
                    "`weight` is only allowed on assistant messages, not {}",
                    role.unwrap_or_else(|| "a message without a role".into())
                ),
                None,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_bad_values_and_weights_off_the_assistant() {
        let bad_value = r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, my tea friend.", "weight": 2}]}"#;
        assert_eq!(line_findings(bad_value, "invalid-weight").len(), 1);
        let on_user = r#"{"messages": [{"role": "user", "content": "Hi", "weight": 1}, {"role": "assistant", "content": "Hello there, my tea friend."}]}"#;
        assert_eq!(line_findings(on_user, "invalid-weight").len(), 1);
    }

    #[test]
    fn together_takes_weights_on_every_role_but_still_only_0_or_1() {
        let opts = together_opts();
        let on_user = r#"{"messages": [{"role": "user", "content": "Hi", "weight": 0}, {"role": "assistant", "content": "Hello there, my tea friend.", "weight": 1}]}"#;
        assert!(file_findings_with(on_user, "invalid-weight", opts).is_empty());
        let two = r#"{"messages": [{"role": "user", "content": "Hi", "weight": 2}, {"role": "assistant", "content": "Hello there, my tea friend."}]}"#;
        assert_eq!(file_findings_with(two, "invalid-weight", opts).len(), 1);
    }

    #[test]
    fn a_float_weight_is_not_an_integer() {
        let line = r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, my tea friend.", "weight": 1.0}]}"#;
        assert_eq!(line_findings(line, "invalid-weight").len(), 1);
    }

    #[test]
    fn accepts_zero_or_one_on_the_assistant() {
        let line = r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, my tea friend.", "weight": 0}]}"#;
        assert!(line_findings(line, "invalid-weight").is_empty());
    }
}
