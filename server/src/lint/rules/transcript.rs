//! Transcript artefacts: timestamps, speaker labels with times, subtitle cue timings, and stage
//! directions such as `(Applause.)` or `[inaudible]`.

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static TRANSCRIPT: RuleInfo = RuleInfo {
    code: "VT106",
    name: "transcript",
    severity: Severity::Warning,
    summary: "Transcript timestamps, speaker labels or stage directions in training text",
    doc: "Podcast and video transcripts carry lines like `Katie Robbert 0:25`, `[00:12:05]` and \
`00:00:01,000 --> 00:00:04,000`, and speech transcripts carry stage directions and non-speech \
markers such as `(Applause.)`, `(Laughter.)`, `[inaudible]`, `[crosstalk]` and `[music]`. The \
model learns to print them. The fix removes the label line, the timestamp or the marker.",
    fixable: true,
};

pub struct Transcript;

impl TextRule for Transcript {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&TRANSCRIPT];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&TRANSCRIPT) {
        return;
    }
    // Line breaks found once: looking for them around each match would be quadratic in a
    // long text without breaks.
    let breaks: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
    if has_clock_time(text) {
        for m in clean::TRANSCRIPT_ARTEFACT.find_iter(text) {
            report(field, opts, out, &breaks, m.range(), "transcript artefact");
        }
    }
    if text.contains(['[', '(']) {
        for m in clean::TRANSCRIPT_NOISE.find_iter(text) {
            report(field, opts, out, &breaks, m.range(), "stage direction");
        }
    }
}

/// One finding on the match at `range` (leading blanks included), with a fix that removes it:
/// a whole line with its line break, a marker at the start of a line with the blanks after it,
/// otherwise the match alone.
fn report(
    field: &TextField,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
    breaks: &[usize],
    range: std::ops::Range<usize>,
    what: &str,
) {
    let text = field.text();
    let shown = text[range.clone()].trim();
    if shown.is_empty() || field.in_code(&range) {
        return;
    }
    let start = range.start + (text[range.clone()].len() - text[range.clone()].trim_start().len());
    let before = breaks.partition_point(|&b| b < range.start);
    let line_start = before.checked_sub(1).map_or(0, |i| breaks[i] + 1);
    let line_end = breaks[breaks.partition_point(|&b| b < range.end)..]
        .first()
        .copied()
        .unwrap_or(text.len());
    let at_line_start = text[line_start..range.start].trim().is_empty();
    // A run of timestamps at the start of a line goes in one fix: one per round would take a
    // fix-all round per timestamp (found by the fuzz harness, tests/lint_fuzz).
    let (rest, stamps) = clean::strip_line_timestamp(&text[range.start..line_end]);
    let range = if at_line_start && stamps > 1 {
        range.start..line_end - rest.len()
    } else {
        range
    };
    let removal = if at_line_start && text[range.end..line_end].trim().is_empty() {
        line_removal(text, line_start..line_end)
    } else if at_line_start {
        let blanks = text[range.end..line_end].len() - text[range.end..line_end].trim_start().len();
        range.start..range.end + blanks
    } else {
        range
    };
    let fix = TextFix::remove("Remove the transcript artefact", removal);
    out.extend(field.finding(
        opts,
        &TRANSCRIPT,
        start..start + shown.len(),
        format!("{what} `{shown}`"),
        Some(fix),
    ));
}

/// The bytes to delete to remove a whole line: with its line break, or the one before it when
/// it is the last line.
pub fn line_removal(text: &str, line: std::ops::Range<usize>) -> std::ops::Range<usize> {
    if line.end < text.len() {
        line.start..line.end + 1
    } else if line.start > 0 {
        line.start - 1..line.end
    } else {
        line
    }
}

/// Cheap pre-check: every artefact holds a clock time such as `0:25`.
fn has_clock_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b':', bytes).any(|i| {
        i > 0 && bytes[i - 1].is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
    })
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    /// Found by the fuzz harness: 41 timestamps in a row took one fix-all round each, more
    /// than fix-all runs.
    #[test]
    fn a_run_of_timestamps_is_removed_in_one_round() {
        let line = reply(&format!("{}We talked about tea.", "[00:12:05]".repeat(41)));
        assert_eq!(line_findings(&line, "transcript").len(), 1);
        assert!(fixed(&line, "transcript").contains("\"We talked about tea.\""));
    }

    #[test]
    fn removes_label_lines_and_timestamps() {
        let line =
            reply("Katie Robbert 0:25\nWe talked about tea.\n[00:12:05] Then coffee came up.");
        assert_eq!(line_findings(&line, "transcript").len(), 2);
        let fixed = fixed(&line, "transcript");
        assert!(
            fixed.contains("\"We talked about tea.\\nThen coffee came up.\""),
            "{fixed}"
        );
    }

    #[test]
    fn leaves_times_inside_sentences_alone() {
        assert!(line_findings(
            &reply("We met at 10:30 for tea and talked for hours."),
            "transcript"
        )
        .is_empty());
    }

    #[test]
    fn stage_directions_are_found_and_removed() {
        let line = reply(
            "Thank you. (Applause.) It is good to be here.\n(Laughter.)\n[inaudible] and then [crosstalk] we left (Laughs) early.",
        );
        let found = line_findings(&line, "transcript");
        let shown: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            shown,
            [
                "stage direction `(Applause.)`",
                "stage direction `(Laughter.)`",
                "stage direction `[inaudible]`",
                "stage direction `[crosstalk]`",
                "stage direction `(Laughs)`",
            ]
        );
        let fixed = fixed(&line, "transcript");
        assert!(
            fixed.contains("\"Thank you. It is good to be here.\\nand then we left early.\""),
            "{fixed}"
        );
    }

    #[test]
    fn parentheses_in_prose_are_not_stage_directions() {
        assert!(line_findings(
            &reply("The music (mostly jazz) was loud, and the applause [sic] went on."),
            "transcript"
        )
        .is_empty());
    }
}
