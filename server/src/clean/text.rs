//! Plain-text patterns and steps every format shares: bare URLs, e-mail addresses, phone
//! numbers, website boilerplate lines, invisible characters and blank-line runs.

use regex::Regex;
use std::sync::LazyLock;

/// A bare URL (scheme or `www.`). Trailing sentence punctuation is trimmed by [`url_spans`].
pub static BARE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>"'`\]\[(){}]+(?:\([^\s()]*\)[^\s<>"'`\]\[(){}]*)*"#)
        .unwrap()
});

/// An e-mail address.
pub static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b").unwrap()
});

/// A phone number: North American `(555) 123-4567` / `555-123-4567`, or international
/// `+44 20 7946 0958`. Requires separators so that plain long numbers (ids, years) don't match.
pub static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\b\d{3})[ .-]\d{3}[ .-]\d{4}\b|\+\d{1,3}(?:[ .-]\d{1,4}){2,5}\b").unwrap()
});

/// Lines that websites add around every post and that a voice model should never learn.
static BOILERPLATE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^[\s*#>-]*(?:",
        r"share (?:this|on \w+)(?: (?:post|article|story))?:?|like this:?|like loading\.*|",
        r"leave a (?:reply|comment)|cancel reply|\d* ?comments?:?|no comments yet\.?|",
        r"subscribe(?: now| today| to (?:our|the|my) (?:newsletter|blog|channel|podcast))?!?\.?|",
        r"sign up for (?:our|the|my) newsletter\.?|click here to subscribe\.?|",
        r"related(?: posts| articles)?:?|you (?:may|might) also like:?|",
        r"read more(?: »| →|\.\.\.)?|continue reading(?: →| »|\.\.\.)?|",
        r"(?:this entry was )?posted in [^\n]{0,60}|tagged:? [^\n]{0,60}|",
        r"follow us on [^\n]{0,40}|all rights reserved\.?|© ?\d{4}[^\n]{0,60}",
        r")[\s.!]*$"
    ))
    .unwrap()
});

/// True when `line` is website boilerplate ("Share This", "Leave a Reply", "Subscribe now").
pub fn is_boilerplate_line(line: &str) -> bool {
    line.len() <= 100 && BOILERPLATE_LINE.is_match(line.trim())
}

/// Trims trailing spaces on each line, collapses runs of 3+ newlines to one blank line, and
/// trims the ends.
pub fn normalize_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

/// Byte ranges of bare URLs in `text`, with trailing sentence punctuation excluded.
pub fn url_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    BARE_URL
        .find_iter(text)
        .map(|m| {
            let trimmed = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
            m.start()..m.start() + trimmed.len()
        })
        .collect()
}

/// The range to delete when removing `span` from `text`: the span plus one adjacent space, so
/// "see https://x.y now" becomes "see now" rather than "see  now".
pub fn removal_range(text: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let bytes = text.as_bytes();
    if span.end < bytes.len() && bytes[span.end] == b' ' {
        return span.start..span.end + 1;
    }
    if span.start > 0 && bytes[span.start - 1] == b' ' {
        return span.start - 1..span.end;
    }
    span
}

/// Removes bare URLs (with an adjacent space).
pub fn remove_bare_urls(text: &str) -> String {
    let mut out = text.to_string();
    for span in url_spans(text).into_iter().rev() {
        let range = removal_range(&out, span);
        out.replace_range(range, "");
    }
    out
}

/// Invisible format characters: zero-width spaces and joiners, bidi marks and overrides, word
/// joiners, the BOM and soft hyphens. They carry nothing a model should learn.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{ad}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::transcript::TRANSCRIPT_ARTEFACT;

    #[test]
    fn urls_lose_trailing_punctuation_and_a_space() {
        let text = "Visit https://bare.example.org/x. Or www.example.com now";
        let spans = url_spans(text);
        assert_eq!(&text[spans[0].clone()], "https://bare.example.org/x");
        assert_eq!(&text[spans[1].clone()], "www.example.com");
        assert_eq!(remove_bare_urls(text), "Visit. Or now");
    }

    #[test]
    fn boilerplate_and_transcripts() {
        for line in [
            "Share This",
            "Leave a Reply",
            "Subscribe now!",
            "  Related posts:",
        ] {
            assert!(is_boilerplate_line(line), "{line}");
        }
        for line in [
            "Share this idea with your team before Friday.",
            "I read more books now.",
        ] {
            assert!(!is_boilerplate_line(line), "{line}");
        }
        let t = "Katie Robbert 0:25\nSo what we did was\n[00:01:02] next\n00:00:01,000 --> 00:00:04,000";
        let found: Vec<&str> = TRANSCRIPT_ARTEFACT
            .find_iter(t)
            .map(|m| m.as_str())
            .collect();
        assert_eq!(
            found,
            [
                "Katie Robbert 0:25",
                "[00:01:02] ",
                "00:00:01,000 --> 00:00:04,000"
            ]
        );
    }

    #[test]
    fn pii_patterns() {
        assert!(EMAIL.is_match("mail jane.doe+x@example.co.uk today"));
        assert!(PHONE.is_match("call (555) 123-4567"));
        assert!(PHONE.is_match("call +44 20 7946 0958"));
        assert!(!PHONE.is_match("in 2017-03-06 we had 12345678 users"));
    }
}
