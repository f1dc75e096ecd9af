//! Transcripts (plain text, markdown, WebVTT/SRT): keep one named speaker's turns, drop the
//! other speakers, timestamps, cue numbers and timings.
//!
//! Speaker turns are recognised as `Name: text`, `**Name:** text`, `Name (00:01:02): text`,
//! `[00:01:02] Name: text`, a label line such as `Katie Robbert 0:25` (Otter.ai) followed by the
//! turn's lines, or a VTT voice tag `<v Name>text`. Lines without a label continue the current
//! turn. Each kept turn becomes one paragraph of the post.
//!
//! `Key: value` lines at the top of a file (`Speaker:`, `Title:`, `Date:`, `Event:`, ...) are
//! metadata, not turns. A file with no speaker labels is one speaker's monologue: its speaker is
//! named by a `Speaker:` line or by the `monologue_speaker` option.

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

/// A metadata line at the top of a transcript: a known key, a colon, a value.
static METADATA: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(speakers?|title|date|event|occasion|source|location|place|venue|audience|delivered|recorded|published|url|link|transcript|transcribed by|transcriber|language|duration|episode|topic|subject|tags|categories|category|copyright)[ \t]*:[ \t]*(\S.*)$").unwrap()
});

/// The `Key: value` lines at the top of a transcript.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metadata {
    /// (key in lower case, value), in file order.
    pub fields: Vec<(String, String)>,
    /// Lines the block takes, blank lines before it included.
    pub lines: usize,
}

impl Metadata {
    /// The first value of `key` (lower case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The speaker a `Speaker:` line names.
    pub fn speaker(&self) -> Option<&str> {
        self.get("speaker").or_else(|| self.get("speakers"))
    }
}

/// Splits the leading metadata block (known keys only, up to the first blank line or the first
/// other line) off `text`; returns it and the rest.
pub fn split_metadata(text: &str) -> (Metadata, &str) {
    if let Some(split) = split_vtt_header(text) {
        return split;
    }
    let mut meta = Metadata::default();
    let mut rest = text;
    let mut blanks = 0;
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        let line = line.trim();
        if line.is_empty() {
            if !meta.fields.is_empty() {
                break;
            }
            blanks += 1;
        } else if let Some(c) = METADATA.captures(line) {
            meta.fields
                .push((c[1].to_lowercase(), c[2].trim().to_string()));
            meta.lines += blanks + 1;
            blanks = 0;
        } else {
            break;
        }
        rest = after;
    }
    if meta.fields.is_empty() {
        return (Metadata::default(), text);
    }
    (meta, rest)
}

