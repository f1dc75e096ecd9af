//! Leading and trailing whitespace around message text.

use crate::lint::text::{FieldRole, TextEdit, TextField};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};

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

pub fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
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
    let fix = (
        "Trim the whitespace".to_string(),
        edits,
        Applicability::Safe,
    );
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
        let fix = (
            "Remove trailing spaces".to_string(),
            vec![TextEdit {
                range: range.clone(),
                text: String::new(),
            }],
            Applicability::Safe,
        );
        out.extend(field.finding(
            opts,
            &WHITESPACE,
            range,
            "trailing whitespace at the end of the line".into(),
            Some(fix),
        ));
    }
}
