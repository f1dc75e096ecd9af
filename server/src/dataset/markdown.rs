//! A markdown draft as one training example: front matter (YAML `---` or TOML `+++`) gives the
//! title (the prompt), the body is the completion.

use std::collections::BTreeMap;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq)]
pub struct MarkdownDoc {
    /// Byte range of the front matter block including its fences, if any.
    pub front_matter: Option<Range<usize>>,
    /// Scalar front matter fields (`title`, `date`, `author`, `draft`...) with their value spans.
    pub fields: BTreeMap<String, (String, Range<usize>)>,
    /// List fields such as `tags` and `categories`.
    pub lists: BTreeMap<String, Vec<String>>,
    /// Byte range of the body.
    pub body: Range<usize>,
}

impl MarkdownDoc {
    pub fn title(&self) -> Option<&str> {
        self.fields.get("title").map(|(v, _)| v.as_str())
    }
}

/// Parses front matter fields leniently: a draft with odd front matter is still a draft.
pub fn parse(text: &str) -> MarkdownDoc {
    let content_start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let rest = &text[content_start..];
    for fence in ["---", "+++"] {
        let Some(after_open) = rest
            .strip_prefix(fence)
            .filter(|r| r.starts_with('\n') || r.starts_with("\r\n"))
        else {
            continue;
        };
        let block_start =
            content_start + fence.len() + (rest.len() - fence.len() - after_open.len());
        let open_len = text[block_start..].find('\n').map_or(0, |i| i + 1);
        let inner_start = block_start + open_len;
        // Find the closing fence on its own line.
        let mut offset = inner_start;
        for line in text[inner_start..].split_inclusive('\n') {
            if line.trim_end() == fence || (fence == "---" && line.trim_end() == "...") {
                let inner = &text[inner_start..offset];
                let end = offset + line.len();
                let (fields, lists) = if fence == "+++" {
                    parse_toml(inner, inner_start)
                } else {
                    parse_yaml_lite(inner, inner_start)
                };
                return MarkdownDoc {
                    front_matter: Some(content_start..end),
                    fields,
                    lists,
                    body: end..text.len(),
                };
            }
            offset += line.len();
        }
    }
    MarkdownDoc {
        front_matter: None,
        fields: BTreeMap::new(),
        lists: BTreeMap::new(),
        body: content_start..text.len(),
    }
}

type Fields = (
    BTreeMap<String, (String, Range<usize>)>,
    BTreeMap<String, Vec<String>>,
);

/// Top-level `key: value` pairs and `key: [a, b]` / `- item` lists; nested maps are ignored.
fn parse_yaml_lite(inner: &str, base: usize) -> Fields {
    let mut fields = BTreeMap::new();
    let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current_list: Option<String> = None;
    let mut offset = base;
    for line in inner.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let trimmed = line.trim_end();
        if let Some(item) = trimmed.trim_start().strip_prefix("- ") {
            if let (Some(key), true) = (&current_list, line.starts_with([' ', '-'])) {
                lists
                    .entry(key.clone())
                    .or_default()
                    .push(unquote(item.trim()).to_string());
            }
            continue;
        }
        if line.starts_with([' ', '\t', '#']) {
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let key = key.trim().to_string();
        let value_text = value.trim();
        current_list = None;
        if value_text.is_empty() {
            current_list = Some(key);
        } else if let Some(items) = value_text
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
        {
            let items = items
                .split(',')
                .map(|i| unquote(i.trim()).to_string())
                .filter(|i| !i.is_empty());
            lists.insert(key, items.collect());
        } else {
            let value_start = line_start + key.len() + 1 + (value.len() - value.trim_start().len());
            let unquoted = unquote(value_text);
            let unquoted_start = value_start + value_text.find(unquoted).unwrap_or(0);
            if key == "tags" || key == "categories" {
                lists.insert(
                    key.clone(),
                    value_text.split_whitespace().map(str::to_string).collect(),
                );
            }
            fields.insert(
                key,
                (
                    unquoted.to_string(),
                    unquoted_start..unquoted_start + unquoted.len(),
                ),
            );
        }
    }
    (fields, lists)
}

fn parse_toml(inner: &str, base: usize) -> Fields {
    let mut fields = BTreeMap::new();
    let mut lists = BTreeMap::new();
    let Ok(table) = inner.parse::<toml::Table>() else {
        return (fields, lists);
    };
    for (key, value) in table {
        match value {
            toml::Value::Array(items) => {
                let items = items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string));
                lists.insert(key, items.collect());
            }
            toml::Value::String(s) => {
                let span = inner
                    .find(&s)
                    .map_or(base..base, |i| base + i..base + i + s.len());
                fields.insert(key, (s, span));
            }
            other => {
                fields.insert(key, (other.to_string(), base..base));
            }
        }
    }
    (fields, lists)
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_front_matter() {
        let text = "---\nlayout: post\ntitle: \"Getting started with tmux\"\ndate: 2017-02-26 12:00\ncategories: linux tmux\ntags:\n  - a\n  - b\n---\nBody here.\n";
        let doc = parse(text);
        assert_eq!(doc.title(), Some("Getting started with tmux"));
        let (_, span) = &doc.fields["title"];
        assert_eq!(&text[span.clone()], "Getting started with tmux");
        assert_eq!(doc.lists["tags"], ["a", "b"]);
        assert_eq!(doc.lists["categories"], ["linux", "tmux"]);
        assert_eq!(&text[doc.body.clone()], "Body here.\n");
    }

    #[test]
    fn toml_front_matter_and_none() {
        let doc = parse("+++\ntitle = \"T\"\ntags = [\"x\"]\n+++\nB");
        assert_eq!(doc.title(), Some("T"));
        assert_eq!(doc.lists["tags"], ["x"]);
        let plain = parse("# Just a draft\n");
        assert!(plain.front_matter.is_none());
        assert_eq!(plain.body, 0..15);
    }
}
