//! Text cleaning: ONE implementation shared by the lint fixes and the dataset builder, so the
//! builder's output and the linter can never disagree about what "clean" means.
//!
//! Detection patterns are public so lint rules find exactly what the cleaners remove.
//! html2text's traps, measured on 0.17: its default and plain configs keep link URLs as footnotes
//! (the way URLs leak into a voice), the plain decorator leaves brackets around anchor text, and
//! the width argument hard-wraps paragraphs; so we render with the trivial decorator at a huge
//! width, and remove bare URLs and shortcodes, which it passes through, in steps of our own.

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

// ---------------------------------------------------------------------------------------------
// The post pipeline used by the dataset builder (and by lint fixes that clean a whole record).

/// How a body is written (decides the first steps of [`clean_post`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// WordPress post content: block-editor HTML, or classic text with blank-line paragraphs.
    Html,
    /// Markdown, possibly with inline HTML.
    Markdown,
    /// Plain text (transcript turns).
    Text,
}

/// What cleaning removed, summed over posts for the build report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanStats {
    pub html_tags: usize,
    pub links: usize,
    pub images: usize,
    pub urls: usize,
    pub shortcodes: usize,
    pub code_blocks: usize,
    pub entities: usize,
    pub boilerplate_lines: usize,
    pub transcript_artefacts: usize,
}

impl CleanStats {
    pub fn add(&mut self, other: &CleanStats) {
        self.html_tags += other.html_tags;
        self.links += other.links;
        self.images += other.images;
        self.urls += other.urls;
        self.shortcodes += other.shortcodes;
        self.code_blocks += other.code_blocks;
        self.entities += other.entities;
        self.boilerplate_lines += other.boilerplate_lines;
        self.transcript_artefacts += other.transcript_artefacts;
    }
}

/// Cleans one post body into training text: code blocks and shortcodes removed, HTML to text
/// (paragraphs kept, links to anchor text), markdown links to anchor text, images, bare URLs and
/// boilerplate lines removed, transcript artefacts removed, whitespace normalised. Returns the
/// text and the counts of what was removed.
pub fn clean_post(body: &str, format: SourceFormat) -> (String, CleanStats) {
    let mut stats = CleanStats::default();
    let text = match format {
        SourceFormat::Html => {
            // Shortcodes first: `[caption]` wraps HTML that goes with it.
            let html = remove_shortcodes(body, &mut stats.shortcodes);
            let html = remove_html_code(&html, &mut stats.code_blocks);
            count_html(&html, &mut stats);
            let html = IMG_TAG.replace_all(&html, "");
            let html = if html.contains("<!-- wp:") {
                html.into_owned()
            } else {
                autop(&html)
            };
            simple_paragraphs_to_text(&html).unwrap_or_else(|| html_to_text(&html))
        }
        SourceFormat::Markdown => {
            // Code first: `[sda]` or `[Service]` inside a code block is not a shortcode.
            let md = remove_markdown_code(body, &mut stats.code_blocks);
            let md = remove_shortcodes(&md, &mut stats.shortcodes);
            let md = reference_links_to_text(&md, &mut stats.links);
            let md = remove_html_code(&md, &mut stats.code_blocks);
            count_html(&md, &mut stats);
            strip_tags_keep_newlines(&md)
        }
        SourceFormat::Text => {
            let (text, n) = remove_transcript_artefacts(body);
            stats.transcript_artefacts += n;
            text
        }
    };
    let text = clean_text(&text, &mut stats);
    (text, stats)
}

