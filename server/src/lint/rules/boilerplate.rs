//! Website boilerplate lines ("Share This", "Leave a Reply", "Subscribe now").

use crate::clean;
use crate::lint::text::{FieldRole, TextEdit, TextField};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};

pub static BOILERPLATE: RuleInfo = RuleInfo {
    code: "VT107",
    name: "boilerplate",
    severity: Severity::Warning,
    summary: "Website boilerplate lines in text the model learns to write",
    doc: "Blog exports include the widgets around every post: \"Share This\", \"Leave a Reply\", \
\"Subscribe now\", \"Related posts\". Repeated across hundreds of examples they become the \
strongest pattern the model learns. Checked in assistant replies, completions and drafts. The \
fix deletes the line.",
    fixable: true,
};

pub fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    if !opts.enabled(&BOILERPLATE)
        || !matches!(
            field.role,
            FieldRole::Assistant | FieldRole::Completion | FieldRole::Body | FieldRole::Text
        )
    {
        return;
    }
    let text = field.text();
    let bytes = text.as_bytes();
    let mut start = 0;
    // Boilerplate lines are short: skip long lines without looking at them.
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for end in ends {
        let range = start..end;
        start = end + 1;
        if range.len() > 100 {
            continue;
        }
        let line = &text[range.clone()];
        if line.trim().is_empty() || field.in_code(&range) || !clean::is_boilerplate_line(line) {
            continue;
        }
        let removal = super::transcript::line_removal(text, range.clone());
        let fix = (
            "Delete the boilerplate line".to_string(),
            vec![TextEdit {
                range: removal,
                text: String::new(),
            }],
            Applicability::Safe,
        );
        out.extend(field.finding(
            opts,
            &BOILERPLATE,
            range,
            format!("boilerplate line `{}`", line.trim()),
            Some(fix),
        ));
    }
}
