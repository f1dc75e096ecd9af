//! What the voice is asked: the conversation the document stands for, and the assistant text
//! written so far (the text before the cursor). Markdown drafts become the training shape
//! (system prompt, user template filled with the title, the body as the assistant turn); in
//! JSONL only an assistant message's content is continued, with the conversation before it.

use crate::dataset::prompt_shape::PromptShape;
use crate::model::tokenizer::Message;

use super::DocKind;

/// The request's text as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptParts {
    /// The turns before the one being written (system, user...).
    pub messages: Vec<Message>,
    /// The assistant text before the cursor (plain text, JSON already decoded).
    pub before: String,
    /// The inserted text must be JSON-escaped (the cursor is inside a JSON string).
    pub json_string: bool,
}

/// The prompt of `text` with the cursor at byte `cursor`, or None where ghostwriting does not
/// apply (front matter, a code block, outside an assistant message in JSONL, mid-escape).
pub fn build(text: &str, kind: DocKind, cursor: usize, shape: &PromptShape) -> Option<PromptParts> {
    let cursor = floor_char_boundary(text, cursor.min(text.len()));
    match kind {
        DocKind::Markdown => markdown(text, cursor, shape),
        DocKind::Jsonl => {
            let start = text[..cursor].rfind('\n').map_or(0, |i| i + 1);
            let end = text[cursor..].find('\n').map_or(text.len(), |i| cursor + i);
            jsonl_line(&text[start..end], cursor - start)
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The document's title: the front matter's `title`, else the first heading's text.
pub fn title(text: &str) -> Option<String> {
    let doc = crate::dataset::markdown::parse(text);
    if let Some(t) = doc.title().map(str::trim).filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let mut fenced = false;
    for line in text[doc.body].lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        if fenced {
            continue;
        }
        let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with([' ', '\t']) {
            let heading = trimmed[hashes..].trim().trim_end_matches('#').trim();
            if !heading.is_empty() {
                return Some(heading.to_string());
            }
        }
    }
    None
}

fn markdown(text: &str, cursor: usize, shape: &PromptShape) -> Option<PromptParts> {
    let doc = crate::dataset::markdown::parse(text);
    if cursor < doc.body.start {
        return None;
    }
    let before = &text[doc.body.start..cursor];
    let fences = before
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("```") || l.starts_with("~~~")
        })
        .count();
    if fences % 2 == 1 {
        return None;
    }
    let title = title(text).unwrap_or_else(|| "Untitled".to_string());
    let mut messages = Vec::with_capacity(2);
    if !shape.system.trim().is_empty() {
        messages.push(Message::new("system", &shape.system));
    }
    messages.push(Message::new("user", &shape.user_prompt(&title)));
    Some(PromptParts {
        messages,
        before: before.to_string(),
        json_string: false,
    })
}

/// A JSON string in the line: its raw (still escaped) byte span between the quotes (to the end
/// of the line when it is not closed yet).
#[derive(Debug, Clone, Default)]
struct Field {
    raw: std::ops::Range<usize>,
}

#[derive(Debug, Default)]
struct MessageFields {
    role: Option<String>,
    content: Option<Field>,
}

