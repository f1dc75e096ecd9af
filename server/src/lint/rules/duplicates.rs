//! Exact duplicates after normalisation (whitespace folded, case ignored).

use crate::lint::engine::LineRef;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Edit, Finding, Fix, LintOptions, RuleInfo, Severity};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

pub static DUPLICATE: RuleInfo = RuleInfo {
    code: "VT401",
    name: "duplicate",
    severity: Severity::Warning,
    summary: "An example that repeats an earlier one",
    doc: "Repeated examples are trained on more than once per epoch, over-weighting them, and \
are billed each time. Examples count as duplicates when every role and text matches after \
folding whitespace and case. The finding points at the first copy; the fix deletes the repeat.",
    fixable: true,
};

/// Hash of the record's roles and normalised texts.
pub fn content_hash(fields: &[TextField]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for field in fields {
        role_tag(field.role).hash(&mut hasher);
        for word in field.text().split_whitespace() {
            for c in word.chars().flat_map(char::to_lowercase) {
                c.hash(&mut hasher);
            }
            ' '.hash(&mut hasher);
        }
        0xFFu8.hash(&mut hasher);
    }
    hasher.finish()
}

fn role_tag(role: FieldRole) -> u8 {
    role as u8
}

pub fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    if !opts.enabled(&DUPLICATE) {
        return;
    }
    let mut first_seen: HashMap<u64, usize> = HashMap::new();
    for record in records {
        let Some(hash) = record.summary.content_hash else {
            continue;
        };
        match first_seen.get(&hash) {
            None => {
                first_seen.insert(hash, record.index);
            }
            Some(&first) => {
                let fix = Fix::safe(
                    "Delete this duplicate",
                    vec![Edit {
                        span: record.full_span.clone(),
                        new_text: String::new(),
                    }],
                );
                let span = record.full_span.start..record.full_span.start + 1;
                out.extend(opts.finding(
                    &DUPLICATE,
                    span,
                    format!("duplicate of line {}", first + 1),
                    Some(fix),
                ));
            }
        }
    }
}
