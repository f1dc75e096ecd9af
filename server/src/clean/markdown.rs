//! Markdown to text: inline and reference links to their anchor text, images, link
//! definitions and autolinks removed, code blocks and Liquid tags dropped, inline HTML stripped.

use super::html::{decode_entities, BLOCK_TAG, HTML_ENTITY, HTML_TAG};
use super::text::BARE_URL;
use regex::Regex;
use std::sync::LazyLock;

/// A markdown link `[text](url "title")` or image `![alt](url)`; group 1 is `!` for images,
/// group 2 the anchor text, group 3 the destination.
pub static MARKDOWN_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(!?)\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)"#)
        .unwrap()
});

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

/// `[id]: https://...` lines (reference-style link definitions).
pub static LINK_DEFINITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?\S+>?(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$"#).unwrap()
});

/// `<https://example.com>` autolinks.
pub static AUTOLINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<(?:https?|ftp|mailto):[^\s<>]+>").unwrap());

/// Fenced (```/~~~) and indented code blocks, Jekyll `{% highlight %}` blocks, and inline code
/// spans holding markup or URLs; other inline code keeps its text and backticks.
pub(super) fn remove_markdown_code(md: &str, count: &mut usize) -> String {
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

/// Hard-wrapped paragraphs unwrapped: a soft line break inside a paragraph (with the next
/// line's indentation or block-quote marker) becomes one space, as markdown renders it; a hard
/// break (two trailing spaces or a backslash) becomes a plain line break. Paragraph breaks,
/// lists, headings, block quotes, tables and code are left as written. Returns the text and how
/// many soft breaks were joined.
pub(super) fn unwrap_soft_breaks(md: &str) -> (String, usize) {
    use pulldown_cmark::{Event, Options, Parser};
    if !md.contains('\n') {
        return (md.to_string(), 0);
    }
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events: Vec<_> = Parser::new_ext(md, options).into_offset_iter().collect();
    let mut edits: Vec<(std::ops::Range<usize>, &str)> = Vec::new();
    for (i, (event, range)) in events.iter().enumerate() {
        let replacement = match event {
            Event::SoftBreak => " ",
            Event::HardBreak => "\n",
            _ => continue,
        };
        // From the blanks that end the line to the start of the next line's text, so the
        // indentation and `>` markers of the wrapped line go too.
        let start = md[..range.start].trim_end_matches([' ', '\t']).len();
        let next = events.get(i + 1).map_or(range.end, |(_, r)| r.start);
        let end = if next >= range.end
            && md[range.end..next]
                .bytes()
                .all(|b| matches!(b, b' ' | b'\t' | b'>'))
        {
            next
        } else {
            range.end
        };
        let replacement = if replacement == "\n" {
            // A hard break keeps the next line's prefix (a block quote stays a block quote).
            edits.push((start..range.end, "\n"));
            continue;
        } else {
            replacement
        };
        edits.push((start..end, replacement));
    }
    let joined = edits.iter().filter(|(_, r)| *r == " ").count();
    let mut out = String::with_capacity(md.len());
    let mut at = 0;
    for (range, replacement) in edits {
        if range.start < at {
            continue;
        }
        out.push_str(&md[at..range.start]);
        out.push_str(replacement);
        at = range.end;
    }
    out.push_str(&md[at..]);
    (out, joined)
}

/// `[text][id]`, `[text][]` and `[text]` (with a `[text]: url` definition) become their text;
/// the definitions themselves are removed later with the other links.
pub(super) fn reference_links_to_text(md: &str, count: &mut usize) -> String {
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
pub(super) fn strip_tags_keep_newlines(md: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_breaks_become_spaces() {
        let md = "A paragraph wrapped\nat eighty columns\n  with an indent.\n\n# A heading\n\n- one item\n  wrapped\n- two\n\n> quoted and\n> wrapped\n\nHard  \nbreak and\\\nanother.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
        let (out, joined) = unwrap_soft_breaks(md);
        assert_eq!(
            out,
            "A paragraph wrapped at eighty columns with an indent.\n\n# A heading\n\n- one item wrapped\n- two\n\n> quoted and wrapped\n\nHard\nbreak and\nanother.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
        );
        assert_eq!(joined, 4);
    }

    #[test]
    fn markdown_links_and_images() {
        assert_eq!(
            markdown_links_to_text("See [the docs](https://d.io \"t\") ![chart](a.png) ok"),
            "See the docs  ok"
        );
    }
}
