//! The style profile behind the distance: function-word rates, sentence and paragraph
//! lengths, vocabulary richness and punctuation habits of a group of texts.

use super::words::{paragraph_lengths, sentence_lengths, words};
use std::collections::{BTreeMap, HashMap};

/// English function words (articles, pronouns, prepositions, conjunctions, auxiliaries): the
/// words whose rates carry an author's habits rather than the topic (Mosteller & Wallace's
/// insight, which Burrows' Delta builds on).
pub const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "because",
    "been", "but", "by", "can", "could", "do", "for", "from", "had", "has", "have", "he", "her",
    "his", "i", "if", "in", "into", "is", "it", "its", "just", "me", "my", "no", "not", "of", "on",
    "one", "or", "our", "out", "she", "so", "some", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "to", "up", "was", "we", "were", "what", "when", "which",
    "who", "will", "with", "would", "you", "your",
];

/// Punctuation marks counted per 1,000 words.
pub const PUNCTUATION: &[char] = &[
    ',', '.', ';', ':', '!', '?', '—', '–', '-', '(', '"', '“', '\'', '’', '…', '*', '`', '#',
];

/// Window of the moving-average type-token ratio (Covington & McFall 2010): long enough to
/// see repetition within a passage, short enough for texts of a few hundred words.
pub const MATTR_WINDOW: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Distribution {
    pub count: usize,
    pub mean: f64,
    pub sd: f64,
    pub median: f64,
}

impl Distribution {
    pub fn of(values: &[usize]) -> Distribution {
        if values.is_empty() {
            return Distribution::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<usize>() as f64 / n;
        let sd = (values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[mid - 1] + sorted[mid]) as f64 / 2.0
        } else {
            sorted[mid] as f64
        };
        Distribution {
            count: values.len(),
            mean,
            sd,
            median,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Profile {
    pub words: usize,
    /// Share of all words that are function words (per 1,000 words).
    pub function_words_per_1000: f64,
    /// The ten most used function words and their rate per 1,000 words.
    pub top_function_words: BTreeMap<String, f64>,
    /// Words per sentence.
    pub sentence_words: Distribution,
    /// Words per paragraph.
    pub paragraph_words: Distribution,
    /// Distinct words / words, over all texts together.
    pub type_token_ratio: f64,
    /// Mean type-token ratio of every window of [`MATTR_WINDOW`] words (per text, weighted by
    /// windows); the plain ratio for texts shorter than a window.
    pub mattr: f64,
    /// Each punctuation mark used, per 1,000 words.
    pub punctuation_per_1000: BTreeMap<String, f64>,
}

/// The profile of `texts` taken together.
pub fn profile(texts: &[&str]) -> Profile {
    let per_text: Vec<Vec<String>> = texts.iter().map(|t| words(t)).collect();
    let all: Vec<&String> = per_text.iter().flatten().collect();
    let n = all.len();
    let per_1000 = |count: usize| count as f64 * 1000.0 / n.max(1) as f64;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &all {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    let mut function: Vec<(&str, usize)> = FUNCTION_WORDS
        .iter()
        .map(|w| (*w, counts.get(w).copied().unwrap_or(0)))
        .collect();
    let function_total: usize = function.iter().map(|(_, c)| c).sum();
    function.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top_function_words = function
        .iter()
        .take(10)
        .filter(|(_, c)| *c > 0)
        .map(|(w, c)| (w.to_string(), per_1000(*c)))
        .collect();
    let (mut windows, mut window_sum) = (0usize, 0f64);
    for text in &per_text {
        if let Some((count, ratio)) = moving_ttr(text) {
            windows += count;
            window_sum += ratio * count as f64;
        }
    }
    let mut punctuation = BTreeMap::new();
    for text in texts {
        for c in text.chars().filter(|c| PUNCTUATION.contains(c)) {
            *punctuation.entry(c.to_string()).or_insert(0usize) += 1;
        }
    }
    Profile {
        words: n,
        function_words_per_1000: per_1000(function_total),
        top_function_words,
        sentence_words: Distribution::of(
            &texts
                .iter()
                .flat_map(|t| sentence_lengths(t))
                .collect::<Vec<_>>(),
        ),
        paragraph_words: Distribution::of(
            &texts
                .iter()
                .flat_map(|t| paragraph_lengths(t))
                .collect::<Vec<_>>(),
        ),
        type_token_ratio: counts.len() as f64 / n.max(1) as f64,
        mattr: if windows > 0 {
            window_sum / windows as f64
        } else {
            0.0
        },
        punctuation_per_1000: punctuation
            .into_iter()
            .map(|(k, v)| (k, per_1000(v)))
            .collect(),
    }
}

/// (number of windows, their mean type-token ratio) of one text; a text shorter than the
/// window counts as one window.
fn moving_ttr(words: &[String]) -> Option<(usize, f64)> {
    if words.is_empty() {
        return None;
    }
    if words.len() <= MATTR_WINDOW {
        let distinct: std::collections::HashSet<&String> = words.iter().collect();
        return Some((1, distinct.len() as f64 / words.len() as f64));
    }
    let mut in_window: HashMap<&str, usize> = HashMap::new();
    for w in &words[..MATTR_WINDOW] {
        *in_window.entry(w.as_str()).or_default() += 1;
    }
    let mut sum = in_window.len() as f64 / MATTR_WINDOW as f64;
    for i in MATTR_WINDOW..words.len() {
        *in_window.entry(words[i].as_str()).or_default() += 1;
        let out = &words[i - MATTR_WINDOW];
        let left = in_window.get_mut(out.as_str()).expect("in the window");
        *left -= 1;
        if *left == 0 {
            in_window.remove(out.as_str());
        }
        sum += in_window.len() as f64 / MATTR_WINDOW as f64;
    }
    let windows = words.len() - MATTR_WINDOW + 1;
    Some((windows, sum / windows as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_counts_rates_lengths_and_richness() {
        let p = profile(&["The cat sat. The cat ran, fast!\n\nThen it slept."]);
        assert_eq!(p.words, 10);
        assert_eq!(p.sentence_words.count, 3);
        assert_eq!(p.paragraph_words.count, 2);
        assert!((p.type_token_ratio - 0.8).abs() < 1e-9);
        assert!((p.punctuation_per_1000[","] - 100.0).abs() < 1e-9);
        assert!(p.top_function_words.contains_key("the"));
        let looped: Vec<String> = (0..300).map(|i| format!("w{}", i % 10)).collect();
        assert!(moving_ttr(&looped).unwrap().1 < 0.2);
    }
}
