//! Transcript artefacts: timestamps, speaker labels with times, subtitle cue timings.

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

pub static TRANSCRIPT: RuleInfo = RuleInfo {
    code: "VT106",
    name: "transcript",
    severity: Severity::Warning,
    summary: "Transcript timestamps or speaker labels in training text",
    doc: "Podcast and video transcripts carry lines like `Katie Robbert 0:25`, `[00:12:05]` and \
`00:00:01,000 --> 00:00:04,000`. The model learns to print them. The fix removes the label line \
or the timestamp.",
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
    if !opts.enabled(&TRANSCRIPT) || !has_clock_time(text) {
        return;
    }
    // Line breaks found once: looking for them around each match would be quadratic in a
    // long text without breaks.
    let breaks: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
    for m in clean::TRANSCRIPT_ARTEFACT
        .find_iter(text)
        .filter(|m| !field.in_code(&m.range()))
    {
        let shown = m.as_str().trim();
        if shown.is_empty() {
            continue;
        }
        // A whole label line goes with its line break; a timestamp prefix goes alone.
        let before = breaks.partition_point(|&b| b < m.start());
        let line_start = before.checked_sub(1).map_or(0, |i| breaks[i] + 1);
        let after = breaks.partition_point(|&b| b < m.end());
        let line_end = breaks.get(after).copied().unwrap_or(text.len());
        // A run of timestamps at the start of a line goes in one fix: one per round would take
        // a fix-all round per timestamp (found by the fuzz harness, tests/lint_fuzz).
        let (rest, stamps) = clean::strip_line_timestamp(&text[m.start()..line_end]);
        let end = if stamps > 1 {
            line_end - rest.len()
        } else {
            m.end()
        };
        let whole_line =
            text[line_start..m.start()].trim().is_empty() && text[end..line_end].trim().is_empty();
        let removal = if whole_line {
            line_removal(text, line_start..line_end)
        } else {
            m.start()..end
        };
        let fix = TextFix::remove("Remove the transcript artefact", removal);
        out.extend(field.finding(
            opts,
            &TRANSCRIPT,
            m.start()..m.start() + shown.len() + (m.as_str().len() - m.as_str().trim_start().len()),
            format!("transcript artefact `{shown}`"),
            Some(fix),
        ));
    }
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

    /// Found by the fuzz harness: 41 timestamps in a row took one fix-all round each, more
    /// than fix-all runs.
    #[test]
    fn a_run_of_timestamps_is_removed_in_one_round() {
        let line = reply(&format!("{}We talked about tea.", "[00:12:05]".repeat(41)));
        assert_eq!(line_findings(&line, "transcript").len(), 1);
        assert!(fixed(&line, "transcript").contains("\"We talked about tea.\""));
    }

    #[test]
    fn leaves_times_inside_sentences_alone() {
        assert!(line_findings(
            &reply("We met at 10:30 for tea and talked for hours."),
            "transcript"
        )
        .is_empty());
    }
}
