//! Record keys: required keys missing, keys the format does not know.

use crate::config::Provider;
use crate::dataset::json::{Member, Node, Value};
use crate::dataset::Format;
use crate::lint::record::{Record, RecordLint};
use crate::lint::rule::RecordRule;
use crate::lint::{Edit, Finding, Fix, LintOptions, RuleInfo, Severity};

pub static MISSING_KEY: RuleInfo = RuleInfo {
    code: "VT010",
    name: "missing-key",
    severity: Severity::Error,
    summary: "A required key is missing, or the record matches no known format",
    doc: "Chat records need `messages`; legacy records need `prompt` and `completion`; \
preference (DPO) records need `input`, `preferred_output` and `non_preferred_output`; each \
message needs a `role`. A record without them is rejected by the fine-tuning service. Add the \
key, or convert the line to the format the rest of the file uses.",
    fixable: false,
};

pub static UNKNOWN_KEY: RuleInfo = RuleInfo {
    code: "VT011",
    name: "unknown-key",
    severity: Severity::Warning,
    summary: "A key the record format does not define",
    doc: "Keys outside the format (an `id`, a `source`, a misspelt `mesages`) are rejected by \
some services (Together: \"Found extra column\") and ignored by others, which hides typos. The \
fix (unsafe: it drops data) removes the key and its value; keep metadata in a separate file.",
    fixable: true,
};

/// Keys a chat message may have.
pub const MESSAGE_KEYS: &[&str] = &[
    "role",
    "content",
    "name",
    "weight",
    "tool_calls",
    "tool_call_id",
    "function_call",
    "refusal",
];

/// The keys of a record that matches no format, in order (what the shape check groups by),
/// each with whether its value is text (a string or number) that could become a message.
pub fn record_keys(node: &Node) -> Box<[(String, bool)]> {
    node.as_object()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let text = matches!(m.value.value, Value::String(_) | Value::Number(_));
            (m.key.text.to_string(), text)
        })
        .collect()
}

/// The top-level keys a record of `format` may have on `provider`: Together's file check
/// knows only `tools` beside a chat record's `messages` ("Found extra column").
fn allowed_keys(format: Format, provider: Provider) -> &'static [&'static str] {
    match (provider, format) {
        (Provider::Together, Format::Chat) => &["messages", "tools"],
        _ => format.allowed_keys(),
    }
}

/// What a record of an unknown format is told.
pub fn unknown_format_message(keys: &[(String, bool)], provider: Provider) -> String {
    let found = if keys.is_empty() {
        "no keys".to_string()
    } else {
        let quoted: Vec<String> = keys.iter().map(|(k, _)| format!("`{k}`")).collect();
        format!("keys {}", quoted.join(", "))
    };
    let formats = match provider {
        Provider::Openai => "`messages` (chat), `prompt` + `completion` (legacy), or `input` + `preferred_output` + `non_preferred_output` (preference)",
        Provider::Together => "`messages` (chat), `prompt` + `completion` (instruction), `text` (plain text), or `input` + `preferred_output` + `non_preferred_output` (preference)",
    };
    format!("unknown record format ({found}): expected {formats}")
}

/// Top-level keys of a record: required ones present, no unknown ones.
pub struct Keys;

impl RecordRule for Keys {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&MISSING_KEY, &UNKNOWN_KEY];
        RULES
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        out.findings.extend(check(record, opts));
    }
}

fn check(record: &Record, opts: &LintOptions) -> Vec<Finding> {
    let mut out = Vec::new();
    let members = record.node.as_object().unwrap_or_default();
    let required: &[&str] = match record.format {
        Format::Chat => &["messages"],
        Format::PromptCompletion => &["prompt", "completion"],
        Format::Preference => &["input", "preferred_output", "non_preferred_output"],
        Format::Text => &["text"],
        Format::ShareGpt => &["conversations"],
        Format::Alpaca => &["instruction", "output"],
        Format::QuestionAnswer => &["question", "answer"],
        Format::ChosenRejected => &["chosen", "rejected"],
    };
    for key in required {
        if record.node.get(key).is_none() {
            let start = record.node.span.start;
            out.extend(opts.finding(
                &MISSING_KEY,
                start..start + 1,
                format!("{} record without `{key}`", record.format.name()),
                None,
            ));
        }
    }
    out.extend(unknown_members(
        members,
        allowed_keys(record.format, opts.config.provider),
        record.format.name(),
        opts,
    ));
    out
}

