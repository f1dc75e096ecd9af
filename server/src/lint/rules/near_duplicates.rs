//! Near duplicates: examples whose word 3-shingles overlap almost entirely (a reposted article
//! with a changed sentence), found with one-permutation MinHash and LSH banding so the cost
//! stays linear in the dataset size.

use super::HashKeyMap;
use crate::lint::record::LineRef;
use crate::lint::rule::DatasetRule;
use crate::lint::{Applicability, Finding, Fix, LintOptions, RuleInfo, Severity};
use xxhash_rust::xxh3::xxh3_64;

pub static NEAR_DUPLICATE: RuleInfo = RuleInfo {
    code: "VT404",
    name: "near-duplicate",
    severity: Severity::Warning,
    summary: "An example nearly identical to an earlier one",
    doc: "Two versions of the same post (a reprint, an edited copy) over-weight one text as an \
exact duplicate does. Examples count as near duplicates when the estimated Jaccard similarity of \
their word 3-shingles is at least 0.8 (MinHash, 64 bins). The finding points at the first copy; \
the fix (unsafe: the texts differ) deletes the later one.",
    fixable: true,
};

const BINS: usize = 64;
const BAND_ROWS: usize = 4;
const THRESHOLD: f64 = 0.8;
const EMPTY: u32 = u32::MAX;

const BANDS: usize = BINS / BAND_ROWS;

/// One-permutation MinHash: each shingle hash goes to one of 64 bins, the bin keeps its minimum,
/// of which the low 16 bits are stored (b-bit MinHash: two different minima agree by chance one
/// time in 65,536, far below the 0.8 threshold's resolution, at half the memory; the language
/// server holds one signature per line of a large file). The LSH band keys are hashed from the
/// bins on the stack when a dataset check runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub bins: [u16; BINS],
}

impl Signature {
    /// One key per band of `BAND_ROWS` bins, the band's index mixed in.
    fn band_keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.bins.chunks(BAND_ROWS).enumerate().map(|(band, rows)| {
            let mut bytes = [0u8; 2 * (BAND_ROWS + 1)];
            bytes[..2].copy_from_slice(&(band as u16).to_le_bytes());
            for (k, row) in rows.iter().enumerate() {
                bytes[2 * (k + 1)..2 * (k + 2)].copy_from_slice(&row.to_le_bytes());
            }
            xxh3_64(&bytes)
        })
    }
}

/// The signature of a record's word hashes, or None when it has fewer than 16 words (short texts
/// are left to the exact duplicate check).
pub fn signature(words: &[u64]) -> Option<Box<Signature>> {
    if words.len() < 16 {
        return None;
    }
    let mut bins = [EMPTY; BINS];
    for w in words.windows(3) {
        let h = w[0].rotate_left(21) ^ w[1].rotate_left(42) ^ w[2];
        let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let bin = (h >> 58) as usize; // top 6 bits: 64 bins
        let value = (h & 0xFFFF_FFFF) as u32;
        bins[bin] = bins[bin].min(value);
    }
    densify(&mut bins);
    // At least 14 shingles went in, so densify has filled every bin.
    Some(Box::new(Signature {
        bins: bins.map(|v| v as u16),
    }))
}

/// Rotation densification: an empty bin borrows the nearest non-empty bin to its right (with
/// the distance mixed in), so short or repetitive texts still get comparable full signatures.
fn densify(sig: &mut [u32; BINS]) {
    let filled = *sig;
    if filled.iter().all(|&v| v == EMPTY) {
        return;
    }
    for i in 0..BINS {
        if filled[i] != EMPTY {
            continue;
        }
        let (distance, value) = (1..BINS)
            .map(|k| (k, filled[(i + k) % BINS]))
            .find(|(_, v)| *v != EMPTY)
            .expect("a filled bin");
        sig[i] = value.wrapping_add((distance as u32).wrapping_mul(0x9E37_79B9)) | 1;
    }
}

/// Estimated Jaccard similarity of two signatures.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    let same = a.bins.iter().zip(&b.bins).filter(|(x, y)| x == y).count();
    same as f64 / BINS as f64
}

pub struct NearDuplicates;

impl DatasetRule for NearDuplicates {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&NEAR_DUPLICATE];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        check(records, opts, out);
    }
}

fn check(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    if !opts.enabled(&NEAR_DUPLICATE) {
        return;
    }
    // Band buckets keep the first record seen with that band; a later record is compared with
    // the first record of each of its bands only, so templated floods stay linear.
    let mut buckets: HashKeyMap<usize> = HashKeyMap::default();
    buckets.reserve(records.len() * BANDS / 2);
    for (i, record) in records.iter().enumerate() {
        let Some(sig) = &record.summary.minhash else {
            continue;
        };
        let mut best: Option<(usize, f64)> = None;
        for key in sig.band_keys() {
            match buckets.get(&key) {
                None => {
                    buckets.insert(key, i);
                }
                Some(&first) => {
                    let other = &records[first];
                    if other.summary.content_hash == record.summary.content_hash {
                        continue; // An exact duplicate: reported by `duplicate`.
                    }
                    let Some(other_sig) = &other.summary.minhash else {
                        continue;
                    };
                    let sim = similarity(sig, other_sig);
                    if sim >= THRESHOLD && best.is_none_or(|(_, s)| sim > s) {
                        best = Some((first, sim));
                    }
                }
            }
        }
        if let Some((first, sim)) = best {
            let fix = Fix::delete_record(
                "Delete this near duplicate",
                record.full_span.clone(),
                Applicability::Unsafe,
            );
            let span = record.full_span.start..record.full_span.start + 1;
            out.extend(opts.finding(
                &NEAR_DUPLICATE,
                span,
                format!(
                    "near duplicate of line {} (~{:.0}% similar)",
                    records[first].index + 1,
                    sim * 100.0
                ),
                Some(fix),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<u64> {
        text.split_whitespace()
            .map(|w| xxh3_64(w.as_bytes()))
            .collect()
    }

    #[test]
    fn similar_texts_score_high_and_different_ones_low() {
        let base: String = (0..200)
            .map(|i| format!("word{} ", i % 97))
            .collect::<String>()
            + "the end of a long post about tea";
        let edited = base.replace("word5 word6", "word5 changed");
        let other: String = (0..200).map(|i| format!("other{i} ")).collect();
        let (a, b, c) = (
            signature(&words(&base)).unwrap(),
            signature(&words(&edited)).unwrap(),
            signature(&words(&other)).unwrap(),
        );
        assert!(similarity(&a, &b) >= THRESHOLD, "{}", similarity(&a, &b));
        assert!(similarity(&a, &c) < 0.2);
    }

    fn post(changed: &str) -> String {
        let words: String = (0..200).map(|i| format!("leaf{i} ")).collect();
        crate::lint::rules::test_support::reply(&format!(
            "{words}{changed} and that is the whole story of my tea garden"
        ))
    }

    #[test]
    fn flags_an_edited_copy_with_an_unsafe_fix() {
        use crate::lint::rules::test_support::{file_findings, fixed};
        let text = [post("honey"), post("lemon")].join("\n") + "\n";
        let found = file_findings(&text, "near-duplicate");
        assert_eq!(found.len(), 1, "{found:?}");
        let fix = found[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, crate::lint::Applicability::Unsafe);
        assert_eq!(fixed(&text, "near-duplicate").lines().count(), 1);
    }

    #[test]
    fn different_posts_are_clean() {
        use crate::lint::rules::test_support::{clean_lines, file_findings};
        let text = clean_lines(12).join("\n") + "\n";
        assert!(file_findings(&text, "near-duplicate").is_empty());
    }
}