/// One JSONL line with the cursor at byte `cursor` of it. The line may be unfinished (the user is
/// typing it), so it is scanned leniently rather than parsed.
fn jsonl_line(line: &str, cursor: usize) -> Option<PromptParts> {
    #[derive(Debug)]
    struct Frame {
        object: bool,
        key: Option<String>,
        expect_key: bool,
        index: usize,
    }
    let bytes = line.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut messages: Vec<MessageFields> = Vec::new();
    let mut top: Vec<(String, Field)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => stack.push(Frame {
                object: bytes[i] == b'{',
                key: None,
                expect_key: bytes[i] == b'{',
                index: 0,
            }),
            b'}' | b']' => {
                stack.pop();
            }
            b':' => {
                if let Some(f) = stack.last_mut() {
                    f.expect_key = false;
                }
            }
            b',' => {
                if let Some(f) = stack.last_mut() {
                    if f.object {
                        f.expect_key = true;
                        f.key = None;
                    } else {
                        f.index += 1;
                    }
                }
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                let end = j.min(bytes.len());
                let field = Field { raw: start..end };
                let is_key = matches!(stack.last(), Some(f) if f.object && f.expect_key);
                if let (true, Some(f)) = (is_key, stack.last_mut()) {
                    f.key = decode(&line[start..end]);
                } else {
                    record_value(&stack_view(&stack), field, line, &mut messages, &mut top);
                }
                i = end;
            }
            _ => {}
        }
        i += 1;
    }

    fn stack_view(stack: &[Frame]) -> Vec<(bool, Option<&str>, usize)> {
        stack
            .iter()
            .map(|f| (f.object, f.key.as_deref(), f.index))
            .collect()
    }
    fn record_value(
        path: &[(bool, Option<&str>, usize)],
        field: Field,
        line: &str,
        messages: &mut Vec<MessageFields>,
        top: &mut Vec<(String, Field)>,
    ) {
        match path {
            [(true, Some(key), _)] => top.push((key.to_string(), field)),
            [(true, Some("messages"), _), (false, _, index), (true, Some(key), _)] => {
                if messages.len() <= *index {
                    messages.resize_with(index + 1, MessageFields::default);
                }
                let m = &mut messages[*index];
                match *key {
                    "role" => m.role = decode(&line[field.raw.clone()]),
                    "content" => m.content = Some(field),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    let inside = |f: &Field| f.raw.start <= cursor && cursor <= f.raw.end;
    let partial = |f: &Field| decode(&line[f.raw.start..cursor]);
    for (n, m) in messages.iter().enumerate() {
        let Some(content) = m.content.as_ref().filter(|c| inside(c)) else {
            continue;
        };
        if m.role.as_deref() != Some("assistant") {
            return None;
        }
        let earlier = messages[..n]
            .iter()
            .filter_map(|m| {
                let content = decode(&line[m.content.as_ref()?.raw.clone()])?;
                Some(Message::new(m.role.as_deref()?, &content))
            })
            .collect();
        return Some(PromptParts {
            messages: earlier,
            before: partial(content)?,
            json_string: true,
        });
    }
    // The legacy shape: the completion continues the prompt.
    let completion = top.iter().find(|(k, f)| k == "completion" && inside(f))?;
    let prompt = top.iter().find(|(k, _)| k == "prompt")?;
    Some(PromptParts {
        messages: vec![Message::new("user", &decode(&line[prompt.1.raw.clone()])?)],
        before: partial(&completion.1)?,
        json_string: true,
    })
}

/// The text of a JSON string's raw content; None when it is cut inside an escape.
fn decode(raw: &str) -> Option<String> {
    if !raw.contains('\\') {
        return Some(raw.to_string());
    }
    serde_json::from_str(&format!("\"{raw}\"")).ok()
}

/// `text` escaped for insertion inside a JSON string (without the quotes).
pub fn escape_json_fragment(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("strings serialize");
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> PromptShape {
        PromptShape {
            system: "Sys".into(),
            user_template: "Write a blog post titled: {title}".into(),
        }
    }

    #[test]
    fn titles_from_front_matter_or_first_heading() {
        assert_eq!(
            title("---\ntitle: \"Tmux\"\n---\n# Other\n").as_deref(),
            Some("Tmux")
        );
        assert_eq!(
            title("Intro\n\n## Why I write ##\ntext").as_deref(),
            Some("Why I write")
        );
        assert_eq!(title("```\n# not a heading\n```\n#nospace\n"), None);
    }

    #[test]
    fn markdown_prompt_is_the_training_shape_and_stops_at_the_cursor() {
        let text = "---\ntitle: Notebooks\n---\nI keep a notebook because it helps. After";
        let cursor = text.find(" After").unwrap();
        let p = build(text, DocKind::Markdown, cursor, &shape()).unwrap();
        assert_eq!(
            p.messages,
            vec![
                Message::new("system", "Sys"),
                Message::new("user", "Write a blog post titled: Notebooks")
            ]
        );
        assert_eq!(p.before, "I keep a notebook because it helps.");
        assert!(!p.json_string);
        // In the front matter or a code block: nothing.
        assert_eq!(build(text, DocKind::Markdown, 5, &shape()), None);
        let code = "# T\n```rust\nfn main";
        assert_eq!(build(code, DocKind::Markdown, code.len(), &shape()), None);
    }

    #[test]
    fn cursor_offsets_in_multibyte_text() {
        // Emoji (4 bytes), CJK (3 bytes): an offset inside a character rounds down.
        let text = "# 日本語 🎉\n私は🎉書く";
        let p = build(text, DocKind::Markdown, text.len() - 1, &shape()).unwrap();
        assert_eq!(p.before, "# 日本語 🎉\n私は🎉書");
        assert_eq!(p.messages[1].content, "Write a blog post titled: 日本語 🎉");
        let p = build(text, DocKind::Markdown, usize::MAX, &shape()).unwrap();
        assert!(p.before.ends_with("書く"));
    }

    #[test]
    fn jsonl_only_inside_assistant_content() {
        let line = r#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Say \"hi\""},{"role":"assistant","content":"Well, \"hi\" 🎉 and"}]}"#;
        let doc = format!("{{\"text\":\"x\"}}\n{line}\n");
        let cursor = doc.find(" and\"").unwrap() + 4;
        let p = build(&doc, DocKind::Jsonl, cursor, &shape()).unwrap();
        assert_eq!(
            p.messages,
            vec![
                Message::new("system", "S"),
                Message::new("user", "Say \"hi\"")
            ]
        );
        assert_eq!(p.before, "Well, \"hi\" 🎉 and");
        assert!(p.json_string);
        // In the user's content, a key, or mid-escape: nothing.
        let in_user = doc.find("Say").unwrap() + 2;
        assert_eq!(build(&doc, DocKind::Jsonl, in_user, &shape()), None);
        let in_key = doc.rfind("\"content\"").unwrap() + 3;
        assert_eq!(build(&doc, DocKind::Jsonl, in_key, &shape()), None);
        let mid_escape = doc.rfind("\\\"hi").unwrap() + 1;
        assert_eq!(build(&doc, DocKind::Jsonl, mid_escape, &shape()), None);
    }

    #[test]
    fn jsonl_unfinished_line_and_legacy_shape() {
        let typing = r#"{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello th"#;
        let p = build(typing, DocKind::Jsonl, typing.len(), &shape()).unwrap();
        assert_eq!(p.messages, vec![Message::new("user", "Hi")]);
        assert_eq!(p.before, "Hello th");
        let legacy = r#"{"prompt":"Title: X\n\n###\n\n","completion":" It was"}"#;
        let p = build(legacy, DocKind::Jsonl, legacy.len() - 2, &shape()).unwrap();
        assert_eq!(p.messages[0].content, "Title: X\n\n###\n\n");
        assert_eq!(p.before, " It was");
    }

    #[test]
    fn inserted_text_is_json_escaped() {
        let inserted = "say \"yes\"\nthen \\ 🎉\t";
        let escaped = escape_json_fragment(inserted);
        assert_eq!(escaped, "say \\\"yes\\\"\\nthen \\\\ 🎉\\t");
        let line = format!("{{\"c\":\"{escaped}\"}}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["c"], inserted);
    }
}
