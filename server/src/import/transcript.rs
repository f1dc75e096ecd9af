//! Transcripts (plain text, markdown, WebVTT/SRT): keep one named speaker's turns, drop the
//! other speakers, timestamps, cue numbers and timings.
//!
//! Speaker turns are recognised as `Name: text`, `**Name:** text`, `Name (00:01:02): text`,
//! `[00:01:02] Name: text`, a label line such as `Katie Robbert 0:25` (Otter.ai) followed by the
//! turn's lines, or a VTT voice tag `<v Name>text`. Lines without a label continue the current
//! turn. Each kept turn becomes one paragraph of the post.

use super::markdown::{post_from_document, split_front_matter};
use super::options::BuildField;
use super::post::{read_utf8, BodyFormat, Post, SourceError};
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

/// A speaker name: up to four capitalised words, `SPEAKER_1`, `Speaker 2`, or ALL CAPS.
const NAME: &str = r"(?:SPEAKER_\d+|Speaker \d+|[\p{Lu}][\p{L}.'’-]*(?: (?:[\p{Lu}][\p{L}.'’-]*|de|van|von|der|la|le)){0,3})";
const STAMP: &str = r"[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]?";

/// `Name: text` with optional bold markers and an optional timestamp before or after the name.
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:{STAMP}[ \t]+)?(?:\*\*|__)?({NAME})(?:[ \t]+{STAMP})?(?:\*\*|__)?[ \t]*:(?:\*\*|__)?[ \t]*(.*)$"
    ))
    .unwrap()
});

/// A label line with no text: `Katie Robbert 0:25`, `Speaker 1 (00:01:02)`, `**Jane:**`.
static LABEL_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^(?:\*\*|__)?({NAME})(?:\*\*|__)?[ \t]+{STAMP}[ \t]*:?[ \t]*$"
    ))
    .unwrap()
});

/// `<v Name>text</v>` (WebVTT voice span).
static VTT_VOICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^<v(?:\.[\w.-]+)?[ \t]+([^>]+)>(.*?)(?:</v>)?$").unwrap());

/// SRT/VTT timing lines and cue numbers, and a VTT header. As in a WebVTT parser, a line with
/// `-->` is a timing line even when its times are garbage (`-1:-1 --> 00:00:01.000`), as long as
/// no letter comes before the arrow (speech that mentions an arrow keeps its speaker label).
static CUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:\d+|WEBVTT.*|NOTE .*|[^\p{L}]*-->.*)$").unwrap());

/// One speaker's turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub speaker: String,
    pub text: String,
    pub line: usize,
}

/// What parsing a transcript found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub turns: Vec<Turn>,
    /// Timestamps, cue numbers and timings removed.
    pub artefacts: usize,
    /// Text before the first speaker label (a title line, an intro) that belongs to no one.
    pub unattributed_lines: usize,
}