/// Findings for members of `members` whose key is not in `allowed`.
pub fn unknown_members(
    members: &[Member],
    allowed: &[&str],
    context: &str,
    opts: &LintOptions,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, member) in members.iter().enumerate() {
        let key = member.key.text.as_ref();
        if allowed.contains(&key) {
            continue;
        }
        let hint = allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(key) || edit_distance(a, key) <= 2)
            .map(|a| format!("; did you mean `{a}`?"))
            .unwrap_or_default();
        let fix = match renamed_key(key).filter(|new| allowed.contains(new)) {
            // Keys from an older draft of the spec keep their data under the new name.
            Some(new) => Fix::replace(
                format!("Rename `{key}` to `{new}`"),
                member.key_span.clone(),
                format!("\"{new}\""),
            ),
            None => Fix::unsafe_(
                format!("Remove `{key}`"),
                vec![Edit::delete(member_removal_span(members, i))],
            ),
        };
        out.extend(opts.finding(
            &UNKNOWN_KEY,
            member.key_span.clone(),
            format!("unknown key `{key}` in a {context} record{hint}"),
            Some(fix),
        ));
    }
    out
}

/// Known renames: the 2025-05 OpenAPI draft's DPO keys, and common misspellings.
fn renamed_key(key: &str) -> Option<&'static str> {
    match key {
        "preferred_completion" => Some("preferred_output"),
        "non_preferred_completion" => Some("non_preferred_output"),
        "mesages" | "message" | "Messages" => Some("messages"),
        _ => None,
    }
}

/// The bytes to delete to remove member `i` with one of its separating commas.
pub fn member_removal_span(members: &[Member], i: usize) -> std::ops::Range<usize> {
    let member = &members[i];
    if i + 1 < members.len() {
        member.key_span.start..members[i + 1].key_span.start
    } else if i > 0 {
        members[i - 1].value.span.end..member.value.span.end
    } else {
        member.key_span.start..member.value.span.end
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_missing_and_unknown_keys() {
        let no_role = r#"{"messages": [{"content": "Hi"}, {"role": "assistant", "content": "Hello there, friend of tea."}]}"#;
        assert_eq!(line_findings(no_role, "missing-key").len(), 1);
        let no_format = r#"{"query": "Hi"}"#;
        assert_eq!(file_findings(no_format, "other-shape").len(), 1);
        let extra = r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, friend of tea."}], "id": 7}"#;
        let found = line_findings(extra, "unknown-key");
        assert_eq!(found.len(), 1);
        assert!(!fixed(extra, "unknown-key").contains("id"));
    }

    #[test]
    fn together_knows_only_tools_beside_messages() {
        let line = r#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, friend of tea."}], "parallel_tool_calls": false}"#;
        assert!(line_findings(line, "unknown-key").is_empty());
        let found = file_findings_with(line, "unknown-key", together_opts());
        assert_eq!(found.len(), 1);
        assert_eq!(&line[found[0].span.clone()], "\"parallel_tool_calls\"");
    }

    #[test]
    fn renames_a_known_misspelling_safely() {
        let line = r#"{"mesages": [{"role": "user", "content": "Hi"}], "messages": []}"#;
        let found = line_findings(line, "unknown-key");
        let fix = found[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, crate::lint::Applicability::Safe);
    }

    #[test]
    fn a_complete_record_has_no_key_findings() {
        let line = reply("Tea is lovely to drink every single day.");
        assert!(line_findings(&line, "missing-key").is_empty());
        assert!(line_findings(&line, "unknown-key").is_empty());
    }
}
