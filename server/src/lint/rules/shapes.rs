//! Records in shapes fine-tuning does not take as they are: ShareGPT, Alpaca, question/answer,
//! chosen/rejected, or a shape nobody named. Each record is checked where it stands (so text
//! findings land on the right element); the file gets one finding with the command that
//! converts it.

use super::{field_types, keys, preference, roles};
use crate::dataset::convert::suggested_map;
use crate::dataset::json::{Node, Value};
use crate::dataset::Format;
use crate::lint::record::{LineRef, Record, RecordLint};
use crate::lint::rule::{DatasetRule, RecordRule};
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static OTHER_SHAPE: RuleInfo = RuleInfo {
    code: "VT022",
    name: "other-shape",
    severity: Severity::Error,
    summary:
        "Records in a shape fine-tuning does not take (ShareGPT, Alpaca, Q/A, chosen/rejected)",
    doc: "Datasets often come as ShareGPT (`conversations` of `from`/`value` turns), Alpaca \
(`instruction`/`input`/`output`), question/answer, or `chosen`/`rejected` preference pairs, \
in JSONL or as one `.json` array. OpenAI fine-tuning and `voicetune train` take chat (or, for \
pairs, preference) JSONL. voicetune checks such records where they are and reports the file \
once, with the command that converts it: `voicetune convert FILE -o OUT.jsonl`. A file whose \
records all share one shape voicetune does not know gets one finding naming its keys and the \
`--map FIELD=ROLE` flags that convert it.",
    fixable: false,
};

/// Checks a record of a convertible shape and collects its texts under their roles.
pub struct ForeignShape;

impl RecordRule for ForeignShape {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[
            &field_types::FIELD_TYPE,
            &roles::EMPTY_CONTENT,
            &roles::INVALID_ROLE,
            &roles::MISSING_ASSISTANT,
            &keys::MISSING_KEY,
            &preference::IDENTICAL_PREFERENCE,
        ];
        RULES
    }

    fn applies_to(&self, format: Format) -> bool {
        format.needs_conversion()
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        let node = record.node;
        let mut collect = Collect {
            opts,
            out: &mut out.findings,
            fields: &mut out.fields,
        };
        let plain: &[(&str, FieldRole, bool)] = match record.format {
            Format::Alpaca => &[
                ("instruction", FieldRole::User, true),
                ("input", FieldRole::User, false),
                ("output", FieldRole::Assistant, true),
            ],
            Format::QuestionAnswer => &[
                ("question", FieldRole::User, true),
                ("answer", FieldRole::Assistant, true),
            ],
            _ => &[],
        };
        for &(key, role, required) in plain {
            collect.text(node.get(key), key, role, required);
        }
        match record.format {
            Format::ShareGpt => collect.share_gpt(node),
            Format::ChosenRejected => collect.chosen_rejected(node, record.line),
            _ => {}
        }
        collect.text(node.get("system"), "system", FieldRole::System, false);
    }
}

/// Where one record's findings and text fields go.
struct Collect<'o, 'a> {
    opts: &'o LintOptions,
    out: &'o mut Vec<Finding>,
    fields: &'o mut Vec<TextField<'a>>,
}