/// A post title: tags stripped, entities decoded, whitespace collapsed to single spaces.
pub fn clean_title(title: &str) -> String {
    let text = if title.contains('<') {
        HTML_TAG.replace_all(title, "").into_owned()
    } else {
        title.to_string()
    };
    let text = if text.contains('&') {
        decode_entities(&text)
    } else {
        text
    };
    let text: String = text.chars().filter(|c| !is_invisible(*c)).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The steps every format shares once it is text.
fn clean_text(text: &str, stats: &mut CleanStats) -> String {
    use std::borrow::Cow;
    // Each regex runs only when a cheap substring test says it can match (most posts have no
    // markdown links, definitions or autolinks once the HTML is gone).
    let mut text: Cow<str> = Cow::Borrowed(text);
    // Markdown links/images (also written by hand inside WordPress posts).
    if text.contains("](") {
        text = Cow::Owned(
            MARKDOWN_LINK
                .replace_all(&text, |caps: &regex::Captures| {
                    if &caps[1] == "!" {
                        stats.images += 1;
                        String::new()
                    } else {
                        stats.links += 1;
                        caps[2].to_string()
                    }
                })
                .into_owned(),
        );
    }
    // Reference-style link definitions and autolinks.
    if text.contains("]:") {
        text = Cow::Owned(
            LINK_DEFINITION
                .replace_all(&text, |_: &regex::Captures| {
                    stats.links += 1;
                    ""
                })
                .into_owned(),
        );
    }
    if text.contains('<') {
        text = Cow::Owned(
            AUTOLINK
                .replace_all(&text, |_: &regex::Captures| {
                    stats.urls += 1;
                    ""
                })
                .into_owned(),
        );
    }
    if text.contains("://") || text.contains("www.") {
        let spans = url_spans(&text);
        stats.urls += spans.len();
        let mut out = text.into_owned();
        for span in spans.into_iter().rev() {
            let range = removal_range(&out, span);
            out.replace_range(range, "");
        }
        text = Cow::Owned(out);
    }
    let (text, noise) = remove_transcript_noise(&text);
    stats.transcript_artefacts += noise;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if is_boilerplate_line(line) {
            stats.boilerplate_lines += 1;
            continue;
        }
        out.push_str(&normalize_line(line));
        out.push('\n');
    }
    normalize_blank_lines(&out)
}

/// One line's whitespace: NBSP and tabs to spaces, zero-width characters removed, runs of spaces
/// collapsed; a markdown list item keeps its indentation, other lines are trimmed.
fn normalize_line(line: &str) -> String {
    let line: String = line
        .chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| {
            if c == '\u{a0}' || c == '\t' || c == '\u{2009}' || c == '\u{202f}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    let body = line.trim_start();
    let indent = line.len() - body.len();
    let is_list_item = body.starts_with(['-', '*', '+'])
        || body
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let mut out = String::with_capacity(line.len());
    if is_list_item && indent > 0 {
        out.push_str(&" ".repeat(indent.min(8)));
    }
    let mut last_space = false;
    for c in body.trim_end().chars() {
        if c == ' ' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// Invisible format characters: zero-width spaces and joiners, bidi marks and overrides, word
/// joiners, the BOM and soft hyphens. They carry nothing a model should learn.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{ad}')
}

/// `[id]: https://...` lines (reference-style link definitions).
pub static LINK_DEFINITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?\S+>?(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$"#).unwrap()
});

/// `<https://example.com>` autolinks.
pub static AUTOLINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<(?:https?|ftp|mailto):[^\s<>]+>").unwrap());

/// A WordPress shortcode tag: `[gallery ids="1,2"]`, `[/caption]`, `[embed]`.
static SHORTCODE_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\[(/)?([A-Za-z][A-Za-z0-9_-]*)((?:\s[^\[\]]*)?)\]"#).unwrap());

/// Shortcodes whose content is media or markup, not prose: removed with their content.
const MEDIA_SHORTCODES: &[&str] = &[
    "caption",
    "wp_caption",
    "gallery",
    "embed",
    "video",
    "audio",
    "playlist",
    "youtube",
    "vimeo",
    "soundcloud",
    "spotify",
    "tweet",
    "instagram",
    "googlemaps",
    "code",
    "sourcecode",
    "source",
    "contact-form",
    "contact-form-7",
    "gravityform",
    "wpforms",
    "ninja_form",
    "mailchimp",
    "ad",
    "adsense",
    "wp_ad_camp_1",
];

/// Removes WordPress shortcodes. Media shortcodes go with their content; other shortcodes
/// (layout wrappers such as `[column]...[/column]`) lose their tags but keep their text. A
/// bracketed word that is not a shortcode (`[sic]`, `[1]`, a markdown link's `[text](url)`) is
/// left alone: it must be a media shortcode, have `key=value` attributes, or have a matching
/// closing tag.
pub fn remove_shortcodes(text: &str, count: &mut usize) -> String {
    if !text.contains('[') {
        return text.to_string();
    }
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for caps in SHORTCODE_TAG.captures_iter(text) {
        let m = caps.get(0).unwrap();
        if m.start() < pos {
            continue; // inside a removed media shortcode
        }
        let closing = caps.get(1).is_some();
        let name = caps[2].to_ascii_lowercase();
        let attrs = caps.get(3).map_or("", |a| a.as_str());
        let close_tag = format!("[/{name}]");
        let media = MEDIA_SHORTCODES.contains(&name.as_str());
        // `[source for x](url)` is a markdown link and `[audio hat]` prose: a shortcode's
        // attributes are `key=value` pairs, or one bare value (`[audio https://...mp3]`).
        let attrs_ok = attrs.trim().is_empty()
            || attrs.contains('=')
            || (media && !attrs.trim().contains(char::is_whitespace));
        let next = text[m.end()..].chars().next();
        if !attrs_ok || matches!(next, Some('(') | Some('[') | Some(':')) {
            continue;
        }
        let end = if closing {
            if media || lower[..m.start()].contains(&format!("[{name}")) {
                m.end()
            } else {
                continue;
            }
        } else if media {
            match lower[m.end()..].find(&close_tag) {
                Some(i) => m.end() + i + close_tag.len(),
                None => m.end(),
            }
        } else if attrs.contains('=') || lower[m.end()..].contains(&close_tag) {
            m.end()
        } else {
            continue;
        };
        out.push_str(&text[pos..m.start()]);
        pos = end;
        *count += 1;
    }
    out.push_str(&text[pos..]);
    out
}

static PRE_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<pre\b[^>]*>.*?</pre\s*>|<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>|<table\b[^>]*>.*?</table\s*>").unwrap()
});
/// `<img>` tags: html2text would keep their alt text (often a file name such as
/// "dsc20050727_091048_222"), which is not the author's prose.
static IMG_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)<img\b[^>]*>").unwrap());
static CODE_SPAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<code\b[^>]*>(.*?)</code\s*>").unwrap());

