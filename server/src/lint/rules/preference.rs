//! Preference (DPO) records: an `input` conversation and one preferred and one non-preferred
//! assistant reply that differ.

use super::roles;
use crate::dataset::json::Node;
use crate::dataset::Format;
use crate::lint::record::{Record, RecordLint};
use crate::lint::rule::RecordRule;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static PREFERENCE_STRUCTURE: RuleInfo = RuleInfo {
    code: "VT017",
    name: "preference-structure",
    severity: Severity::Error,
    summary: "A preference record's input or outputs have the wrong shape",
    doc: "A DPO record is {\"input\": {\"messages\": [...]}, \"preferred_output\": [one assistant \
message], \"non_preferred_output\": [one assistant message]}. The input must not end with an \
assistant message (the outputs are the replies). Files that say `preferred_completion` use an old \
draft of the schema; rename the keys.",
    fixable: false,
};

pub static IDENTICAL_PREFERENCE: RuleInfo = RuleInfo {
    code: "VT018",
    name: "identical-preference",
    severity: Severity::Warning,
    summary: "Preferred and non-preferred outputs are the same",
    doc: "When both outputs say the same thing the pair carries no preference signal and only \
adds cost. Write a worse (or better) alternative, or drop the record.",
    fixable: false,
};

/// A preference record: its input conversation and its two outputs; collects their texts.
pub struct PreferencePair;

impl RecordRule for PreferencePair {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[
            &PREFERENCE_STRUCTURE,
            &IDENTICAL_PREFERENCE,
            &roles::EMPTY_CONTENT,
            &roles::INVALID_ROLE,
            &roles::ROLE_ORDER,
            &super::field_types::FIELD_TYPE,
            &super::field_types::INVALID_IMAGE,
        ];
        RULES
    }

    fn applies_to(&self, format: Format) -> bool {
        format == Format::Preference
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        let fields = check(record, opts, &mut out.findings);
        out.fields.extend(fields);
    }
}

fn check<'a>(
    record: &Record<'a>,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
) -> Vec<TextField<'a>> {
    let mut fields = Vec::new();
    let node = record.node;
    // An `input` or output of the wrong JSON type is `field-type`'s finding.
    if let Some(input) = node.get("input").filter(|i| i.as_object().is_some()) {
        match input.get("messages") {
            Some(messages) => fields.extend(roles::check_messages(messages, opts, out, false)),
            None => out.extend(opts.finding(
                &PREFERENCE_STRUCTURE,
                input.span.clone(),
                "`input` must be an object with `messages`".into(),
                None,
            )),
        }
    }
    let mut outputs = Vec::new();
    for key in ["preferred_output", "non_preferred_output"] {
        let Some(output) = node.get(key) else {
            continue;
        };
        let Some(list) = output.as_array() else {
            continue;
        };
        if list.len() != 1 {
            out.extend(opts.finding(
                &PREFERENCE_STRUCTURE,
                output.span.clone(),
                format!("`{key}` must be a list holding exactly one assistant message"),
                None,
            ));
            continue;
        }
        let message = &list[0];
        if message
            .get("role")
            .and_then(Node::as_str)
            .map(|r| r.text.as_ref())
            != Some("assistant")
        {
            out.extend(opts.finding(
                &PREFERENCE_STRUCTURE,
                message.span.clone(),
                format!("the message in `{key}` must have role `assistant`"),
                None,
            ));
        }
        match message.get("content").and_then(Node::as_str) {
            Some(content) if !content.text.trim().is_empty() => {
                outputs.push((content.text.to_string(), output.span.clone()));
                fields.push(TextField::json(FieldRole::Assistant, content.clone()));
            }
            _ if message.get("tool_calls").is_some() => {}
            _ => out.extend(opts.finding(
                &roles::EMPTY_CONTENT,
                message.span.clone(),
                format!("the message in `{key}` has no text content"),
                None,
            )),
        }
    }
    if let [(a, _), (b, span)] = outputs.as_slice() {
        if a.trim() == b.trim() {
            out.extend(opts.finding(
                &IDENTICAL_PREFERENCE,
                span.clone(),
                "preferred and non-preferred outputs are identical".into(),
                None,
            ));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    fn pair(preferred: &str, other: &str) -> String {
        serde_json::json!({
            "input": {"messages": [{"role": "user", "content": "Describe your tea."}]},
            "preferred_output": [{"role": "assistant", "content": preferred}],
            "non_preferred_output": [{"role": "assistant", "content": other}],
        })
        .to_string()
    }

    #[test]
    fn flags_wrong_shapes_and_identical_outputs() {
        let not_a_list = r#"{"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_output": {"role": "assistant", "content": "Warm."}, "non_preferred_output": [{"role": "assistant", "content": "Cold."}]}"#;
        assert_eq!(line_findings(not_a_list, "field-type").len(), 1);
        let two = r#"{"input": {"messages": [{"role": "user", "content": "Hi"}]}, "preferred_output": [{"role": "assistant", "content": "Warm."}, {"role": "assistant", "content": "Hot."}], "non_preferred_output": [{"role": "assistant", "content": "Cold."}]}"#;
        assert_eq!(line_findings(two, "preference-structure").len(), 1);
        let same = pair(
            "Warm and green, with a little honey.",
            "Warm and green, with a little honey.",
        );
        assert_eq!(line_findings(&same, "identical-preference").len(), 1);
    }

    #[test]
    fn a_proper_pair_is_clean() {
        let line = pair("Warm and green, with a little honey.", "It is tea.");
        assert!(line_findings(&line, "preference-structure").is_empty());
        assert!(line_findings(&line, "identical-preference").is_empty());
    }
}