impl<'a> Collect<'_, 'a> {
    /// The string `value` (of `key`) as a text field of `role`; a number is accepted (an
    /// answer of `42`, which `voicetune convert` writes out).
    fn text(&mut self, value: Option<&Node<'a>>, key: &str, role: FieldRole, required: bool) {
        let Some(value) = value else {
            return;
        };
        match &value.value {
            Value::String(s) if s.text.trim().is_empty() => {
                if required {
                    self.out.extend(self.opts.finding(
                        &roles::EMPTY_CONTENT,
                        value.span.clone(),
                        format!("`{key}` is empty"),
                        None,
                    ));
                }
            }
            Value::String(s) => self.fields.push(TextField::json(role, s.clone())),
            Value::Number(_) => {}
            _ => self
                .out
                .extend(field_types::wrong_type(value, key, "a string", self.opts)),
        }
    }

    fn missing(&mut self, node: &Node, message: &str) {
        self.out.extend(self.opts.finding(
            &keys::MISSING_KEY,
            node.span.start..node.span.start + 1,
            message.into(),
            None,
        ));
    }

    fn share_gpt(&mut self, node: &Node<'a>) {
        let opts = self.opts;
        let Some(conversations) = node.get("conversations") else {
            return;
        };
        let Some(turns) = conversations.as_array() else {
            self.out.extend(field_types::wrong_type(
                conversations,
                "conversations",
                "a list of {\"from\", \"value\"} turns",
                opts,
            ));
            return;
        };
        let mut any_reply = false;
        for turn in turns {
            if turn.as_object().is_none() {
                self.out
                    .extend(field_types::wrong_type(turn, "a turn", "an object", opts));
                continue;
            }
            let role = match turn.get("from").map(|f| (f, f.as_str())) {
                None => {
                    self.missing(turn, "a ShareGPT turn without `from`");
                    FieldRole::Other
                }
                Some((from, None)) => {
                    self.out
                        .extend(field_types::wrong_type(from, "from", "a string", opts));
                    FieldRole::Other
                }
                Some((from, Some(name))) => speaker(&name.text).unwrap_or_else(|| {
                    self.out.extend(opts.finding(
                        &roles::INVALID_ROLE,
                        from.span.clone(),
                        format!(
                            "unknown ShareGPT speaker `{}`; use human, gpt or system",
                            name.text
                        ),
                        None,
                    ));
                    FieldRole::Other
                }),
            };
            any_reply |= role == FieldRole::Assistant;
            match turn.get("value") {
                Some(value) => self.text(Some(value), "value", role, true),
                None => self.missing(turn, "a ShareGPT turn without `value`"),
            }
        }
        if !any_reply {
            self.out.extend(opts.finding(
                &roles::MISSING_ASSISTANT,
                conversations.span.clone(),
                "the conversation has no `gpt` turn to learn from".into(),
                None,
            ));
        }
    }

    fn chosen_rejected(&mut self, node: &Node<'a>, line: &str) {
        let opts = self.opts;
        if let Some(prompt) = node.get("prompt") {
            match prompt.value {
                Value::Array(_) => self
                    .fields
                    .extend(roles::check_messages(prompt, opts, self.out, false)),
                _ => self.text(Some(prompt), "prompt", FieldRole::User, true),
            }
        }
        let mut sides = Vec::new();
        for key in ["chosen", "rejected"] {
            let Some(side) = node.get(key) else {
                continue;
            };
            match side.value {
                Value::Array(_) => self
                    .fields
                    .extend(roles::check_messages(side, opts, self.out, true)),
                _ => self.text(Some(side), key, FieldRole::Assistant, true),
            }
            sides.push(side);
        }
        if let [chosen, rejected] = sides.as_slice() {
            if line[chosen.span.clone()] == line[rejected.span.clone()] {
                self.out.extend(opts.finding(
                    &preference::IDENTICAL_PREFERENCE,
                    rejected.span.clone(),
                    "`chosen` and `rejected` are the same".into(),
                    None,
                ));
            }
        }
    }
}

/// The role a ShareGPT speaker (`from`) stands for, as `voicetune convert` reads it.
fn speaker(from: &str) -> Option<FieldRole> {
    match crate::dataset::convert::sharegpt_role(from)? {
        "user" => Some(FieldRole::User),
        "assistant" => Some(FieldRole::Assistant),
        _ => Some(FieldRole::System),
    }
}

/// The file-level finding: records in a convertible shape, or all in one unknown shape (else
/// each unknown record on its own line).
pub struct Shapes;

