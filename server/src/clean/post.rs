//! The post pipeline used by the dataset builder (and by lint fixes that clean a whole record):
//! each format's first steps, then the steps every format shares once it is text.

use super::html::{
    autop, decode_entities, html_to_text, remove_html_code, simple_paragraphs_to_text, HTML_ENTITY,
    HTML_TAG, IMG_TAG,
};
use super::markdown::{
    reference_links_to_text, remove_markdown_code, strip_tags_keep_newlines, unwrap_soft_breaks,
    AUTOLINK, LINK_DEFINITION, MARKDOWN_LINK,
};
use super::shortcodes::remove_shortcodes;
use super::text::{
    is_boilerplate_line, is_invisible, normalize_blank_lines, removal_range, url_spans,
};
use super::transcript::{remove_transcript_artefacts, remove_transcript_noise};

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
    /// Stage directions and non-speech markers: `(Applause.)`, `[inaudible]`, `[crosstalk]`.
    pub stage_directions: usize,
    /// Markdown: line breaks inside paragraphs (hard-wrapped source) joined into spaces.
    pub soft_breaks: usize,
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
        self.stage_directions += other.stage_directions;
        self.soft_breaks += other.soft_breaks;
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
            // After the code is gone, so that a Liquid `{% highlight %}` block, which CommonMark
            // reads as a paragraph, keeps its lines until it is removed.
            let (md, joined) = unwrap_soft_breaks(&md);
            stats.soft_breaks += joined;
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
    stats.stage_directions += noise;
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
