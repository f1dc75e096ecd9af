//! Exact duplicates after normalisation (whitespace folded, case ignored).

use crate::lint::record::LineRef;
use crate::lint::rule::DatasetRule;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Applicability, Finding, Fix, LintOptions, RuleInfo, Severity};
use xxhash_rust::xxh3::Xxh3;

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
///
/// One pass over the bytes: ASCII words (nearly all) are case-folded and hashed as they are
/// scanned; a word with non-ASCII bytes is lower-cased with Unicode rules and hashed again.
pub fn word_hashes(fields: &[TextField]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut buf = String::new();
    for field in fields {
        out.push(0xFEED_0000 + role_tag(field.role) as u64);
        let text = field.text();
        out.reserve(text.len() / 5);
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let start = i;
            let mut h = WordHash::new();
            let mut ascii = true;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                ascii &= bytes[i].is_ascii();
                h.push(bytes[i].to_ascii_lowercase());
                i += 1;
            }
            if !ascii {
                buf.clear();
                buf.extend(text[start..i].chars().flat_map(char::to_lowercase));
                h = WordHash::new();
                buf.bytes().for_each(|b| h.push(b));
            }
            out.push(h.finish());
        }
    }
    out
}

/// FNV-1a over a word's bytes with a final avalanche (the MinHash needs well-mixed bits); a
/// word is short, so this beats a general-purpose hash's setup.
struct WordHash(u64);

impl WordHash {
    fn new() -> WordHash {
        WordHash(0xcbf2_9ce4_8422_2325)
    }

    fn push(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
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

pub struct Duplicates;

impl DatasetRule for Duplicates {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&DUPLICATE];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        check(records, opts, out);
    }
}

fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
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
                let fix = Fix::delete_record(
                    "Delete this duplicate",
                    record.full_span.clone(),
                    Applicability::Safe,
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

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn deletes_the_repeat() {
        let mut lines = clean_lines(12);
        // Case and spacing do not make an example different.
        let repeat = lines[3].replace("Tell me", "TELL   me");
        lines.push(repeat);
        let text = lines.join("\n") + "\n";
        let found = file_findings(&text, "duplicate");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("duplicate of line 4"),
            "{}",
            found[0].message
        );
        assert_eq!(fixed(&text, "duplicate").lines().count(), 12);
    }

    #[test]
    fn different_examples_are_clean() {
        let text = clean_lines(12).join("\n") + "\n";
        assert!(file_findings(&text, "duplicate").is_empty());
    }
}