/// A WebVTT header block: `WEBVTT` and the lines after it up to the first blank line
/// (`Kind: captions`, `Language: en`), which are metadata whatever their keys.
fn split_vtt_header(text: &str) -> Option<(Metadata, &str)> {
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with("WEBVTT") {
        return None;
    }
    let mut meta = Metadata {
        lines: text[..start].matches('\n').count(),
        ..Metadata::default()
    };
    let mut rest = &text[start..];
    while let Some((line, after)) = rest
        .split_once('\n')
        .or((!rest.is_empty()).then_some((rest, "")))
    {
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            meta.fields
                .push((key.trim().to_lowercase(), value.trim().to_string()));
        }
        meta.lines += 1;
        rest = after;
    }
    Some((meta, rest))
}

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
    /// That text: blank lines are paragraph breaks, a wrapped line (one that does not end a
    /// sentence) joins the next with a space; subtitle cues join with a space. It is the whole
    /// text of a file without speaker labels.
    pub unattributed: String,
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
    // What joins the next unattributed line to the text before it.
    let mut joint = "";
    for (i, raw) in text.lines().enumerate() {
        let line_no = first_line + i;
        let line = raw.trim();
        if line.is_empty() {
            joint = "\n\n";
            continue;
        }
        if CUE.is_match(line) {
            parsed.artefacts += 1;
            joint = " ";
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
                None => {
                    parsed.unattributed_lines += 1;
                    let rest = rest.trim();
                    if !parsed.unattributed.is_empty() {
                        parsed.unattributed.push_str(joint);
                    }
                    parsed.unattributed.push_str(rest);
                    // A line that ends a sentence (stage directions aside) keeps its break.
                    let (spoken, _) = crate::clean::remove_transcript_noise(rest);
                    let spoken = spoken.trim_end();
                    joint = if spoken.is_empty()
                        || spoken.ends_with(['.', '!', '?', '"', '\u{201d}', ':'])
                    {
                        "\n"
                    } else {
                        " "
                    };
                }
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
    /// `Key: value` lines read as metadata at the top of the file.
    pub metadata_lines: usize,
    /// The file had no speaker labels: one speaker's monologue, kept or skipped.
    pub monologue_kept: bool,
    pub monologue_skipped: bool,
}

/// Reads a transcript file and keeps `speaker`'s turns (case-insensitive). Without a speaker,
/// a single-speaker transcript keeps its one speaker; several speakers are an error listing them.
/// A file without speaker labels is a monologue by its `Speaker:` line's speaker, or by
/// `monologue_speaker`: kept without a `speaker`, or when it is the speaker asked for; otherwise
/// skipped (`None`, counted in [`TranscriptCounts::monologue_skipped`]).
pub fn read(
    path: &Path,
    speaker: Option<&str>,
    monologue_speaker: Option<&str>,
) -> Result<(Option<Post>, TranscriptCounts), SourceError> {
    let text = read_utf8(path, "transcript")?;
    let doc = split_front_matter(path, &text)?;
    let body_line = doc.body_line;
    let (metadata, body) = split_metadata(&doc.body);
    let body = body.to_string();
    // Title, date, tags from front matter or file name; status/type don't apply to transcripts.
    let mut post = post_from_document(path, doc);
    post.format = BodyFormat::Text;
    post.status = None;
    post.post_type = None;
    if let Some(title) = metadata.get("title") {
        post.title = title.to_string();
    }
    if let Some(date) = metadata.get("date").and_then(super::filters::parse_date) {
        post.date = Some(date);
    }

    let parsed = parse(&body, body_line + metadata.lines);
    let mut counts = TranscriptCounts {
        artefacts: parsed.artefacts,
        metadata_lines: metadata.lines,
        ..Default::default()
    };
    let found = speakers(&parsed.turns);
    if found.is_empty() {
        if parsed.unattributed.trim().is_empty() {
            return Err(SourceError::new(path, None, "no transcript text found"));
        }
        let by = metadata
            .speaker()
            .or(monologue_speaker)
            .map(|s| s.trim().to_string());
        let keep = match (speaker, &by) {
            (None, _) => true,
            (Some(wanted), Some(by)) => same_speaker(by, wanted),
            (Some(_), None) => false,
        };
        if !keep {
            counts.monologue_skipped = true;
            return Ok((None, counts));
        }
        counts.monologue_kept = true;
        post.author = speaker.map(|s| s.trim().to_string()).or(by.clone());
        post.author_display = by;
        post.body = parsed.unattributed;
        return Ok((Some(post), counts));
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
    Ok((Some(post), counts))
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

    #[test]
    fn metadata_lines_are_not_turns() {
        let text = "\nSpeaker: Jane Doe\nTitle: On rivers\nDate: September 26, 2004\n\nJane Doe: Thank you all.\nHost: Thanks.\n";
        let (meta, rest) = split_metadata(text);
        assert_eq!(meta.speaker(), Some("Jane Doe"));
        assert_eq!(meta.get("title"), Some("On rivers"));
        assert_eq!(meta.lines, 4);
        assert_eq!(rest, "\nJane Doe: Thank you all.\nHost: Thanks.\n");
        // A first line that is a turn is not metadata, nor is a key after the first blank line.
        let (meta, rest) = split_metadata("Jane: Hello.\nSpeaker: x\n");
        assert!(meta.fields.is_empty());
        assert_eq!(rest, "Jane: Hello.\nSpeaker: x\n");
        // A WebVTT header block (YouTube's captions have one) is metadata whatever its keys.
        let (meta, rest) = split_metadata(
            "WEBVTT\nKind: captions\nLanguage: en\n\n00:00.000 --> 00:01.000\nHi.\n",
        );
        assert_eq!(meta.get("kind"), Some("captions"));
        assert_eq!(meta.lines, 3);
        assert_eq!(rest, "\n00:00.000 --> 00:01.000\nHi.\n");
        assert!(parse(rest, 4).turns.is_empty());
    }

    #[test]
    fn unlabelled_text_keeps_paragraphs_and_joins_wrapped_lines() {
        let p = parse(
            "Thank you. It is good\nto be here.\nMy second line.\n\nA new paragraph.\n",
            1,
        );
        assert!(p.turns.is_empty());
        assert_eq!(
            p.unattributed,
            "Thank you. It is good to be here.\nMy second line.\n\nA new paragraph."
        );
        let vtt = parse(
            "WEBVTT\n\n00:00.000 --> 00:02.000\nSo this is\n\n00:02.000 --> 00:04.000\nhow it starts.\n",
            1,
        );
        assert_eq!(vtt.unattributed, "So this is how it starts.");
    }
}
