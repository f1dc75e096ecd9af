//! Leaks and failures in what a voice wrote: what the linter flags in training data (HTML,
//! URLs, e-mail addresses, phone numbers, boilerplate lines; the linter's own rules, run on
//! each output), openings and closings repeated from the training file, passages copied from
//! it, degenerate repetition, and empty or cut-off outputs.

use super::words::words_with_spans;
use crate::lint::engine::run_text_rules;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::LintOptions;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;

/// The lint rules whose findings in an output are leaks (names as in `voicetune rule --list`).
pub const LINT_LEAK_RULES: &[&str] = &["html", "url", "email", "phone", "boilerplate"];

/// Words of an opening or closing that counts as a template.
pub const TEMPLATE_WORDS: usize = 5;
/// Training texts that must share an opening or closing for it to be a template.
pub const TEMPLATE_MIN_TEXTS: usize = 3;
/// Shingle length of the copy check: runs of matching shingles are joined.
pub const COPY_SHINGLE: usize = 8;
/// Words copied in a row from the training file that count as a leak.
pub const COPY_MIN_WORDS: usize = 12;
/// n of the repetition check.
pub const REPEAT_N: usize = 4;
/// Share of repeated 4-grams (over at least [`REPEAT_MIN_NGRAMS`]) that counts as a loop.
pub const REPEAT_MAX_SHARE: f64 = 0.3;
pub const REPEAT_MIN_NGRAMS: usize = 10;
/// Outputs with fewer words are empty.
pub const EMPTY_WORDS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeakKind {
    Html,
    Url,
    Email,
    Phone,
    Boilerplate,
    TemplateOpening,
    TemplateClosing,
    Copied,
    Loop,
    Empty,
    /// Stopped at the token limit mid-sentence: shown, not counted as a leak (every voice
    /// meets the same limit).
    CutOff,
}

impl LeakKind {
    pub const ALL: &'static [LeakKind] = &[
        LeakKind::Html,
        LeakKind::Url,
        LeakKind::Email,
        LeakKind::Phone,
        LeakKind::Boilerplate,
        LeakKind::TemplateOpening,
        LeakKind::TemplateClosing,
        LeakKind::Copied,
        LeakKind::Loop,
        LeakKind::Empty,
        LeakKind::CutOff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LeakKind::Html => "html",
            LeakKind::Url => "url",
            LeakKind::Email => "email",
            LeakKind::Phone => "phone",
            LeakKind::Boilerplate => "boilerplate",
            LeakKind::TemplateOpening => "template-opening",
            LeakKind::TemplateClosing => "template-closing",
            LeakKind::Copied => "copied",
            LeakKind::Loop => "loop",
            LeakKind::Empty => "empty",
            LeakKind::CutOff => "cut-off",
        }
    }

    /// Whether it counts in a voice's leak total.
    pub fn is_leak(self) -> bool {
        self != LeakKind::CutOff
    }

    fn from_rule(rule: &str) -> Option<LeakKind> {
        Some(match rule {
            "html" => LeakKind::Html,
            "url" => LeakKind::Url,
            "email" => LeakKind::Email,
            "phone" => LeakKind::Phone,
            "boilerplate" => LeakKind::Boilerplate,
            _ => return None,
        })
    }
}

/// One leak: its kind, where it is in the output (bytes), and what was found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Leak {
    pub kind: LeakKind,
    pub span: Range<usize>,
    pub detail: String,
}

/// What the training file says about leaks: its repeated openings and closings and the
/// shingles of its texts.
#[derive(Debug, Default)]
pub struct TrainingIndex {
    openings: HashSet<Vec<String>>,
    closings: HashSet<Vec<String>>,
    shingles: HashSet<u64>,
}

fn hash_words(words: &[(String, Range<usize>)]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (w, _) in words {
        w.hash(&mut h);
    }
    h.finish()
}

impl TrainingIndex {
    pub fn build(texts: &[String]) -> TrainingIndex {
        let mut openings: HashMap<Vec<String>, usize> = HashMap::new();
        let mut closings: HashMap<Vec<String>, usize> = HashMap::new();
        let mut shingles = HashSet::new();
        for text in texts {
            let w = words_with_spans(text);
            if w.len() >= TEMPLATE_WORDS * 2 {
                let key = |s: &[(String, Range<usize>)]| -> Vec<String> {
                    s.iter().map(|(w, _)| w.clone()).collect()
                };
                *openings.entry(key(&w[..TEMPLATE_WORDS])).or_default() += 1;
                *closings
                    .entry(key(&w[w.len() - TEMPLATE_WORDS..]))
                    .or_default() += 1;
            }
            shingles.extend(w.windows(COPY_SHINGLE).map(hash_words));
        }
        let repeated = |m: HashMap<Vec<String>, usize>| {
            m.into_iter()
                .filter(|(_, n)| *n >= TEMPLATE_MIN_TEXTS)
                .map(|(k, _)| k)
                .collect()
        };
        TrainingIndex {
            openings: repeated(openings),
            closings: repeated(closings),
            shingles,
        }
    }

