//! Words and sentences of plain text, with their byte spans (for highlighting).

use std::ops::Range;

/// Lower-cased words (letters and digits, with inner apostrophes) and their byte ranges.
pub fn words_with_spans(text: &str) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let inner_apostrophe = (c == '\'' || c == '’')
            && start.is_some()
            && chars.get(k + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push((text[s..i].to_lowercase().replace('’', "'"), s..i));
        }
    }
    if let Some(s) = start {
        out.push((text[s..].to_lowercase().replace('’', "'"), s..text.len()));
    }
    out
}

/// Lower-cased words of `text`.
pub fn words(text: &str) -> Vec<String> {
    words_with_spans(text).into_iter().map(|(w, _)| w).collect()
}

/// Words per sentence (sentences end at `.`, `!`, `?` or a blank line).
pub fn sentence_lengths(text: &str) -> Vec<usize> {
    text.split("\n\n")
        .flat_map(|p| p.split(['.', '!', '?']))
        .map(|s| words_with_spans(s).len())
        .filter(|&n| n > 0)
        .collect()
}

/// Words per paragraph (blocks separated by a blank line).
pub fn paragraph_lengths(text: &str) -> Vec<usize> {
    text.split("\n\n")
        .map(|p| words_with_spans(p).len())
        .filter(|&n| n > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_inner_apostrophes_and_spans() {
        let text = "Don’t stop: it's 2 o'clock — naïve 東京!";
        let w = words_with_spans(text);
        let names: Vec<&str> = w.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names,
            ["don't", "stop", "it's", "2", "o'clock", "naïve", "東京"]
        );
        assert_eq!(&text[w[6].1.clone()], "東京");
        assert_eq!(
            sentence_lengths("One two. Three!\n\nFour five six"),
            [2, 1, 3]
        );
        assert_eq!(paragraph_lengths("a b\n\nc\n\n\n\n"), [2, 1]);
    }
}
