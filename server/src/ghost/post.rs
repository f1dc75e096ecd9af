//! What is done to the model's text before the editor sees it: it ends at a sentence or line
//! end, loses HTML and URLs (blog exports are full of them, and a suggestion must not invent
//! links), and is dropped when it only repeats what is already written.

use regex::Regex;
use std::sync::LazyLock;

/// Where the suggestion should end in `text` (the model's output so far), if it already holds a
/// whole sentence or line: the byte length to keep. A line break ends it once some text came
/// before it (a suggestion may start a new line, but does not run on into the next one).
pub fn natural_end(text: &str) -> Option<usize> {
    let mut seen_text = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            if seen_text {
                return Some(i);
            }
            continue;
        }
        if !c.is_whitespace() {
            seen_text = true;
        }
        if matches!(c, '.' | '!' | '?' | '…') {
            let mut end = i + c.len_utf8();
            while let Some(&(j, closer)) = chars.peek() {
                if matches!(closer, '"' | '\'' | ')' | ']' | '”' | '’' | '*' | '_') {
                    end = j + closer.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            // Only a space after it proves the sentence ended ("3.5", "e.g.x" do not).
            if chars.peek().is_some_and(|&(_, next)| next.is_whitespace()) {
                return Some(end);
            }
        }
    }
    None
}

static HTML_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>").expect("valid"));
static MARKDOWN_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"!?\[([^\]\n]*)\]\([^)\s]*\)").expect("valid"));
static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:https?://|www\.)[^\s<>()\[\]]*").expect("valid"));

/// Counts of what [`strip_markup`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stripped {
    pub html_tags: usize,
    pub urls: usize,
}

/// `text` without HTML tags and URLs (a markdown link keeps its text).
pub fn strip_markup(text: &str) -> (String, Stripped) {
    let mut counts = Stripped::default();
    let mut out = text.to_string();
    if out.contains('<') {
        counts.html_tags = HTML_TAG.find_iter(&out).count();
        out = HTML_TAG.replace_all(&out, "").into_owned();
    }
    if out.contains("](") {
        let links = MARKDOWN_LINK.find_iter(&out).count();
        counts.urls += links;
        out = MARKDOWN_LINK.replace_all(&out, "$1").into_owned();
    }
    if out.contains("://") || out.contains("www.") {
        counts.urls += URL.find_iter(&out).count();
        out = URL.replace_all(&out, "").into_owned();
    }
    if counts != Stripped::default() {
        // Removed pieces leave doubled spaces behind.
        while out.contains("  ") {
            out = out.replace("  ", " ");
        }
    }
    (out, counts)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// True when `suggestion` adds nothing: no words, or three or more words that already appear,
/// in this order, in the last part of `before`.
pub fn only_repeats(before: &str, suggestion: &str) -> bool {
    let new = words(suggestion);
    if new.is_empty() {
        return suggestion.trim().is_empty();
    }
    if new.len() < 3 {
        return false;
    }
    let mut tail_start = before.len().saturating_sub(4000);
    while !before.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let old = words(&before[tail_start..]);
    old.windows(new.len()).any(|w| w == new.as_slice())
}

/// The final suggestion from the model's `raw` text: cut at its natural end, markup removed,
/// at most one space where the cursor already follows one; None when nothing useful is left.
pub fn finish(before: &str, raw: &str) -> (Option<String>, Stripped) {
    let raw = raw.trim_end_matches('\u{FFFD}');
    let cut = natural_end(raw).map_or(raw, |end| &raw[..end]);
    let (mut text, stripped) = strip_markup(cut);
    if before.ends_with([' ', '\t']) {
        text = text.trim_start_matches([' ', '\t']).to_string();
    }
    if before.is_empty() || before.ends_with('\n') {
        text = text.trim_start_matches('\n').to_string();
    }
    let text = text.trim_end().to_string();
    if text.trim().is_empty() || only_repeats(before, &text) {
        return (None, stripped);
    }
    (Some(text), stripped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_at_sentence_or_line() {
        assert_eq!(natural_end(" it works. Then"), Some(10));
        assert_eq!(natural_end(" version 3.5 is out"), None);
        assert_eq!(natural_end(" he said \"no.\" Then"), Some(14));
        assert_eq!(natural_end(" a list\n- item"), Some(7));
        // A suggestion may begin with a line break.
        assert_eq!(natural_end("\n\nNext para\nmore"), Some(11));
        assert_eq!(natural_end(" unfinished"), None);
    }

    #[test]
    fn strips_html_and_urls_and_counts_them() {
        let (t, n) = strip_markup(
            "see <a href=\"x\">this</a> at https://x.org/a and [docs](http://d.io) <br/>now",
        );
        assert_eq!(t, "see this at and docs now");
        assert_eq!(
            n,
            Stripped {
                html_tags: 3,
                urls: 2
            }
        );
        let (t, n) = strip_markup("1 < 2 and a > b, no tags");
        assert_eq!(
            (t.as_str(), n),
            ("1 < 2 and a > b, no tags", Stripped::default())
        );
    }

    #[test]
    fn drops_pure_repeats() {
        let before = "I keep a notebook. It helps me think. ";
        assert!(only_repeats(before, "It helps me think."));
        assert!(!only_repeats(before, "It helps me sleep."));
        assert!(!only_repeats(before, "a notebook"));
        assert!(only_repeats(before, "  "));
        assert!(!only_repeats(before, "."), "closing a sentence is useful");
    }

    #[test]
    fn finish_cuts_cleans_and_trims() {
        let before = "I keep a notebook. ";
        assert_eq!(
            finish(before, " It helps me <b>think</b>. And then")
                .0
                .as_deref(),
            Some("It helps me think.")
        );
        assert_eq!(finish(before, " I keep a notebook. Yes").0, None);
        assert_eq!(
            finish("Done.\n", "\nNew paragraph here").0.as_deref(),
            Some("New paragraph here")
        );
        assert_eq!(
            finish("word", " 🎉 and 日本").0.as_deref(),
            Some(" 🎉 and 日本")
        );
    }
}
