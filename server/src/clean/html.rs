//! HTML to text: tags and entities, html2text for documents with a fast path for plain
//! paragraphs, WordPress's `wpautop`, and code, tables and images removed before rendering.

use super::text::normalize_blank_lines;
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
pub(super) static BLOCK_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?(?:p|div|br|h[1-6]|ul|ol|li|table|tr|td|th|blockquote|pre|section|article|figure|figcaption|hr|dl|dt|dd)\b").unwrap()
});

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

static PRE_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<pre\b[^>]*>.*?</pre\s*>|<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>|<table\b[^>]*>.*?</table\s*>").unwrap()
});

/// `<img>` tags: html2text would keep their alt text (often a file name such as
/// "dsc20050727_091048_222"), which is not the author's prose.
pub(super) static IMG_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<img\b[^>]*>").unwrap());

static CODE_SPAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<code\b[^>]*>(.*?)</code\s*>").unwrap());

/// Drops `<pre>` blocks (and scripts, styles and tables, which html2text draws with box
/// characters), and `<code>` spans whose content is markup or escaped markup (which html2text
/// would turn into literal tags). Plain inline code stays.
pub(super) fn remove_html_code(html: &str, count: &mut usize) -> String {
    if !html.contains('<') {
        return html.to_string();
    }
    let text = PRE_BLOCK.replace_all(html, |_: &regex::Captures| {
        *count += 1;
        "\n\n"
    });
    CODE_SPAN
        .replace_all(&text, |caps: &regex::Captures| {
            let inner = &caps[1];
            if inner.contains('<') || inner.contains("&lt;") || inner.contains('\n') {
                *count += 1;
                String::new()
            } else {
                inner.to_string()
            }
        })
        .into_owned()
}

static BLOCK_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^<(?:p|div|h[1-6]|ul|ol|li|table|thead|tbody|tr|blockquote|pre|section|article|figure|hr|dl|address|form|fieldset|aside|nav|header|footer|iframe|object|!--)\b").unwrap()
});

/// WordPress's `wpautop`, simplified: classic-editor content separates paragraphs with blank
/// lines and lines with single newlines, and only gets `<p>`/`<br>` when rendered. Without this,
/// html2text would fold every paragraph of a post that has any block tag into one.
pub fn autop(html: &str) -> String {
    if !html.contains('\n') {
        return html.to_string();
    }
    let html = html.replace("\r\n", "\n");
    let mut out = String::with_capacity(html.len() + 64);
    for chunk in PARAGRAPH_BREAK.split(&html) {
        let chunk = chunk.trim();
        if chunk.is_empty() {
            continue;
        }
        if BLOCK_START.is_match(chunk) {
            out.push_str(chunk);
        } else {
            out.push_str("<p>");
            for (i, line) in chunk.lines().enumerate() {
                if i > 0 {
                    out.push_str("<br />\n");
                }
                out.push_str(line.trim());
            }
            out.push_str("</p>");
        }
        out.push('\n');
    }
    out
}

static HTML_COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<!--[\s\S]*?-->").unwrap());

static INLINE_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^</?(?:a|strong|em|b|i|span|code|u|mark|small)\b").unwrap());

/// A fast path with exactly [`html_to_text`]'s result for the most common post shape: a
/// sequence of `<p>` paragraphs holding only plain inline tags (links, emphasis, spans, code).
/// Each paragraph's tags are dropped, entities decoded and whitespace folded, as html2text does;
/// anything else (lists, headings, `<br>`, tables, figures) returns `None` and goes through
/// html2text. Most block-editor posts qualify, and html2text is the builder's costliest step.
pub fn simple_paragraphs_to_text(html: &str) -> Option<String> {
    let html = if html.contains("<!--") {
        HTML_COMMENT.replace_all(html, "")
    } else {
        std::borrow::Cow::Borrowed(html)
    };
    let mut out = String::with_capacity(html.len());
    let mut rest = html.trim_start();
    while !rest.is_empty() {
        if !(rest.starts_with("<p>") || rest.starts_with("<p ")) {
            return None;
        }
        let open_end = rest.find('>')? + 1;
        let close = rest.find("</p>")?;
        let inner = rest.get(open_end..close)?;
        if inner.contains("<p")
            || HTML_TAG
                .find_iter(inner)
                .any(|t| !INLINE_TAG.is_match(t.as_str()))
        {
            return None;
        }
        let text = HTML_TAG.replace_all(inner, "");
        let text = if text.contains('&') {
            decode_entities(&text)
        } else {
            text.into_owned()
        };
        let mut words = text.split_whitespace();
        if let Some(first) = words.next() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(first);
            for w in words {
                out.push(' ');
                out.push_str(w);
            }
        }
        rest = rest[close + 4..].trim_start();
    }
    Some(out)
}

static PARAGRAPH_BREAK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n[ \t]*\n\s*").unwrap());

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
}
