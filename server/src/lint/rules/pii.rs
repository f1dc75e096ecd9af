//! Personal data: e-mail addresses and phone numbers.

use crate::clean;
use crate::lint::text::{TextEdit, TextField};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};

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

pub fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if opts.enabled(&EMAIL) && text.contains('@') {
        for m in clean::EMAIL
            .find_iter(text)
            .filter(|m| !field.in_code(&m.range()))
        {
            let fix = (
                "Redact the address".to_string(),
                vec![TextEdit {
                    range: m.range(),
                    text: "[email]".into(),
                }],
                Applicability::Safe,
            );
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
            let fix = (
                "Redact the number".to_string(),
                vec![TextEdit {
                    range: m.range(),
                    text: "[phone]".into(),
                }],
                Applicability::Safe,
            );
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
