//! Website boilerplate lines ("Share This", "Leave a Reply", "Subscribe now").

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{FieldRole, TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

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

pub struct Boilerplate;

impl TextRule for Boilerplate {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&BOILERPLATE];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
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
        let fix = TextFix::remove("Delete the boilerplate line", removal);
        out.extend(field.finding(
            opts,
            &BOILERPLATE,
            range,
            format!("boilerplate line `{}`", line.trim()),
            Some(fix),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_and_deletes_a_widget_line() {
        let line = reply("Tea is best brewed slowly.\nShare This\nThen it tastes of the garden.");
        assert_eq!(line_findings(&line, "boilerplate").len(), 1);
        let fixed = fixed(&line, "boilerplate");
        assert!(
            !fixed.contains("Share This") && fixed.contains("slowly.\\nThen"),
            "{fixed}"
        );
    }

    #[test]
    fn leaves_ordinary_lines_and_user_text_alone() {
        assert!(line_findings(
            &reply("I share this pot with my sister every day."),
            "boilerplate"
        )
        .is_empty());
        assert!(line_findings(
            &chat("Subscribe now", "Tea keeps me calm in the morning."),
            "boilerplate"
        )
        .is_empty());
    }
}
