//! Personal data: e-mail addresses and phone numbers.

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static EMAIL: RuleInfo = RuleInfo {
    code: "VT104",
    name: "email",
    severity: Severity::Warning,
    summary: "An e-mail address in training text",
    doc: "Fine-tuned models memorise and repeat addresses they saw in training, and uploading \
them may breach privacy rules. The fix replaces the address with `[email]`.",
    fixable: true,
};

pub static PHONE: RuleInfo = RuleInfo {
    code: "VT105",
    name: "phone",
    severity: Severity::Warning,
    summary: "A phone number in training text",
    doc: "Phone numbers are personal data that a fine-tuned model can regurgitate. The fix \
replaces the number with `[phone]`. Formats recognised: (555) 123-4567, 555-123-4567, +44 20 7946 \
0958.",
    fixable: true,
};

/// E-mail addresses and phone numbers: one pass per kind over the field.
pub struct PersonalData;

impl TextRule for PersonalData {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&EMAIL, &PHONE];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if opts.enabled(&EMAIL) && text.contains('@') {
        for m in clean::EMAIL
            .find_iter(text)
            .filter(|m| !field.in_code(&m.range()))
        {
            let fix = TextFix::replace("Redact the address", m.range(), "[email]");
            out.extend(field.finding(
                opts,
                &EMAIL,
                m.range(),
                format!("e-mail address `{}` in training text", m.as_str()),
                Some(fix),
            ));
        }
    }
    if opts.enabled(&PHONE) && may_hold_phone(text) {
        for m in clean::PHONE
            .find_iter(text)
            .filter(|m| !field.in_code(&m.range()))
        {
            let fix = TextFix::replace("Redact the number", m.range(), "[phone]");
            out.extend(field.finding(
                opts,
                &PHONE,
                m.range(),
                format!("phone number `{}` in training text", m.as_str()),
                Some(fix),
            ));
        }
    }
}

/// Cheap pre-check: every phone pattern needs a `+` or at least 10 digits.
fn may_hold_phone(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr(b'+', bytes).is_some()
        || bytes.iter().filter(|b| b.is_ascii_digit()).count() >= 10
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn redacts_addresses_and_numbers() {
        let line = reply("Write to kate@example.com or call 555-123-4567 about tea.");
        assert_eq!(line_findings(&line, "email").len(), 1);
        assert_eq!(line_findings(&line, "phone").len(), 1);
        assert!(fixed(&line, "email").contains("Write to [email] or"));
        assert!(fixed(&line, "phone").contains("call [phone] about"));
    }

    #[test]
    fn leaves_text_without_personal_data_alone() {
        let line = reply("I drank 3 cups at 10 o'clock, @ the cafe by the river.");
        assert!(line_findings(&line, "email").is_empty());
        assert!(line_findings(&line, "phone").is_empty());
    }
}
