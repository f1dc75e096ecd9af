//! Rendering findings for people and machines: rustc/ruff-style text, JSON, GitHub annotations.

use super::types::{Applicability, Finding, Severity};
use crate::dataset::columns::{Columns, Unit};
use serde::Serialize;
use std::path::Path;

/// A byte offset as 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Converts byte offsets of one text to line/column: O(n) to build, then O(log lines) per
/// lookup whatever the length of the line (see [`Columns`]).
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    columns: Columns<'a>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        LineIndex {
            text,
            starts: crate::dataset::line_starts(text),
            columns: Columns::new(text, Unit::Chars),
        }
    }

    fn floor(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = self.floor(offset);
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.columns.count(self.starts[line]..offset) + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }

    /// The text of 1-based `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &'a str {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(self.text.len(), |&e| e - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    /// A character boundary of 1-based `line` near `offset`: (byte in the line, character
    /// index), clamped to the line's text.
    fn line_anchor(&self, offset: usize, line: usize) -> (usize, usize) {
        let start = self.starts[line - 1];
        let byte = self
            .floor(offset)
            .saturating_sub(start)
            .min(self.line_text(line).len());
        (byte, self.columns.count(start..start + byte))
    }

    /// Characters in 1-based `line` (without its line break).
    fn line_chars(&self, line: usize) -> usize {
        let start = self.starts[line - 1];
        self.columns
            .count(start..start + self.line_text(line).len())
    }
}

/// Text from a file made safe to print on a terminal: C0 controls other than tab (ESC, BEL, CR,
/// LF, ...) and DEL become their Unicode control pictures (`␛`, `␇`, `␍`), C1 controls become
/// `�`, so data can neither move the cursor nor set the window title. One character stays one
/// character, so carets under a line still line up.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let is_control = |c: char| c.is_control() && c != '\t';
    if !text.contains(is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| match c {
            '\t' => c,
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect::<String>()
        .into()
}

/// [`escape_controls`] line by line, keeping the line breaks of a multi-line message.
pub fn escape_controls_by_line(text: &str) -> String {
    text.split('\n')
        .map(escape_controls)
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    file: String,
    start: LineCol,
    end: LineCol,
    #[serde(flatten)]
    finding: &'a Finding,
    /// The index in the output of the finding that carries this one's fix (see [`JsonReport`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    fix_same_as: Option<usize>,
}

/// Edits at least this long are printed once per report: the findings of one HTML document all
/// carry the same whole-text conversion, and printing it with each would make the output (and
/// its memory) quadratic in the number of tags.
const SHARED_FIX_BYTES: usize = 1024;

/// The findings of `voicetune lint --format json`, in order. A finding whose fix is a large one
/// already printed for an earlier finding (the same edits) has no `fix` but `fix_same_as`, the
/// index of that earlier finding in the array. Linear in the findings and the text.
#[derive(Default)]
pub struct JsonReport {
    findings: Vec<serde_json::Value>,
    /// Large fixes printed so far: their edits (text pointer and span) and the finding's index.
    printed_fixes: std::collections::HashMap<Vec<(usize, usize, usize)>, usize>,
}

impl JsonReport {
    pub fn push(&mut self, path: &Path, index: &LineIndex, finding: &Finding) {
        let here = self.findings.len();
        let shared = finding.fix.as_ref().and_then(|fix| {
            if !fix
                .edits
                .iter()
                .any(|e| e.new_text.len() >= SHARED_FIX_BYTES)
            {
                return None;
            }
            let key = fix
                .edits
                .iter()
                .map(|e| (e.new_text.as_ptr() as usize, e.span.start, e.span.end))
                .collect();
            match self.printed_fixes.entry(key) {
                std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(here);
                    None
                }
            }
        });
        let without_fix;
        let finding = match shared {
            Some(_) => {
                without_fix = Finding {
                    fix: None,
                    ..finding.clone()
                };
                &without_fix
            }
            None => finding,
        };
        let value = serde_json::to_value(JsonFinding {
            file: path.display().to_string(),
            start: index.line_col(finding.span.start),
            end: index.line_col(finding.span.end),
            finding,
            fix_same_as: shared,
        })
        .expect("findings serialise");
        self.findings.push(value);
    }

    pub fn to_string_pretty(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(&self.findings)
    }
}

/// One finding as a GitHub Actions workflow command.
pub fn to_github(path: &Path, index: &LineIndex, finding: &Finding) -> String {
    let at = index.line_col(finding.span.start);
    let level = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Hint => "notice",
    };
    let escape = |s: &str| {
        let s = s
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A");
        escape_controls(&s).into_owned()
    };
    format!(
        "::{level} file={},line={},col={},title={} {}::{}",
        escape_controls(&path.display().to_string()),
        at.line,
        at.column,
        finding.code,
        finding.rule,
        escape(&finding.message)
    )
}