/// Drops `<pre>` blocks (and scripts, styles and tables, which html2text draws with box
/// characters), and `<code>` spans whose content is markup or escaped markup (which html2text
/// would turn into literal tags). Plain inline code stays.
fn remove_html_code(html: &str, count: &mut usize) -> String {
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

fn count_html(html: &str, stats: &mut CleanStats) {
    if html.contains('<') {
        for m in HTML_TAG.find_iter(html) {
            let tag = m.as_str().as_bytes();
            stats.html_tags += 1;
            if tag.len() > 3 && tag[1].eq_ignore_ascii_case(&b'a') && tag[2].is_ascii_whitespace() {
                stats.links += 1;
            } else if tag.len() > 4 && tag[1..4].eq_ignore_ascii_case(b"img") {
                stats.images += 1;
            }
        }
    }
    if html.contains('&') {
        stats.entities += HTML_ENTITY.find_iter(html).count();
    }
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

/// Fenced (```/~~~) and indented code blocks, Jekyll `{% highlight %}` blocks, and inline code
/// spans holding markup or URLs; other inline code keeps its text and backticks.
fn remove_markdown_code(md: &str, count: &mut usize) -> String {
    let mut out = String::with_capacity(md.len());
    let mut fence: Option<String> = None;
    let mut in_liquid = false;
    let mut prev_blank = true;
    let mut in_indented = false;
    let mut prev_list = false;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if let Some(f) = &fence {
            if trimmed.starts_with(f.as_str())
                && trimmed
                    .trim_start_matches(f.chars().next().unwrap())
                    .trim()
                    .is_empty()
            {
                fence = None;
                out.push('\n');
            }
            continue;
        }
        if in_liquid {
            if trimmed.starts_with("{%") && trimmed.contains("endhighlight") {
                in_liquid = false;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let ch = trimmed.chars().next().unwrap();
            let len = trimmed.chars().take_while(|&c| c == ch).count();
            fence = Some(ch.to_string().repeat(len));
            *count += 1;
            continue;
        }
        if trimmed.starts_with("{%") && trimmed.ends_with("%}") && !trimmed.contains("highlight") {
            // A Liquid tag on its own line (`{% raw %}`): template syntax, and transparent for
            // the blank-line rule of indented code blocks.
            continue;
        }
        if trimmed.starts_with("{%")
            && trimmed.contains("highlight")
            && !trimmed.contains("endhighlight")
        {
            in_liquid = true;
            *count += 1;
            continue;
        }
        let blank = trimmed.is_empty();
        let indented = line.starts_with("    ") || line.starts_with('\t');
        if indented && !blank && (in_indented || (prev_blank && !prev_list)) {
            if !in_indented {
                *count += 1;
            }
            in_indented = true;
            continue;
        }
        if !blank {
            in_indented = false;
            prev_list = trimmed.starts_with(['-', '*', '+'])
                || trimmed
                    .split_once(". ")
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                || (indented && prev_list);
        }
        prev_blank = blank;
        // Liquid tags ({% raw %}, {% include %}) are template syntax, not prose.
        let line = LIQUID_TAG.replace_all(line, "");
        let line = INLINE_CODE.replace_all(&line, |caps: &regex::Captures| {
            let inner = &caps[1];
            if HTML_TAG.is_match(inner) || BARE_URL.is_match(inner) || HTML_ENTITY.is_match(inner) {
                *count += 1;
                String::new()
            } else {
                caps[0].to_string()
            }
        });
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `[text][id]`, `[text][]` and `[text]` (with a `[text]: url` definition) become their text;
/// the definitions themselves are removed later with the other links.
fn reference_links_to_text(md: &str, count: &mut usize) -> String {
    if !md.contains("]:") {
        return md.to_string();
    }
    let labels: std::collections::HashSet<String> = LINK_DEFINITION_LABEL
        .captures_iter(md)
        .map(|c| c[1].to_lowercase())
        .collect();
    REFERENCE_LINK
        .replace_all(md, |caps: &regex::Captures| {
            let text = &caps[1];
            let label = caps.get(2).map_or("", |m| m.as_str());
            let label = if label.is_empty() { text } else { label };
            let next = caps.get(3).map_or("", |m| m.as_str());
            let inline_link = md[caps.get(0).map_or(0, |m| m.end())..].starts_with('(');
            if labels.contains(&label.to_lowercase()) && next != ":" && !inline_link {
                *count += 1;
                format!("{text}{next}")
            } else {
                caps[0].to_string()
            }
        })
        .into_owned()
}

static LINK_DEFINITION_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^[ \t]{0,3}\[([^\]\n]+)\]:").unwrap());
/// `[text][label]`, `[text][]` or `[text]`, and the character after it (to skip definitions).
static REFERENCE_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]\n]+)\](?:\[([^\]\n]*)\])?(:?)").unwrap());

