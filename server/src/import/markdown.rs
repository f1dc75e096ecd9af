//! Markdown posts (Jekyll, Hugo, Eleventy, Astro...): front matter for title, date, author,
//! draft/published/status, tags, categories and slug; the body as markdown.
//!
//! YAML front matter is read with a small parser for the flat keys posts use (scalars, quoted
//! strings, `[a, b]` lists, `- item` lists, block scalars); TOML (`+++`) goes through the toml
//! crate. A Jekyll file name `2017-02-26-slug.md` gives the date and slug when the front matter
//! doesn't, and files under a `_drafts` folder are drafts.

use super::filters::parse_date;
use super::post::{read_utf8, BodyFormat, Post, SourceError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A front matter value: text or a list of texts.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    List(Vec<String>),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::List(items) => items.join(", "),
        }
    }

    /// Jekyll allows `categories: linux shell` (space-separated) as well as lists.
    fn terms(&self) -> Vec<String> {
        match self {
            Value::List(items) => items
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Value::Text(s) if s.contains(',') => s
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
            Value::Text(s) => s.split_whitespace().map(String::from).collect(),
        }
    }
}

/// A markdown file split into front matter and body.
pub struct Document {
    pub front: BTreeMap<String, Value>,
    pub body: String,
    /// 1-based line where the body starts.
    pub body_line: usize,
}

/// Splits `text` into front matter and body. An opening `---`/`+++` without its closing line is
/// an error (the whole post would otherwise be read as front matter or leak YAML into the body).
pub fn split_front_matter(path: &Path, text: &str) -> Result<Document, SourceError> {
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or("").trim_end();
    let (fence, toml) = match first {
        "---" => ("---", false),
        "+++" => ("+++", true),
        _ => {
            return Ok(Document {
                front: BTreeMap::new(),
                body: text.to_string(),
                body_line: 1,
            });
        }
    };
    let mut offset = text.find('\n').map_or(text.len(), |i| i + 1);
    let start = offset;
    let mut line_no = 2;
    loop {
        if offset >= text.len() {
            let message = format!("front matter opened with {fence} on line 1 is never closed; add a {fence} line after it");
            return Err(SourceError::new(path, Some(1), message));
        }
        let end = text[offset..]
            .find('\n')
            .map_or(text.len(), |i| offset + i + 1);
        let line = text[offset..end].trim_end();
        if line == fence || (!toml && line == "...") {
            let front_text = &text[start..offset];
            let front = if toml {
                parse_toml(path, front_text)?
            } else {
                parse_yaml(path, front_text)?
            };
            return Ok(Document {
                front,
                body: text[end..].to_string(),
                body_line: line_no + 1,
            });
        }
        offset = end;
        line_no += 1;
    }
}

fn parse_toml(path: &Path, text: &str) -> Result<BTreeMap<String, Value>, SourceError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        // toml's span is relative to the front matter, which starts on line 2.
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 2);
        SourceError::new(
            path,
            line,
            format!("bad TOML front matter: {}", e.message()),
        )
    })?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let value = match value {
            toml::Value::String(s) => Value::Text(s),
            toml::Value::Array(items) => Value::List(
                items
                    .into_iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
            ),
            toml::Value::Table(_) => continue,
            other => Value::Text(other.to_string()),
        };
        out.insert(key.to_lowercase(), value);
    }
    Ok(out)
}

/// The YAML subset post front matter uses. Nested maps are skipped.
fn parse_yaml(path: &Path, text: &str) -> Result<BTreeMap<String, Value>, SourceError> {
    let mut out = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let line_no = i + 2;
        i += 1;
        if line.trim().is_empty()
            || line.trim_start().starts_with('#')
            || line.starts_with([' ', '\t', '-'])
        {
            continue;
        }
        let Some((key, rest)) = line.split_once(':') else {
            let message = format!("front matter line {:?} is not `key: value`", line.trim());
            return Err(SourceError::new(path, Some(line_no), message));
        };
        let key = key.trim().to_lowercase();
        let rest = strip_comment(rest.trim());
        let value = if rest.is_empty() {
            // A `- item` list (or a nested map, which posts don't need) on the following lines.
            let mut items = Vec::new();
            while i < lines.len()
                && (lines[i].starts_with([' ', '\t', '-']) || lines[i].trim().is_empty())
            {
                if let Some(item) = lines[i].trim().strip_prefix('-') {
                    items.push(unquote(item.trim()));
                }
                i += 1;
            }
            Value::List(items)
        } else if rest.starts_with('|') || rest.starts_with('>') {
            let folded = rest.starts_with('>');
            let mut parts = Vec::new();
            while i < lines.len()
                && (lines[i].starts_with([' ', '\t']) || lines[i].trim().is_empty())
            {
                parts.push(lines[i].trim());
                i += 1;
            }
            Value::Text(
                parts
                    .join(if folded { " " } else { "\n" })
                    .trim()
                    .to_string(),
            )
        } else if let Some(inner) = rest.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                let message = format!("the list for {key:?} is not closed with ]");
                return Err(SourceError::new(path, Some(line_no), message));
            };
            Value::List(
                split_flow(inner)
                    .into_iter()
                    .map(|s| unquote(&s))
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        } else {
            Value::Text(unquote(rest))
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// Drops a trailing ` # comment` outside quotes.
fn strip_comment(text: &str) -> &str {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('#', None) if i > 0 && text[..i].ends_with([' ', '\t']) => {
                return text[..i].trim_end()
            }
            _ => {}
        }
    }
    text
}