/// One finding the way rustc and ruff print them: location, code, message, the source line
/// (a window of it for long lines) with a caret under the span.
pub fn to_text(path: &Path, index: &LineIndex, finding: &Finding) -> String {
    let at = index.line_col(finding.span.start);
    let end = index.line_col(finding.span.end);
    let mut out = format!(
        "{}:{}:{}: {} {} [{}] {}\n",
        escape_controls(&path.display().to_string()),
        at.line,
        at.column,
        finding.severity.label(),
        finding.code,
        finding.rule,
        escape_controls(&finding.message)
    );
    let line = index.line_text(at.line);
    let line_chars = index.line_chars(at.line);
    let caret_start = at.column - 1;
    let caret_end = if end.line == at.line {
        (end.column - 1).max(caret_start + 1)
    } else {
        line_chars.max(caret_start + 1)
    };
    // Long lines (a 500 KB example) get a window around the caret, cut out by walking at most
    // a window's characters from the caret (never the whole line: one line may hold 100,000
    // findings).
    const WINDOW: usize = 100;
    let window_start = caret_start.saturating_sub(WINDOW / 3);
    let window_end = (window_start + WINDOW).min(line_chars);
    let prefix = if window_start > 0 { "…" } else { "" };
    let suffix = if window_end < line_chars { "…" } else { "" };
    let anchor = index.line_anchor(finding.span.start, at.line);
    let shown = char_window(line, anchor, window_start..window_end);
    let shown = escape_controls(shown).replace('\t', " ");
    let gutter = at.line.to_string().len();
    let pad = " ".repeat(gutter);
    let caret_len = caret_end.min(window_end.max(caret_start + 1)) - caret_start;
    out.push_str(&format!("{pad} |\n{} | {prefix}{shown}{suffix}\n", at.line));
    out.push_str(&format!(
        "{pad} | {}{}{}\n",
        " ".repeat(prefix.chars().count()),
        " ".repeat(caret_start - window_start.min(caret_start)),
        "^".repeat(caret_len.max(1))
    ));
    if let Some(fix) = &finding.fix {
        let kind = match fix.applicability {
            Applicability::Safe => "fix",
            Applicability::Unsafe => "unsafe fix",
        };
        out.push_str(&format!(
            "{pad} = {kind}: {}\n",
            escape_controls(&fix.title)
        ));
    }
    out
}

/// Characters `chars` of `line`, found by walking from `anchor` (a byte offset on a character
/// boundary and its character index): O(distance + window), not O(line).
fn char_window(line: &str, anchor: (usize, usize), chars: std::ops::Range<usize>) -> &str {
    let (byte, at) = anchor;
    let start = match chars.start.cmp(&at) {
        std::cmp::Ordering::Equal => byte,
        std::cmp::Ordering::Less => line[..byte]
            .char_indices()
            .rev()
            .nth(at - chars.start - 1)
            .map_or(0, |(i, _)| i),
        std::cmp::Ordering::Greater => line[byte..]
            .char_indices()
            .nth(chars.start - at)
            .map_or(line.len(), |(i, _)| byte + i),
    };
    let end = line[start..]
        .char_indices()
        .nth(chars.len())
        .map_or(line.len(), |(i, _)| start + i);
    &line[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        let text = "é😀x\nsecond";
        let index = LineIndex::new(text);
        assert_eq!(
            index.line_col(text.find('x').unwrap()),
            LineCol { line: 1, column: 3 }
        );
        assert_eq!(
            index.line_col(text.find("second").unwrap()),
            LineCol { line: 2, column: 1 }
        );
        assert_eq!(index.line_col(999), LineCol { line: 2, column: 7 });
        assert_eq!(index.line_text(1), "é😀x");
    }

    /// The window the text output showed before it was cut out by walking (collecting the
    /// whole line's characters for every finding).
    fn window_by_collecting(line: &str, range: std::ops::Range<usize>) -> String {
        let chars: Vec<char> = line.chars().collect();
        chars[range.start.min(chars.len())..range.end.min(chars.len())]
            .iter()
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn char_window_equals_collecting_the_line(
            pieces in proptest::collection::vec(proptest::sample::select(vec!["a", "é", "中", "😀", "\t"]), 0..300),
            anchor in 0usize..320,
            start in 0usize..320,
            len in 0usize..120,
        ) {
            let line: String = pieces.concat();
            let n = line.chars().count();
            let at = anchor.min(n);
            let byte = line.char_indices().nth(at).map_or(line.len(), |(i, _)| i);
            let end = (start + len).min(n);
            let start = start.min(end);
            proptest::prop_assert_eq!(
                char_window(&line, (byte, at), start..end),
                window_by_collecting(&line, start..end)
            );
        }
    }

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(
            escape_controls("x\u{1b}]0;TITLE\u{7}\ty\r\u{7f}\u{9b}é"),
            "x␛]0;TITLE␇\ty␍␡\u{fffd}é"
        );
        assert!(matches!(
            escape_controls("plain\ttext"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(escape_controls_by_line("a\u{1b}\nb"), "a␛\nb");
    }
}