static LIQUID_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{%-?\s*(?:raw|endraw|include[^%]*|comment|endcomment|assign[^%]*)\s*-?%\}")
        .unwrap()
});
static INLINE_CODE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"`([^`\n]+)`").unwrap());

/// Markdown with inline HTML: tags removed without touching markdown's own newlines (html2text
/// would fold them), `<br>` and block tags become line breaks, entities decoded.
fn strip_tags_keep_newlines(md: &str) -> String {
    let text = if md.contains('<') {
        HTML_TAG
            .replace_all(md, |caps: &regex::Captures| {
                let tag = caps[0].to_ascii_lowercase();
                if tag.starts_with("<br") || BLOCK_TAG.is_match(&tag) {
                    "\n"
                } else {
                    ""
                }
            })
            .into_owned()
    } else {
        md.to_string()
    };
    if text.contains('&') {
        decode_entities(&text)
    } else {
        text
    }
}

/// A timestamp at the start of a line: `[00:12:05] `, `(0:25) `, `00:12 - `.
static LINE_TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t]*(?:[\[(]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[ \t]+(?:-[ \t]+)?)[ \t]*").unwrap()
});

/// Strips leading timestamps from a transcript line; returns the rest and how many were removed.
pub fn strip_line_timestamp(line: &str) -> (&str, usize) {
    let mut rest = line;
    let mut n = 0;
    while let Some(m) = LINE_TIMESTAMP.find(rest) {
        if m.end() == 0 {
            break;
        }
        rest = &rest[m.end()..];
        n += 1;
    }
    (rest, n)
}

/// Removes [`TRANSCRIPT_ARTEFACT`] matches (label lines, timestamps, cue timings).
pub fn remove_transcript_artefacts(text: &str) -> (String, usize) {
    let mut n = 0;
    let out = TRANSCRIPT_ARTEFACT.replace_all(text, |_: &regex::Captures| {
        n += 1;
        ""
    });
    (out.into_owned(), n)
}

/// Non-speech annotations in transcripts: `[laughter]`, `(inaudible 00:12)`, `[crosstalk]`.
pub static TRANSCRIPT_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[ \t]*[\[(](?:inaudible|unintelligible|indiscernible|crosstalk|cross talk|laughter|laughs|laughing|chuckles|applause|music|silence|pause|coughs?|sighs|background noise|overlapping|overlapping speech|no audio|audio cuts out|phone rings|beep)(?:[ \t]+[\d:.,]+)?[\])]").unwrap()
});

/// Removes [`TRANSCRIPT_NOISE`] annotations; returns the text and how many were removed.
pub fn remove_transcript_noise(text: &str) -> (String, usize) {
    if !text.contains(['[', '(']) {
        return (text.to_string(), 0);
    }
    let mut n = 0;
    let out = TRANSCRIPT_NOISE.replace_all(text, |_: &regex::Captures| {
        n += 1;
        ""
    });
    (out.into_owned(), n)
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
