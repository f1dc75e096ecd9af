//! Exact duplicates after normalisation (whitespace folded, case ignored).

use crate::lint::engine::LineRef;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Edit, Finding, Fix, LintOptions, RuleInfo, Severity};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

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

/// Normalised words of a record: per text field a role marker, then one hash per word
/// (lower-cased). Exact and near-duplicate detection both work on this sequence.
pub fn word_hashes(fields: &[TextField]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for field in fields {
        out.push(0xFEED_0000 + role_tag(field.role) as u64);
        for word in field.text().split_ascii_whitespace() {
            let bytes = word.as_bytes();
            if !bytes
                .iter()
                .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
            {
                out.push(xxh3_64(bytes)); // Already lower-case ASCII: no copy.
                continue;
            }
            buf.clear();
            if word.is_ascii() {
                buf.push_str(word);
                buf.make_ascii_lowercase();
            } else {
                buf.extend(word.chars().flat_map(char::to_lowercase));
            }
            out.push(xxh3_64(buf.as_bytes()));
        }
    }
    out
}

/// Hash of the record's roles and normalised texts (whitespace folded, case ignored).
pub fn content_hash(words: &[u64]) -> u64 {
    let mut hasher = Xxh3::new();
    for chunk in words.chunks(64) {
        let mut bytes = [0u8; 64 * 8];
        for (i, w) in chunk.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        hasher.update(&bytes[..chunk.len() * 8]);
    }
    hasher.digest()
}

fn role_tag(role: FieldRole) -> u8 {
    role as u8
}

pub fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    if !opts.enabled(&DUPLICATE) {
        return;
    }
    let mut first_seen: super::HashKeyMap<usize> = super::HashKeyMap::default();
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
