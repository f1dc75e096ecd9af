//! Opt-in learning from accepted suggestions (`[completion] learn = true`; off by default).
//!
//! When the user accepts a suggestion in a markdown draft, the editor runs the item's command
//! and the server appends an [`Accepted`] event to `.voicetune/learn/accepted.jsonl` in the
//! workspace: the voice's prompt shape (system prompt, user template), the draft's title, the
//! paragraph before the suggestion and the accepted words. When the draft is saved or closed,
//! a [`Event::Kept`] event records the paragraph as the user left it (after their own edits),
//! so that the example holds the user's final words. `voicetune learn` turns the log into chat
//! examples ([`examples`]).
//!
//! The log is only ever appended to, stays in the workspace and is never sent anywhere; the
//! user's documents are only read.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::dataset::prompt_shape::PromptShape;

/// The log, relative to the workspace.
pub const LOG_PATH: &str = ".voicetune/learn/accepted.jsonl";

/// Where `voicetune learn` writes its examples by default, relative to the workspace.
pub const EXAMPLES_PATH: &str = ".voicetune/learn/examples.jsonl";

/// A paragraph with fewer words than this teaches too little to become an example.
pub const MIN_WORDS: usize = 12;

/// The most text before the suggestion that is kept (its tail), in bytes.
const MAX_BEFORE: usize = 4000;

/// At least this share of the words around an accepted suggestion must still be in a paragraph
/// for it to count as the same paragraph, edited.
const MIN_KEPT_SHARE: f64 = 0.5;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Accepted(Accepted),
    /// The paragraph of accepted suggestion `id` when its document was saved or closed; None
    /// when no paragraph of the document resembles it any more (the user removed it).
    Kept {
        id: String,
        time: u64,
        paragraph: Option<String>,
    },
}

/// A suggestion the user accepted, with what is needed to turn it into an example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accepted {
    pub id: String,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// The document, relative to the workspace where it is inside it.
    pub file: String,
    /// The voice that suggested it (None: the base model).
    pub voice: Option<String>,
    /// The prompt shape the voice was trained on.
    pub system: String,
    pub user_template: String,
    pub title: String,
    /// The paragraph before the suggestion (its tail when long).
    pub before: String,
    /// The accepted words.
    pub text: String,
}

impl Accepted {
    /// The acceptance of `text`, suggested at byte `cursor` of the markdown `document`.
    pub fn new(
        document: &str,
        cursor: usize,
        text: &str,
        voice: Option<String>,
        shape: &PromptShape,
        file: String,
    ) -> Accepted {
        let title = super::prompt::title(document).unwrap_or_else(|| {
            let stem = Path::new(&file).file_stem().map(|s| s.to_string_lossy());
            stem.unwrap_or_default().replace(['-', '_'], " ")
        });
        Accepted {
            id: new_id(),
            time: now(),
            file,
            voice,
            system: shape.system.clone(),
            user_template: shape.user_template.clone(),
            title,
            before: paragraph_before(document, cursor).to_string(),
            text: text.to_string(),
        }
    }

    /// The paragraph as it was right after acceptance.
    pub fn as_accepted(&self) -> String {
        format!("{}{}", self.before, self.text).trim().to_string()
    }
}

/// The log of `workspace`.
pub fn log_path(workspace: &Path) -> PathBuf {
    workspace.join(LOG_PATH)
}

/// Appends `event` as one line to the log of `workspace`, creating its folder.
pub fn append(workspace: &Path, event: &Event) -> std::io::Result<()> {
    let path = log_path(workspace);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(event)?;
    line.push(b'\n');
    // One write of a whole line: appends from two servers never interleave within a line.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(&line)
}

/// The events of a log's text, and how many lines could not be read.
pub fn parse_log(text: &str) -> (Vec<Event>, usize) {
    let mut events = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(event) => events.push(event),
            Err(_) => unreadable += 1,
        }
    }
    (events, unreadable)
}

/// The paragraph of `text` before byte `cursor`: from the last blank line (its tail when
/// longer than [`MAX_BEFORE`]).
pub fn paragraph_before(text: &str, cursor: usize) -> &str {
    let mut cursor = cursor.min(text.len());
    while !text.is_char_boundary(cursor) {
        cursor -= 1;
    }
    let head = &text[..cursor];
    let start = paragraph_starts(head).last().copied().unwrap_or(0);
    let mut start = start.max(cursor.saturating_sub(MAX_BEFORE));
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..cursor].trim_start()
}

/// Byte offsets where a paragraph may start: after each blank line.
fn paragraph_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = 0;
    let mut previous_blank = false;
    for line in text.split_inclusive('\n') {
        if previous_blank {
            starts.push(offset);
        }
        previous_blank = line.trim().is_empty();
        offset += line.len();
    }
    if previous_blank {
        starts.push(offset);
    }
    starts
}