    /// The longest run of words of `text` found in a row in the training texts, as a byte
    /// range and a word count (shingles of [`COPY_SHINGLE`] words, consecutive ones joined).
    pub fn longest_copy(&self, text: &str) -> Option<(Range<usize>, usize)> {
        let w = words_with_spans(text);
        let hits: Vec<bool> = w
            .windows(COPY_SHINGLE)
            .map(|s| self.shingles.contains(&hash_words(s)))
            .collect();
        let mut best: Option<(usize, usize)> = None;
        let mut i = 0;
        while i < hits.len() {
            if hits[i] {
                let start = i;
                while i < hits.len() && hits[i] {
                    i += 1;
                }
                let len = i - start + COPY_SHINGLE - 1;
                if best.is_none_or(|(_, l)| len > l) {
                    best = Some((start, len));
                }
            } else {
                i += 1;
            }
        }
        best.map(|(start, len)| (w[start].1.start..w[start + len - 1].1.end, len))
    }
}

/// Share of the word n-grams of `text` that repeat an earlier one, and the span of the first
/// repeat (None when there are too few n-grams to judge).
pub fn repetition(text: &str) -> (f64, Option<Range<usize>>) {
    let w = words_with_spans(text);
    if w.len() < REPEAT_N {
        return (0.0, None);
    }
    let mut seen = HashSet::new();
    let mut repeats = 0;
    let mut first: Option<Range<usize>> = None;
    let total = w.len() - REPEAT_N + 1;
    for g in w.windows(REPEAT_N) {
        if !seen.insert(hash_words(g)) {
            repeats += 1;
            first.get_or_insert(g[0].1.start..g[REPEAT_N - 1].1.end);
        }
    }
    let share = repeats as f64 / total as f64;
    (
        share,
        (total >= REPEAT_MIN_NGRAMS).then_some(first).flatten(),
    )
}

/// Every leak in `output`. `finish` is why generation stopped (`length` = the token limit).
pub fn find_leaks(
    output: &str,
    finish: &str,
    training: Option<&TrainingIndex>,
    opts: &LintOptions,
) -> Vec<Leak> {
    let mut leaks = Vec::new();
    let w = words_with_spans(output);
    if w.len() < EMPTY_WORDS {
        leaks.push(Leak {
            kind: LeakKind::Empty,
            span: 0..output.len(),
            detail: format!("{} words", w.len()),
        });
    }
    let mut findings = Vec::new();
    run_text_rules(
        &[TextField::raw(FieldRole::Assistant, output, 0)],
        opts,
        &mut findings,
    );
    leaks.extend(findings.into_iter().filter_map(|f| {
        Some(Leak {
            kind: LeakKind::from_rule(&f.rule)?,
            span: f.span,
            detail: f.message,
        })
    }));
    if let Some(training) = training {
        if w.len() >= TEMPLATE_WORDS {
            let key = |s: &[(String, Range<usize>)]| -> Vec<String> {
                s.iter().map(|(w, _)| w.clone()).collect()
            };
            let head = &w[..TEMPLATE_WORDS];
            if training.openings.contains(&key(head)) {
                leaks.push(Leak {
                    kind: LeakKind::TemplateOpening,
                    span: head[0].1.start..head[TEMPLATE_WORDS - 1].1.end,
                    detail: "an opening shared by several training texts".into(),
                });
            }
            let tail = &w[w.len() - TEMPLATE_WORDS..];
            if training.closings.contains(&key(tail)) {
                leaks.push(Leak {
                    kind: LeakKind::TemplateClosing,
                    span: tail[0].1.start..tail[TEMPLATE_WORDS - 1].1.end,
                    detail: "a closing shared by several training texts".into(),
                });
            }
        }
        if let Some((span, n)) = training
            .longest_copy(output)
            .filter(|(_, n)| *n >= COPY_MIN_WORDS)
        {
            leaks.push(Leak {
                kind: LeakKind::Copied,
                span,
                detail: format!("{n} words in a row copied from the training file"),
            });
        }
    }
    let (share, first) = repetition(output);
    if let Some(span) = first.filter(|_| share >= REPEAT_MAX_SHARE) {
        leaks.push(Leak {
            kind: LeakKind::Loop,
            span,
            detail: format!(
                "{:.0}% of its {REPEAT_N}-word phrases are repeats",
                share * 100.0
            ),
        });
    }
    let ends_a_sentence = output
        .trim_end()
        .ends_with(['.', '!', '?', '"', '\'', ')', '”', '’', '`', ':', '*']);
    if finish == "length" && !ends_a_sentence && w.len() >= EMPTY_WORDS {
        let end = output.trim_end().len();
        let start = w.last().map_or(0, |(_, r)| r.start);
        leaks.push(Leak {
            kind: LeakKind::CutOff,
            span: start.min(end)..end,
            detail: "stopped at the token limit mid-sentence".into(),
        });
    }
    leaks.sort_by_key(|l| (l.span.start, l.kind));
    leaks
}
