//! Transcript artefacts: speaker labels with timestamps, timestamps, subtitle cue timings and
//! non-speech annotations such as `[laughter]`.

use regex::Regex;
use std::sync::LazyLock;

/// Transcript artefacts, one per line: a speaker label with a timestamp ("Katie Robbert 0:25",
/// "Speaker 1 (00:01:02)"), a bare timestamp line or prefix ("[00:12:05]", "0:25 "), and subtitle
/// cue timings ("00:00:01,000 --> 00:00:04,000").
pub static TRANSCRIPT_ARTEFACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?m)^[ \t]*(?:",
        r"\d{1,2}:\d{2}:\d{2}[.,]\d{3}[ \t]*-->[ \t]*\d{1,2}:\d{2}:\d{2}[.,]\d{3}[^\n]*",
        r"|(?:[A-Z][\p{L}.'-]*(?:[ \t][A-Z][\p{L}.'-]*){0,3}|SPEAKER_\d+|Speaker[ \t]\d+)[ \t]+[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]?[ \t]*:?[ \t]*$",
        r"|[\[(]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])][ \t]*",
        r"|\d{1,2}:\d{2}(?::\d{2})?[ \t]+(?:-[ \t]+)?",
        r")"
    ))
    .unwrap()
});

/// A timestamp at the start of a line: `[00:12:05] `, `(0:25) `, `00:12 - `.
static LINE_TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t]*(?:[\[(]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[ \t]+(?:-[ \t]+)?)[ \t]*").unwrap()
});

/// Strips leading timestamps from a transcript line; returns the rest and how many were removed.
pub fn strip_line_timestamp(line: &str) -> (&str, usize) {
    let mut rest = line;
    let mut n = 0;
    while let Some(m) = LINE_TIMESTAMP.find(rest) {
        if m.end() == 0 {
            break;
        }
        rest = &rest[m.end()..];
        n += 1;
    }
    (rest, n)
}

/// Removes [`TRANSCRIPT_ARTEFACT`] matches (label lines, timestamps, cue timings).
pub fn remove_transcript_artefacts(text: &str) -> (String, usize) {
    let mut n = 0;
    let out = TRANSCRIPT_ARTEFACT.replace_all(text, |_: &regex::Captures| {
        n += 1;
        ""
    });
    (out.into_owned(), n)
}

/// Stage directions and non-speech annotations in transcripts: `(Applause.)`, `(Laughter.)`,
/// `(Laughs)`, `[inaudible]`, `(inaudible 00:12)`, `[crosstalk]`, `[Music]`, `(Cheers and
/// applause.)`, with the space before them.
pub static TRANSCRIPT_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)[ \t]*[\[(][ \t]*",
        r"(?:(?:audience|crowd|loud|light|soft|brief|sustained|prolonged|scattered|more)[ \t]+)?",
        r"(?:inaudible|unintelligible|indiscernible|crosstalk|cross[ -]talk|laughter|laughs|laughing",
        r"|chuckles|chuckling|applause|applauding|cheers|cheering|booing|boos|standing ovation",
        r"|music(?:[ \t]+play(?:s|ing))?|silence|pause|coughs?|sighs|background noise",
        r"|overlapping(?: speech)?|no audio|audio cuts out|phone rings|beep)",
        r"(?:[ \t]+and[ \t]+(?:applause|laughter|cheers|cheering))?",
        r"(?:[ \t]+[\d:.,]+)?\.?[ \t]*[\])]"
    ))
    .unwrap()
});

/// Removes [`TRANSCRIPT_NOISE`] annotations; returns the text and how many were removed.
pub fn remove_transcript_noise(text: &str) -> (String, usize) {
    if !text.contains(['[', '(']) {
        return (text.to_string(), 0);
    }
    let mut n = 0;
    let out = TRANSCRIPT_NOISE.replace_all(text, |_: &regex::Captures| {
        n += 1;
        ""
    });
    (out.into_owned(), n)
}