/// The paragraphs of `text`, split at blank lines, trimmed.
fn paragraphs(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("\n\n")
        .flat_map(|block| block.split("\r\n\r\n"))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The paragraph of the final `document` that holds the accepted suggestion: the one sharing
/// the most words with the paragraph as accepted, if it still has at least half of them.
pub fn kept_paragraph(document: &str, accepted: &Accepted) -> Option<String> {
    let wanted: HashSet<String> = words(&accepted.as_accepted()).into_iter().collect();
    if wanted.is_empty() {
        return None;
    }
    let (share, paragraph) = paragraphs(document)
        .filter(|p| !p.starts_with('#') && !p.starts_with("---"))
        .map(|p| {
            let present: HashSet<String> = words(&p).into_iter().collect();
            let shared = wanted.intersection(&present).count();
            (shared as f64 / wanted.len() as f64, p)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    (share >= MIN_KEPT_SHARE).then_some(paragraph)
}

/// One chat example.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Example {
    pub system: String,
    pub user: String,
    pub assistant: String,
}

impl Example {
    /// The example as a chat JSONL line (no newline); no system message when it is empty.
    pub fn to_json_line(&self) -> String {
        let mut messages = Vec::new();
        if !self.system.is_empty() {
            messages.push(serde_json::json!({"role": "system", "content": self.system}));
        }
        messages.push(serde_json::json!({"role": "user", "content": self.user}));
        messages.push(serde_json::json!({"role": "assistant", "content": self.assistant}));
        serde_json::json!({ "messages": messages }).to_string()
    }
}

/// The examples of a log: for each accepted suggestion, the paragraph the user kept (the last
/// [`Event::Kept`] of it; the paragraph as accepted when the document was never saved after),
/// as the assistant's answer to the recorded prompt shape and title. Suggestions whose
/// paragraph was removed, paragraphs under [`MIN_WORDS`] words and repeats are left out.
pub fn examples(events: &[Event]) -> Vec<Example> {
    let mut kept: HashMap<&str, &Option<String>> = HashMap::new();
    for event in events {
        if let Event::Kept { id, paragraph, .. } = event {
            kept.insert(id, paragraph);
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for event in events {
        let Event::Accepted(accepted) = event else {
            continue;
        };
        let paragraph = match kept.get(accepted.id.as_str()) {
            Some(Some(paragraph)) => paragraph.trim().to_string(),
            Some(None) => continue,
            None => accepted.as_accepted(),
        };
        if words(&paragraph).len() < MIN_WORDS {
            continue;
        }
        let shape = PromptShape {
            system: accepted.system.clone(),
            user_template: accepted.user_template.clone(),
        };
        let example = Example {
            system: accepted.system.clone(),
            user: shape.user_prompt(&accepted.title),
            assistant: paragraph,
        };
        if seen.insert(example.assistant.clone()) {
            out.push(example);
        }
    }
    out
}

/// Accepted suggestions of open documents whose final text is still to be recorded.
#[derive(Default)]
pub struct Learner {
    pending: Mutex<HashMap<String, Vec<Accepted>>>,
}

impl Learner {
    /// Logs `accepted` in `workspace` and remembers it under `document` (any key naming the
    /// document, e.g. its URI) until [`Learner::document_done`].
    pub fn accept(
        &self,
        workspace: &Path,
        document: &str,
        accepted: Accepted,
    ) -> std::io::Result<()> {
        append(workspace, &Event::Accepted(accepted.clone()))?;
        lock(&self.pending)
            .entry(document.to_string())
            .or_default()
            .push(accepted);
        Ok(())
    }

    /// Whether `document` has acceptances waiting for its final text.
    pub fn has_pending(&self, document: &str) -> bool {
        lock(&self.pending).contains_key(document)
    }

    /// `document` was saved or closed with `text`: logs the paragraph kept around each of its
    /// acceptances, and forgets them. Returns how many were logged.
    pub fn document_done(
        &self,
        workspace: &Path,
        document: &str,
        text: &str,
    ) -> std::io::Result<usize> {
        let Some(accepted) = lock(&self.pending).remove(document) else {
            return Ok(0);
        };
        for a in &accepted {
            let event = Event::Kept {
                id: a.id.clone(),
                time: now(),
                paragraph: kept_paragraph(text, a),
            };
            append(workspace, &event)?;
        }
        Ok(accepted.len())
    }
}

/// What [`dataset`] made of a log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetReport {
    /// Examples written.
    pub examples: usize,
    /// Examples left out because the lint flagged them (their line).
    pub flagged: usize,
    /// What the lint says of the whole file (e.g. too few examples), one message each.
    pub dataset_findings: Vec<String>,
}

/// The chat JSONL of a log's [`examples`], without the examples the lint (with `opts`) flags,
/// so that it lints clean but for findings about the whole file (its size).
pub fn dataset(events: &[Event], opts: &crate::lint::LintOptions) -> (String, DatasetReport) {
    let mut lines: Vec<String> = examples(events).iter().map(Example::to_json_line).collect();
    let mut flagged = 0;
    loop {
        let text = join_lines(&lines);
        let findings = crate::lint::lint_text(&text, crate::dataset::FileKind::Jsonl, opts);
        let mut starts = Vec::with_capacity(lines.len());
        let mut offset = 0;
        for line in &lines {
            starts.push(offset);
            offset += line.len() + 1;
        }
        let mut bad = HashSet::new();
        let mut whole_file = Vec::new();
        for finding in findings {
            if finding.rule == "dataset-size" || lines.is_empty() {
                whole_file.push(finding.message);
            } else {
                bad.insert(starts.partition_point(|&s| s <= finding.span.start) - 1);
            }
        }
        if bad.is_empty() {
            let report = DatasetReport {
                examples: lines.len(),
                flagged,
                dataset_findings: whole_file,
            };
            return (text, report);
        }
        flagged += bad.len();
        lines = lines
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !bad.contains(i))
            .map(|(_, l)| l)
            .collect();
    }
}

fn join_lines(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unique within the log: the time in nanoseconds, the process and a counter.
fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}-{:x}-{n}", std::process::id())
}

#[cfg(test)]
mod tests;