/// Splits `a, "b, c", d` on commas outside quotes.
fn split_flow(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote) = (Vec::new(), String::new(), None);
    for c in text.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                cur.push(c);
            }
            (q, Some(open)) if q == open => {
                quote = None;
                cur.push(c);
            }
            (',', None) => out.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        t[1..t.len() - 1].replace("''", "'")
    } else {
        t.to_string()
    }
}

/// The markdown post files under `path` (or `path` itself), sorted for a stable output order.
pub fn list_files(path: &Path, extensions: &[&str]) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads one markdown post.
pub fn read_post(path: &Path) -> Result<Post, SourceError> {
    let text = read_utf8(path, "file")?;
    let doc = split_front_matter(path, &text)?;
    Ok(post_from_document(path, doc))
}

/// Builds a post from a parsed document and its path (date and slug from a Jekyll file name).
pub fn post_from_document(path: &Path, doc: Document) -> Post {
    let front = &doc.front;
    let get = |key: &str| {
        front
            .get(key)
            .map(Value::text)
            .filter(|s| !s.trim().is_empty())
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (file_date, file_slug) = match parse_date(stem.get(..10).unwrap_or("")) {
        Some(d) if stem.as_bytes().get(10) == Some(&b'-') => (Some(d), stem[11..].to_string()),
        Some(d) => (Some(d), String::new()),
        None => (None, stem.clone()),
    };
    let mut post = Post::new(BodyFormat::Markdown);
    post.line = 1;
    post.date = get("date").and_then(|d| parse_date(&d)).or(file_date);
    post.slug = get("slug").unwrap_or(file_slug);
    post.author = get("author");
    post.tags = front.get("tags").map(Value::terms).unwrap_or_default();
    post.categories = front
        .get("categories")
        .or_else(|| front.get("category"))
        .map(Value::terms)
        .unwrap_or_default();
    let is_true = |key: &str| get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let is_false = |key: &str| get(key).is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
    let in_drafts = path.components().any(|c| c.as_os_str() == "_drafts");
    post.status = Some(if let Some(status) = get("status") {
        status.trim().to_lowercase()
    } else if is_true("draft") || is_false("published") || in_drafts {
        "draft".into()
    } else {
        "publish".into()
    });
    post.post_type = get("type").map(|t| t.trim().to_lowercase());

    // The title from front matter, else the first `# heading`, else the file name; a leading
    // heading that repeats the title is dropped (the title goes in the prompt).
    let mut body = doc.body.as_str();
    let first_heading = body
        .lines()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| l.trim().strip_prefix("# "))
        .map(|h| h.trim().to_string());
    post.title = get("title")
        .map(|t| t.trim().to_string())
        .or_else(|| first_heading.clone())
        .unwrap_or_else(|| {
            if post.slug.is_empty() {
                stem.clone()
            } else {
                post.slug.replace('-', " ")
            }
        });
    if let Some(h) = &first_heading {
        if h.eq_ignore_ascii_case(&post.title) {
            let start = body.find("# ").unwrap_or(0);
            body = body[start..].split_once('\n').map_or("", |(_, rest)| rest);
        }
    }
    post.body = body.to_string();
    post
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_front_matter() {
        let text = "---\ntitle: \"A: b\" # note\ndate: 2017-02-26 00:18:43 +0100\ncategories: linux shell\ntags: [a, \"b, c\"]\nredirect_from:\n  - /post/x\n  - /post/y\ndraft: true\n---\n# A: b\n\nBody.\n";
        let doc = split_front_matter(Path::new("x.md"), text).unwrap();
        assert_eq!(doc.front["title"], Value::Text("A: b".into()));
        assert_eq!(
            doc.front["tags"],
            Value::List(vec!["a".into(), "b, c".into()])
        );
        assert_eq!(
            doc.front["redirect_from"],
            Value::List(vec!["/post/x".into(), "/post/y".into()])
        );
        assert_eq!(doc.body_line, 11);
        let post = post_from_document(Path::new("2017-02-26-a-b.md"), doc);
        assert_eq!(post.title, "A: b");
        assert_eq!(post.slug, "a-b");
        assert_eq!(post.categories, ["linux", "shell"]);
        assert_eq!(post.status.as_deref(), Some("draft"));
        assert_eq!(post.body.trim(), "Body.");
    }

    #[test]
    fn unclosed_front_matter_is_an_error() {
        let err = split_front_matter(Path::new("x.md"), "---\ntitle: x\n\nbody\n")
            .err()
            .unwrap();
        assert_eq!(err.line, Some(1));
        assert!(err.message.contains("never closed"));
    }

    #[test]
    fn toml_front_matter() {
        let doc = split_front_matter(
            Path::new("x.md"),
            "+++\ntitle = \"T\"\ntags = [\"a\"]\ndraft = false\n+++\nHi\n",
        )
        .unwrap();
        let post = post_from_document(Path::new("x.md"), doc);
        assert_eq!(
            (post.title.as_str(), post.status.as_deref()),
            ("T", Some("publish"))
        );
        assert_eq!(post.tags, ["a"]);
    }
}