impl DatasetRule for Shapes {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&OTHER_SHAPE, &keys::MISSING_KEY];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        let at = |r: &LineRef| r.full_span.start..r.full_span.start + 1;
        let foreign: Vec<&LineRef> = records
            .iter()
            .filter(|r| r.summary.format.is_some_and(Format::needs_conversion))
            .collect();
        if let Some(first) = foreign.first() {
            let shape = first.summary.format.expect("filtered on format");
            let target = if shape == Format::ChosenRejected {
                "preference"
            } else {
                "chat"
            };
            out.extend(opts.finding(
                &OTHER_SHAPE,
                at(first),
                format!(
                    "{} record(s) in {} shape, which fine-tuning does not take as is; convert them to {target} JSONL with `voicetune convert FILE -o OUT.jsonl`",
                    foreign.len(),
                    shape.name()
                ),
                None,
            ));
        }
        let unknown: Vec<(&LineRef, &[(String, bool)])> = records
            .iter()
            .filter_map(|r| Some((r, r.summary.unknown_keys.as_deref()?)))
            .collect();
        let Some((first, first_keys)) = unknown.first() else {
            return;
        };
        let known_records = records.iter().any(|r| r.summary.format.is_some());
        if !known_records && unknown.iter().all(|(_, k)| same_keys(k, first_keys)) {
            let names: Vec<&str> = first_keys.iter().map(|(k, _)| k.as_str()).collect();
            let texts: Vec<&str> = first_keys
                .iter()
                .filter(|(_, text)| *text)
                .map(|(k, _)| k.as_str())
                .collect();
            out.extend(opts.finding(
                &OTHER_SHAPE,
                at(first),
                format!(
                    "all {} records have the keys {}, a shape voicetune does not know; convert them to chat JSONL with `voicetune convert FILE -o OUT.jsonl {}` (adjust the roles)",
                    unknown.len(),
                    quoted(&names),
                    suggested_map(&texts)
                ),
                None,
            ));
            return;
        }
        for (record, keys) in unknown {
            out.extend(opts.finding(
                &keys::MISSING_KEY,
                at(record),
                keys::unknown_format_message(keys, opts.config.provider),
                None,
            ));
        }
    }
}

/// The same key names in the same order (their values' types may differ).
fn same_keys(a: &[(String, bool)], b: &[(String, bool)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((x, _), (y, _))| x == y)
}

fn quoted(keys: &[&str]) -> String {
    if keys.is_empty() {
        return "(none)".into();
    }
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn a_sharegpt_record_is_checked_where_it_stands() {
        let line = r#"{"conversations": [{"from": "human", "value": "Hi <br> there"}, {"from": "robot", "value": ""}]}"#;
        assert_eq!(line_findings(line, "html").len(), 1);
        assert_eq!(line_findings(line, "invalid-role").len(), 1);
        assert_eq!(line_findings(line, "empty-content").len(), 1);
        assert_eq!(line_findings(line, "missing-assistant").len(), 1);
        let html = &line_findings(line, "html")[0];
        assert_eq!(&line[html.span.clone()], "<br>");
    }

    #[test]
    fn one_file_finding_for_a_convertible_shape() {
        let lines: Vec<String> = (0..5)
            .map(|i| {
                serde_json::json!({"instruction": format!("Say {i}"), "input": "", "output": format!("Number {i} it is.")})
                    .to_string()
            })
            .collect();
        let found = file_findings(&(lines.join("\n") + "\n"), "other-shape");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("Alpaca"), "{}", found[0].message);
        assert!(found[0].message.contains("voicetune convert"));
    }

    #[test]
    fn one_file_finding_for_one_unknown_shape() {
        let lines: Vec<String> = (0..300)
            .map(|i| serde_json::json!({"q": format!("Q{i}"), "a": "A"}).to_string())
            .collect();
        let text = lines.join("\n") + "\n";
        let found = file_findings(&text, "other-shape");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("--map q=user --map a=assistant"),
            "{}",
            found[0].message
        );
        assert!(file_findings(&text, "missing-key").is_empty());
        // Mixed in with chat records, each unknown record is reported where it is.
        let mixed = format!("{}\n{}\n", clean_lines(1)[0], lines[0]);
        assert_eq!(file_findings(&mixed, "missing-key").len(), 1);
    }
}