/// Splits a transcript into turns.
pub fn parse(text: &str, first_line: usize) -> Parsed {
    let mut parsed = Parsed::default();
    let mut current: Option<Turn> = None;
    let finish = |turn: Option<Turn>, parsed: &mut Parsed| {
        if let Some(turn) = turn {
            if !turn.text.trim().is_empty() {
                parsed.turns.push(turn);
            }
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = first_line + i;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if CUE.is_match(line) {
            parsed.artefacts += 1;
            continue;
        }
        if let Some(c) = LABEL_LINE.captures(line) {
            parsed.artefacts += 1;
            finish(current.take(), &mut parsed);
            current = Some(Turn {
                speaker: c[1].trim().to_string(),
                text: String::new(),
                line: line_no,
            });
            continue;
        }
        let (speaker, rest) = if let Some(c) = VTT_VOICE.captures(line) {
            (
                Some(c[1].trim().to_string()),
                c.get(2).map_or("", |m| m.as_str()),
            )
        } else if let Some(c) = LABEL.captures(line) {
            if line.starts_with(['[', '(']) || line.as_bytes()[0].is_ascii_digit() {
                parsed.artefacts += 1;
            }
            (
                Some(c[1].trim().to_string()),
                c.get(2).map_or("", |m| m.as_str()),
            )
        } else {
            (None, line)
        };
        // A turn's own line may still start with a timestamp ("[00:12] and then...").
        let (rest, stamps) = crate::clean::strip_line_timestamp(rest);
        parsed.artefacts += stamps;
        match speaker {
            Some(name) => {
                finish(current.take(), &mut parsed);
                current = Some(Turn {
                    speaker: name,
                    text: rest.trim().to_string(),
                    line: line_no,
                });
            }
            None => match current.as_mut() {
                Some(turn) => {
                    if !turn.text.is_empty() {
                        turn.text.push(' ');
                    }
                    turn.text.push_str(rest.trim());
                }
                None => parsed.unattributed_lines += 1,
            },
        }
    }
    finish(current, &mut parsed);
    parsed
}

/// True when `text` reads as a transcript: subtitle cues, or at least half of the non-blank
/// lines outside code fences are speaker labels, from at least two speakers.
pub fn looks_like_transcript(text: &str) -> bool {
    if text.lines().filter(|l| l.contains("-->")).count() >= 2 && !text.contains("```") {
        return true;
    }
    // Front matter is not part of the conversation.
    let text = match super::markdown::split_front_matter(Path::new(""), text) {
        Ok(doc) if !doc.front.is_empty() => std::borrow::Cow::Owned(doc.body),
        _ => std::borrow::Cow::Borrowed(text),
    };
    let mut in_code = false;
    let mut lines = 0;
    let mut speakers: Vec<String> = Vec::new();
    let mut labels = 0;
    for line in text.lines().map(str::trim) {
        if line.starts_with("```") || line.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code || line.is_empty() || line == "---" {
            continue;
        }
        lines += 1;
        let name = LABEL_LINE
            .captures(line)
            .or_else(|| VTT_VOICE.captures(line))
            .or_else(|| LABEL.captures(line).filter(|c| !c[2].trim().is_empty()))
            .map(|c| c[1].trim().to_lowercase());
        if let Some(name) = name {
            labels += 1;
            if !speakers.contains(&name) {
                speakers.push(name);
            }
        }
    }
    speakers.len() >= 2 && labels * 2 >= lines
}

/// The distinct speakers, in order of first appearance.
pub fn speakers(turns: &[Turn]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in turns {
        if !out.iter().any(|s| s.eq_ignore_ascii_case(&t.speaker)) {
            out.push(t.speaker.clone());
        }
    }
    out
}

/// `wanted` names this speaker: the same name, or its first word(s) ("alice" for "Alice
/// Writer"), case-insensitively.
pub fn same_speaker(speaker: &str, wanted: &str) -> bool {
    let (speaker, wanted) = (speaker.trim().to_lowercase(), wanted.trim().to_lowercase());
    !wanted.is_empty()
        && (speaker == wanted
            || speaker
                .strip_prefix(&wanted)
                .is_some_and(|rest| rest.starts_with(' ')))
}

/// Counts for the report.
#[derive(Debug, Default, Clone, Copy)]
pub struct TranscriptCounts {
    pub turns_kept: usize,
    pub turns_dropped: usize,
    pub artefacts: usize,
}

/// Reads a transcript file and keeps `speaker`'s turns (case-insensitive). Without a speaker,
/// a single-speaker transcript keeps its one speaker; several speakers are an error listing them.
pub fn read(path: &Path, speaker: Option<&str>) -> Result<(Post, TranscriptCounts), SourceError> {
    let text = read_utf8(path, "transcript")?;
    let doc = split_front_matter(path, &text)?;
    let body_line = doc.body_line;
    let body = doc.body.clone();
    // Title, date, tags from front matter or file name; status/type don't apply to transcripts.
    let mut post = post_from_document(path, doc);
    post.format = BodyFormat::Text;
    post.status = None;
    post.post_type = None;

    let parsed = parse(&body, body_line);
    let found = speakers(&parsed.turns);
    if found.is_empty() {
        return Err(SourceError::new(
            path,
            None,
            "no speaker turns found (expected lines like `Name: text`)",
        ));
    }
    let wanted = match speaker {
        Some(s) => s.trim().to_string(),
        None if found.len() == 1 => found[0].clone(),
        None => {
            let message = format!(
                "this transcript has {} speakers ({}); choose one with",
                found.len(),
                found.join(", ")
            );
            return Err(SourceError::new(path, None, message).needing(BuildField::Speaker));
        }
    };
    let mut counts = TranscriptCounts {
        artefacts: parsed.artefacts,
        ..Default::default()
    };
    let mut paragraphs = Vec::new();
    for turn in &parsed.turns {
        if same_speaker(&turn.speaker, &wanted) {
            counts.turns_kept += 1;
            paragraphs.push(turn.text.as_str());
            // The author is who was asked for ("alice"), the display name who spoke ("Alice
            // Writer"), so `--author alice` selects this transcript like it selects posts.
            post.author = Some(wanted.clone());
            post.author_display
                .get_or_insert_with(|| turn.speaker.clone());
        } else {
            counts.turns_dropped += 1;
        }
    }
    post.body = paragraphs.join("\n\n");
    Ok((post, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_styles() {
        let text = "Interview notes\n[00:00:01] Jane Doe: Hello there.\n**Bob:** Hi Jane.\nJane Doe (00:01:02): Second turn\nthat continues.\nKatie Robbert 0:25\nOtter style turn.\n<v Bob>VTT voice</v>\n";
        let p = parse(text, 1);
        let got: Vec<(&str, &str)> = p
            .turns
            .iter()
            .map(|t| (t.speaker.as_str(), t.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Jane Doe", "Hello there."),
                ("Bob", "Hi Jane."),
                ("Jane Doe", "Second turn that continues."),
                ("Katie Robbert", "Otter style turn."),
                ("Bob", "VTT voice"),
            ]
        );
        assert_eq!(p.unattributed_lines, 1);
        assert_eq!(p.artefacts, 2); // the [00:00:01] prefix and the Otter label line
    }

    #[test]
    fn srt_cues_are_artefacts() {
        let text = "1\n00:00:01,000 --> 00:00:04,000\nJane: One.\n\n2\n00:00:05,000 --> 00:00:06,000\nBob: Two.\n";
        let p = parse(text, 1);
        assert_eq!(p.turns.len(), 2);
        assert_eq!(p.artefacts, 4);
        assert!(looks_like_transcript(text));
        assert!(!looks_like_transcript(
            "# A post\n\nNote: this is prose.\n\nMore prose here.\n"
        ));
    }

    #[test]
    fn garbage_timing_lines_are_artefacts_not_text() {
        let text = "WEBVTT\n\n-1:-1 --> 00:00:01.000\nJane: One.\n\n00:00:02.000 --> ??\n\
                    and two.\n\n--> 00:00:04.000\nJane: Use the --> key.\n";
        let p = parse(text, 1);
        let texts: Vec<&str> = p.turns.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["One. and two.", "Use the --> key."]);
        assert_eq!(p.artefacts, 4); // the header and three timing lines
    }
}
