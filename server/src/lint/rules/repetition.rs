//! Degenerate repetition: a text that says the same thing over and over, far beyond prose.

use super::HashKeyMap;
use crate::lint::rule::TextRule;
use crate::lint::text::{Cover, FieldRole, TextField, TextFix};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};
use std::ops::Range;

pub static REPETITION: RuleInfo = RuleInfo {
    code: "VT109",
    name: "repetition",
    severity: Severity::Warning,
    summary: "A text that repeats the same words over and over",
    doc: "A reply that is one sentence repeated hundreds of times (the OpenAI cookbook's own \
example of a flawed chat dataset has one repeated about 2,000 times) teaches the tuned model to \
loop. Measure: the text is cut into words (letters and digits, case folded, code left out); a \
word counts as repeated when it starts or lies inside an 8-word sequence that occurs at least 4 \
times in the text. The rule reports a text when at least 60 words and at least half of its \
words are repeated. Real prose stays well below: across every blog post, WordPress export and \
JSONL set the project measured against, the highest share was 37% (a post quoting log output), \
and the rule reports only the cookbook's looping reply (BENCHMARKS.md, \"Repetition\"). \
Checked in assistant replies, completions, plain texts and drafts. The fix \
(unsafe: it drops text) keeps the first occurrence of the repeated passage and removes the run \
of copies after it.",
    fixable: true,
};

/// Words in a repeated sequence.
const NGRAM: usize = 8;
/// How often a sequence must occur before its words count as repeated.
const MIN_OCCURRENCES: u32 = 4;
/// At least this many repeated words...
const MIN_REPEATED_WORDS: usize = 60;
/// ...and at least this share of all words.
const MIN_SHARE: f64 = 0.5;

pub struct Repetition;

impl TextRule for Repetition {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&REPETITION];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        if !opts.enabled(&REPETITION)
            || !matches!(
                field.role,
                FieldRole::Assistant | FieldRole::Completion | FieldRole::Body | FieldRole::Text
            )
        {
            return;
        }
        let Some(found) = measure(field.text(), &field.code) else {
            return;
        };
        if !found.is_degenerate() {
            return;
        }
        let fix = found.removal.clone().map(|range| TextFix {
            title: "Keep the first occurrence, remove the repeats".into(),
            edits: vec![crate::lint::text::TextEdit {
                range,
                text: String::new(),
            }],
            applicability: Applicability::Unsafe,
        });
        out.extend(field.finding(
            opts,
            &REPETITION,
            found.span.clone(),
            format!(
                "{} of {} words ({:.0}%) repeat the same {NGRAM}-word sequences{}",
                found.repeated_words,
                found.words,
                found.share() * 100.0,
                found
                    .copies
                    .map(|n| format!("; one passage occurs {n} times in a row"))
                    .unwrap_or_default()
            ),
            fix,
        ));
    }
}

/// What [`measure`] finds in one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub words: usize,
    pub repeated_words: usize,
    /// Where to point: the repeated run after its first copy, else the whole text.
    pub span: Range<usize>,
    /// Copies of the longest back-to-back run of one passage, if there is one.
    pub copies: Option<usize>,
    /// Bytes to remove to keep only the first copy of that run.
    pub removal: Option<Range<usize>>,
}

impl Measure {
    pub fn share(&self) -> f64 {
        self.repeated_words as f64 / self.words.max(1) as f64
    }

    pub fn is_degenerate(&self) -> bool {
        self.repeated_words >= MIN_REPEATED_WORDS && self.share() >= MIN_SHARE
    }
}

