//! The held-out examples a bake-off runs on, and the author's training texts it checks copying
//! against. JSONL in any of the shapes the trainer takes: chat (`messages`), `prompt` +
//! `completion`, or `text`.

use crate::model::tokenizer::{Message, TrainingLine};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// One held-out example: what every voice is asked, and what the author really wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HeldOut {
    /// 1-based line in the held-out file.
    pub line: usize,
    /// Everything before the last assistant turn.
    pub prompt: Vec<Message>,
    /// The last assistant turn: the author's own text.
    pub reference: String,
}

impl HeldOut {
    /// The last user message (what the report shows as the prompt).
    pub fn question(&self) -> &str {
        self.prompt
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map_or("", |m| m.content.as_str())
    }
}

/// Words of a `text` line that become its prompt (the rest is the reference).
const TEXT_PROMPT_WORDS: usize = 30;

/// Splits one JSONL line into prompt and reference; the error says what the line lacks.
pub fn parse_line(line: &str) -> std::result::Result<(Vec<Message>, String), String> {
    let parsed: TrainingLine =
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    if let Some(messages) = parsed.messages {
        let last = messages
            .iter()
            .rposition(|m| m.role == "assistant")
            .ok_or("no assistant message: the author's text is the last assistant turn")?;
        return Ok((messages[..last].to_vec(), messages[last].content.clone()));
    }
    if let (Some(p), Some(c)) = (parsed.prompt, parsed.completion) {
        return Ok((vec![Message::new("user", &p)], c));
    }
    if let Some(text) = parsed.text {
        // A plain text: its opening words are the prompt to continue.
        let cut = text
            .split_whitespace()
            .take(TEXT_PROMPT_WORDS)
            .last()
            .map(|w| w.as_ptr() as usize - text.as_ptr() as usize + w.len())
            .unwrap_or(0);
        let (head, rest) = text.split_at(cut);
        return Ok((
            vec![Message::new(
                "user",
                &format!("Continue this text:\n\n{head}"),
            )],
            rest.trim_start().to_string(),
        ));
    }
    Err("expected `messages`, `prompt` + `completion`, or `text`".into())
}

/// Reads the held-out file: the first `limit` examples (all when None). Bad lines are errors
/// naming the file and line.
pub fn load_heldout(path: &Path, limit: Option<usize>) -> Result<Vec<HeldOut>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the held-out file", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let (prompt, reference) = parse_line(line).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: {e} (fix the line, or run `voicetune lint` on the file)",
                path.display(),
                n + 1
            )
        })?;
        out.push(HeldOut {
            line: n + 1,
            prompt,
            reference,
        });
    }
    if out.is_empty() {
        bail!(
            "{}: no held-out examples (one JSON object per line)",
            path.display()
        );
    }
    Ok(out)
}

/// The author's texts of a training file (each line's last assistant turn, completion or
/// text), for the copying and template checks.
pub fn load_author_texts(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the training file", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let parsed: TrainingLine = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: invalid JSON: {e}", path.display(), n + 1))?;
            Ok(match parsed {
                TrainingLine {
                    messages: Some(m), ..
                } => m
                    .into_iter()
                    .filter(|m| m.role == "assistant")
                    .map(|m| m.content)
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                TrainingLine {
                    completion: Some(c),
                    ..
                } => c,
                TrainingLine { text: Some(t), .. } => t,
                _ => String::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_lines_split_before_the_last_assistant_turn() {
        let line = r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"},{"role":"assistant","content":"a2"}]}"#;
        let (prompt, reference) = parse_line(line).unwrap();
        assert_eq!(prompt.len(), 4);
        assert_eq!(reference, "a2");
        let (prompt, reference) = parse_line(r#"{"prompt":"p","completion":"c"}"#).unwrap();
        assert_eq!((prompt[0].content.as_str(), reference.as_str()), ("p", "c"));
        let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        let line = serde_json::json!({ "text": words.join(" ") }).to_string();
        let (prompt, reference) = parse_line(&line).unwrap();
        assert!(prompt[0].content.ends_with("w29"), "{prompt:?}");
        assert!(reference.starts_with("w30"), "{reference}");
        assert!(
            parse_line(r#"{"messages":[{"role":"user","content":"q"}]}"#)
                .unwrap_err()
                .contains("no assistant")
        );
    }
}
