//! A file as records: JSONL lines (chat, prompt/completion, preference) and markdown documents
//! (front matter + body), each value with its byte span in the file.

pub mod columns;
pub mod convert;
pub mod json;
pub mod markdown;
pub mod prompt_shape;

use std::ops::Range;
use std::path::Path;

/// What kind of training file a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Jsonl,
    Markdown,
    /// A `.json` file holding an array of records (ShareGPT and Alpaca sets come this way).
    Json,
}

impl FileKind {
    pub fn from_path(path: &Path) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(FileKind::Jsonl),
            "md" | "markdown" | "mdx" => Some(FileKind::Markdown),
            "json" => Some(FileKind::Json),
            _ => None,
        }
    }

    /// Whether the file is linted line by line (JSONL), rather than as one document.
    pub fn is_line_based(self) -> bool {
        self == FileKind::Jsonl
    }
}

/// The record format of a JSONL line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `{"messages": [...]}` (OpenAI chat; optional `tools`, `parallel_tool_calls`, `functions`).
    Chat,
    /// Legacy `{"prompt": ..., "completion": ...}`.
    PromptCompletion,
    /// `{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}`.
    Preference,
    /// `{"text": ...}` (raw text, as MLX/Together accept).
    Text,
    /// ShareGPT: `{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", ...}]}`.
    ShareGpt,
    /// Alpaca: `{"instruction": ..., "input": ..., "output": ...}`.
    Alpaca,
    /// `{"question": ..., "answer": ...}`.
    QuestionAnswer,
    /// `{"prompt"?: ..., "chosen": ..., "rejected": ...}` (strings or message lists), as TRL
    /// and Anthropic's HH sets have it.
    ChosenRejected,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Chat => "chat",
            Format::PromptCompletion => "prompt/completion",
            Format::Preference => "preference",
            Format::Text => "text",
            Format::ShareGpt => "ShareGPT",
            Format::Alpaca => "Alpaca",
            Format::QuestionAnswer => "question/answer",
            Format::ChosenRejected => "chosen/rejected",
        }
    }

    /// Shapes that fine-tuning services do not take as they are; `voicetune convert` turns
    /// them into chat (or, for chosen/rejected, preference) records.
    pub fn needs_conversion(self) -> bool {
        matches!(
            self,
            Format::ShareGpt | Format::Alpaca | Format::QuestionAnswer | Format::ChosenRejected
        )
    }

    /// The keys a record of this format may have at the top level.
    pub fn allowed_keys(self) -> &'static [&'static str] {
        match self {
            Format::Chat => &["messages", "tools", "parallel_tool_calls", "functions"],
            Format::PromptCompletion => &["prompt", "completion"],
            Format::Preference => &["input", "preferred_output", "non_preferred_output"],
            Format::Text => &["text"],
            // Common companions of these shapes that the converter reads or drops.
            Format::ShareGpt => &["conversations", "system", "id"],
            Format::Alpaca => &["instruction", "input", "output", "system", "text"],
            Format::QuestionAnswer => &["question", "answer", "system", "id"],
            Format::ChosenRejected => &["prompt", "chosen", "rejected", "system", "id"],
        }
    }

    /// Detects the format of a parsed record from its keys.
    pub fn detect(record: &json::Node) -> Option<Format> {
        Format::from_keys(|k| record.get(k).is_some())
    }

    /// The format of a record with the keys `has` says it has.
    pub fn from_keys(has: impl Fn(&str) -> bool) -> Option<Format> {
        if has("messages") {
            Some(Format::Chat)
        } else if has("conversations") {
            Some(Format::ShareGpt)
        } else if has("instruction") && has("output") {
            Some(Format::Alpaca)
        } else if has("chosen") && has("rejected") {
            Some(Format::ChosenRejected)
        } else if has("question") && has("answer") {
            Some(Format::QuestionAnswer)
        } else if has("preferred_output")
            || has("non_preferred_output")
            || (has("input") && !has("prompt"))
        {
            Some(Format::Preference)
        } else if has("prompt") || has("completion") {
            Some(Format::PromptCompletion)
        } else if has("text") {
            Some(Format::Text)
        } else {
            None
        }
    }
}

/// One line of a file: its 0-based index, byte range (without the line break) and text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line<'a> {
    pub index: usize,
    /// Byte offset of the line's first byte in the file.
    pub start: usize,
    pub text: &'a str,
    /// Length of the line break that ends it (0 at the end of the file, 1 for LF, 2 for CRLF).
    pub break_len: usize,
}

impl Line<'_> {
    pub fn span(&self) -> Range<usize> {
        self.start..self.start + self.text.len()
    }

    /// The line with its line break, what deleting the line removes.
    pub fn full_span(&self) -> Range<usize> {
        self.start..self.start + self.text.len() + self.break_len
    }
}

/// Splits `text` into lines on `\n`, treating `\r\n` as one break.
pub fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let (end, next) = match memchr::memchr(b'\n', &bytes[start..]) {
            Some(i) => (start + i, start + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        let content_end = if end > start && bytes[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let line = Line {
            index,
            start,
            text: &text[start..content_end],
            break_len: next - content_end,
        };
        start = next;
        index += 1;
        Some(line)
    })
}

/// The byte offsets at which each line starts (for offset -> line/column conversion).
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
        .collect()
}