/// FNV-1a over the case-folded characters of a word: no allocation per word.
fn word_hash(word: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for ch in word.chars().flat_map(char::to_lowercase) {
        h = (h ^ u64::from(ch)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Words of `text` outside `code`: byte range and case-folded hash of each.
fn words(text: &str, code: &Cover) -> Vec<(Range<usize>, u64)> {
    let mut out = Vec::new();
    let push = |range: Range<usize>, out: &mut Vec<(Range<usize>, u64)>| {
        if !code.covers(&range) {
            out.push((range.clone(), word_hash(&text[range])));
        }
    };
    let mut start = None;
    for (i, ch) in text.char_indices() {
        match (ch.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                push(s..i, &mut out);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        push(s..text.len(), &mut out);
    }
    out
}

/// A hash of the 8 words from `i`, well mixed (the map uses it as its own hash).
fn window_hash(words: &[(Range<usize>, u64)], i: usize) -> u64 {
    let h = words[i..i + NGRAM].iter().fold(0u64, |h, (_, w)| {
        h.rotate_left(7) ^ w.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    });
    let h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 29)
}

/// Measures repetition in linear time: one pass to hash every 8-word window, one to count, one
/// to count the words of windows seen 4+ times, one for the longest back-to-back run.
pub fn measure(text: &str, code: &Cover) -> Option<Measure> {
    // Too few words to ever reach the threshold: skip the hashing (most texts).
    if text.len() < MIN_REPEATED_WORDS * 2 {
        return None;
    }
    let words = words(text, code);
    if words.len() < MIN_REPEATED_WORDS {
        return None;
    }
    let windows: Vec<u64> = (0..=words.len() - NGRAM)
        .map(|i| window_hash(&words, i))
        .collect();
    let mut counts: HashKeyMap<u32> = HashKeyMap::default();
    counts.reserve(windows.len());
    for w in &windows {
        *counts.entry(*w).or_default() += 1;
    }
    let mut repeated_words = 0;
    let mut covered_until = 0;
    for (i, w) in windows.iter().enumerate() {
        if counts[w] >= MIN_OCCURRENCES {
            repeated_words += i + NGRAM - i.max(covered_until);
            covered_until = i + NGRAM;
        }
    }
    let run = longest_run(&words, &windows, &counts);
    let whole = words[0].0.start..words[words.len() - 1].0.end;
    let (span, copies, removal) = match run {
        Some((first, period, copies)) => {
            let second = words[first + period].0.start;
            let last_word = first + period * copies - 1;
            let end = words[last_word].0.end;
            let after = words.get(first + period * copies).map(|w| w.0.start);
            // Cut from the second copy up to what follows the run; at the end of the text, up
            // to its end, keeping the first copy's own closing punctuation.
            let removal = match after {
                Some(next) => second..next,
                None => text[..second].trim_end().len()..text.len(),
            };
            (second..end, Some(copies), Some(removal))
        }
        None => (whole, None, None),
    };
    Some(Measure {
        words: words.len(),
        repeated_words,
        span,
        copies,
        removal,
    })
}

/// The longest run of one passage repeated back to back: (first word, words per copy, copies),
/// found from the most frequent window. Linear: the run is followed word by word once.
fn longest_run(
    words: &[(Range<usize>, u64)],
    windows: &[u64],
    counts: &HashKeyMap<u32>,
) -> Option<(usize, usize, usize)> {
    let (top, &n) = counts.iter().max_by_key(|(_, n)| **n)?;
    if n < MIN_OCCURRENCES {
        return None;
    }
    let mut first = windows.iter().position(|w| w == top)?;
    let second = first + 1 + windows[first + 1..].iter().position(|w| w == top)?;
    let period = second - first;
    // The window may start mid-passage: walk back to where the repeating starts.
    while first > 0 && words[first - 1].1 == words[first - 1 + period].1 {
        first -= 1;
    }
    let mut end = first + period;
    while end < words.len() && words[end].1 == words[end - period].1 {
        end += 1;
    }
    let copies = (end - first) / period;
    (copies >= 2).then_some((first, period, copies))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::test_support::*;

    const SENTENCE: &str = "I am sorry, I cannot help with that request right now.";

    fn repeated(n: usize) -> String {
        vec![SENTENCE; n].join(" ")
    }

    #[test]
    fn flags_one_sentence_repeated_two_thousand_times() {
        let line = reply(&repeated(2000));
        let found = line_findings(&line, "repetition");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("2000 times"),
            "{}",
            found[0].message
        );
        let fixed = fixed(&line, "repetition");
        assert_eq!(fixed, reply(SENTENCE));
    }

    #[test]
    fn keeps_the_text_around_the_run() {
        let text = format!("Before it all. {} And after it.", repeated(30));
        let line = reply(&text);
        assert_eq!(line_findings(&line, "repetition").len(), 1);
        assert_eq!(
            fixed(&line, "repetition"),
            reply(&format!("Before it all. {SENTENCE} And after it."))
        );
    }

    #[test]
    fn prose_and_a_few_repeats_are_clean() {
        let prose = "Tea is lovely in the morning. I drink it with a book, and the rain on the \
window makes it better. Some days I walk to the harbour first, some days I stay in. The kettle \
whistles, the cat wakes, and the day starts slowly the way I like it to start.";
        assert!(line_findings(&reply(prose), "repetition").is_empty());
        // A refrain repeated a few times in a long text stays under the share.
        let song = format!("{prose} {} {prose}", repeated(4));
        assert!(line_findings(&reply(&song), "repetition").is_empty());
        // A short text repeated stays under the word floor.
        assert!(line_findings(&reply(&repeated(4)), "repetition").is_empty());
    }

    #[test]
    fn measure_is_linear_and_counts_words() {
        let text = repeated(100);
        let m = measure(&text, &Cover::default()).unwrap();
        assert_eq!(m.words, 1100);
        assert!(m.share() > 0.99);
        assert_eq!(m.copies, Some(100));
    }
}
