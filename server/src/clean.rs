//! Text cleaning: ONE implementation shared by the lint fixes and the dataset builder, so the
//! builder's output and the linter can never disagree about what "clean" means.
//!
//! Detection patterns are public so lint rules find exactly what the cleaners remove.
//! See `../shared/notes/cleaning.md` for html2text's traps (URLs kept as footnotes by default,
//! hard wrapping at the width, brackets around anchors with the plain decorator).

use regex::Regex;
use std::sync::LazyLock;

/// An HTML tag: `<p>`, `</a>`, `<img src="..."/>`, `<!-- comment -->`. Requires a letter (or `/`,
/// `!`) right after `<` so that "a < b" and "<3" are not tags.
pub static HTML_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<!--[\s\S]*?-->|</?[A-Za-z][A-Za-z0-9-]*(?:\s+[^<>]*?)?\s*/?>"#).unwrap()
});

/// A named or numeric HTML character reference: `&amp;`, `&#8217;`, `&#x2019;`.
pub static HTML_ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});").unwrap()
});

/// Tags that make text an HTML document (paragraph structure lives in the tags, and raw
/// newlines are insignificant); text with only inline tags keeps its own newlines.
static BLOCK_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?(?:p|div|br|h[1-6]|ul|ol|li|table|tr|td|th|blockquote|pre|section|article|figure|figcaption|hr|dl|dt|dd)\b").unwrap()
});

/// A markdown link `[text](url "title")` or image `![alt](url)`; group 1 is `!` for images,
/// group 2 the anchor text, group 3 the destination.
pub static MARKDOWN_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)"#)
        .unwrap()
});

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

/// Transcript artefacts, one per line: a speaker label with a timestamp ("Katie Robbert 0:25",
/// "Speaker 1 (00:01:02)"), a bare timestamp line or prefix ("[00:12:05]", "0:25 "), and subtitle
/// cue timings ("00:00:01,000 --> 00:00:04,000").
pub static TRANSCRIPT_ARTEFACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?m)^[ \t]*(?:",
        r"\d{1,2}:\d{2}:\d{2}[.,]\d{3}[ \t]*-->[ \t]*\d{1,2}:\d{2}:\d{2}[.,]\d{3}[^\n]*",
        r"|(?:[A-Z][\p{L}.'-]*(?:[ \t][A-Z][\p{L}.'-]*){0,3}|SPEAKER_\d+|Speaker[ \t]\d+)[ \t]+[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]?[ \t]*:?[ \t]*$",
        r"|[\[(]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])][ \t]*",
        r"|\d{1,2}:\d{2}(?::\d{2})?[ \t]+(?:-[ \t]+)?",
        r")"
    ))
    .unwrap()
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

/// True when `text` has block-level tags: it is an HTML document, not text with a stray tag.
pub fn is_html_document(text: &str) -> bool {
    BLOCK_TAG.is_match(text)
}

/// HTML (or text with some tags) to plain text: tags removed, links reduced to their anchor
/// text, images dropped (alt text kept by html2text), entities decoded, paragraphs kept as
/// blank-line separated single lines.
pub fn html_to_text(html: &str) -> String {
    if !BLOCK_TAG.is_match(html) {
        // Inline tags only: raw newlines are meaningful here, and html2text would fold them.
        let without_tags = HTML_TAG.replace_all(html, "");
        return decode_entities(&without_tags);
    }
    // The trivial decorator keeps anchor text only (no footnote URLs, no brackets); a huge
    // width keeps paragraphs on one line.
    let rendered = html2text::config::with_decorator(html2text::render::TrivialDecorator::new())
        .string_from_read(html.as_bytes(), 1_000_000)
        .unwrap_or_else(|_| HTML_TAG.replace_all(html, "").into_owned());
    normalize_blank_lines(&rendered.replace('\u{a0}', " "))
}

/// Decodes HTML character references (`&amp;` -> `&`, `&#8217;` -> `’`); `&nbsp;` becomes a space.
pub fn decode_entities(text: &str) -> String {
    html_escape::decode_html_entities(text).replace('\u{a0}', " ")
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

/// Markdown links become their anchor text; images are removed.
pub fn markdown_links_to_text(text: &str) -> String {
    MARKDOWN_LINK
        .replace_all(text, |caps: &regex::Captures| {
            if &caps[1] == "!" {
                String::new()
            } else {
                caps[2].to_string()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_document_keeps_paragraphs_and_anchor_text_only() {
        let html = r#"<p>Read <a href="https://example.com/post">our <strong>great</strong> post</a>.</p><p>Second&nbsp;para &amp; more.</p>"#;
        assert_eq!(
            html_to_text(html),
            "Read our great post.\n\nSecond para & more."
        );
    }

    #[test]
    fn inline_tags_keep_raw_newlines() {
        assert_eq!(
            html_to_text("One <b>bold</b> line.\n\nNext &amp; last."),
            "One bold line.\n\nNext & last."
        );
    }

    #[test]
    fn less_than_is_not_a_tag() {
        assert!(!HTML_TAG.is_match("if a < b and b > c"));
        assert!(!HTML_TAG.is_match("I <3 this"));
        assert!(HTML_TAG.is_match("<br/>"));
    }

    #[test]
    fn urls_lose_trailing_punctuation_and_a_space() {
        let text = "Visit https://bare.example.org/x. Or www.example.com now";
        let spans = url_spans(text);
        assert_eq!(&text[spans[0].clone()], "https://bare.example.org/x");
        assert_eq!(&text[spans[1].clone()], "www.example.com");
        assert_eq!(remove_bare_urls(text), "Visit. Or now");
    }

    #[test]
    fn markdown_links_and_images() {
        assert_eq!(
            markdown_links_to_text("See [the docs](https://d.io \"t\") ![chart](a.png) ok"),
            "See the docs  ok"
        );
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
