//! Leading and trailing whitespace around message text.

use crate::lint::rule::TextRule;
use crate::lint::text::{FieldRole, TextEdit, TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static WHITESPACE: RuleInfo = RuleInfo {
    code: "VT108",
    name: "whitespace",
    severity: Severity::Info,
    summary: "Leading or trailing whitespace around message text",
    doc: "Padding such as \"\\n\\nHello  \" is learned too: the model starts replies with blank \
lines or trailing spaces. Not checked in legacy prompts and completions, where a leading space \
and the separator are part of the format; in markdown drafts, spaces at line ends are flagged. \
The fix trims the text.",
    fixable: true,
};

pub struct Whitespace;

impl TextRule for Whitespace {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&WHITESPACE];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    if !opts.enabled(&WHITESPACE) || matches!(field.role, FieldRole::Prompt | FieldRole::Completion)
    {
        return;
    }
    if field.role == FieldRole::Body {
        return trailing_spaces_per_line(field, opts, out);
    }
    let text = field.text();
    let leading = text.len() - text.trim_start().len();
    let trailing = text.len() - text.trim_end().len();
    if (leading == 0 && trailing == 0) || text.trim().is_empty() {
        return;
    }
    let mut edits = Vec::new();
    if leading > 0 {
        edits.push(TextEdit {
            range: 0..leading,
            text: String::new(),
        });
    }
    if trailing > 0 {
        edits.push(TextEdit {
            range: text.len() - trailing..text.len(),
            text: String::new(),
        });
    }
    let span = if leading > 0 {
        0..leading
    } else {
        text.len() - trailing..text.len()
    };
    let what = match (leading > 0, trailing > 0) {
        (true, true) => "leading and trailing",
        (true, false) => "leading",
        _ => "trailing",
    };
    let fix = TextFix::safe("Trim the whitespace", edits);
    out.extend(field.finding(
        opts,
        &WHITESPACE,
        span,
        format!("{what} whitespace around the text"),
        Some(fix),
    ));
}

/// Markdown bodies: spaces at line ends (hard breaks, editor debris) end up in the completion.
fn trailing_spaces_per_line(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    let mut start = 0;
    for line in text.split('\n') {
        let end = start + line.len();
        let content = line.trim_end_matches('\r');
        let trimmed = content.trim_end_matches([' ', '\t']);
        let range = start + trimmed.len()..start + content.len();
        start = end + 1;
        if range.is_empty() || trimmed.is_empty() || field.in_code(&range) {
            continue;
        }
        let fix = TextFix::remove("Remove trailing spaces", range.clone());
        out.extend(field.finding(
            opts,
            &WHITESPACE,
            range,
            "trailing whitespace at the end of the line".into(),
            Some(fix),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn trims_padding_around_a_reply() {
        let line = reply("\n\nTea is lovely to drink every single day.  ");
        assert_eq!(line_findings(&line, "whitespace").len(), 1);
        assert!(fixed(&line, "whitespace").contains("\"Tea is lovely to drink every single day.\""));
    }

    #[test]
    fn leaves_trimmed_text_and_legacy_fields_alone() {
        assert!(line_findings(
            &reply("Tea is lovely to drink every single day."),
            "whitespace"
        )
        .is_empty());
        let legacy = r#"{"prompt": "Tea?\n\n###\n\n", "completion": " Yes, always. END"}"#;
        assert!(line_findings(legacy, "whitespace").is_empty());
    }
}
