//! Text fields: the strings content rules look inside (message contents, prompts, completions,
//! markdown bodies), with the mapping from decoded text back to the file.

use super::options::LintOptions;
use super::types::{Applicability, Edit, Finding, Fix, RuleInfo};
use crate::dataset::json::{escape_str, JsonString, OffsetMap};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

/// Which part of an example a text field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole {
    System,
    User,
    Assistant,
    Tool,
    Prompt,
    Completion,
    Text,
    /// A markdown draft's body.
    Body,
    Other,
}

impl FieldRole {
    pub fn from_chat_role(role: &str) -> FieldRole {
        match role {
            "system" | "developer" => FieldRole::System,
            "user" => FieldRole::User,
            "assistant" => FieldRole::Assistant,
            "tool" | "function" => FieldRole::Tool,
            _ => FieldRole::Other,
        }
    }
}

/// How edits inside the field are written back: JSON string escapes, or raw (markdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldEncoding {
    Json,
    Raw,
}

/// A string to check: decoded text plus the way back to raw positions.
pub struct TextField<'a> {
    pub role: FieldRole,
    pub string: JsonString<'a>,
    pub encoding: FieldEncoding,
    /// Byte ranges (of the decoded text) inside code blocks and code spans, which content rules
    /// leave alone: `<div>` in a code sample is the sample, not markup.
    pub code: Cover,
    /// Decoded -> raw offsets, built on the first finding (one pass over the string).
    offsets: OnceLock<OffsetMap>,
}

/// An edit in decoded-text coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEdit {
    pub range: Range<usize>,
    pub text: String,
}

/// A fix in decoded-text coordinates, turned into file edits by [`TextField::finding`].
#[derive(Debug, Clone, PartialEq)]
pub struct TextFix {
    pub title: String,
    pub edits: Vec<TextEdit>,
    pub applicability: Applicability,
}

impl TextFix {
    /// A safe fix of several edits.
    pub fn safe(title: impl Into<String>, edits: Vec<TextEdit>) -> TextFix {
        TextFix {
            title: title.into(),
            edits,
            applicability: Applicability::Safe,
        }
    }

    /// A safe fix that replaces `range` with `text`.
    pub fn replace(
        title: impl Into<String>,
        range: Range<usize>,
        text: impl Into<String>,
    ) -> TextFix {
        TextFix::safe(
            title,
            vec![TextEdit {
                range,
                text: text.into(),
            }],
        )
    }

    /// A safe fix that deletes `range`.
    pub fn remove(title: impl Into<String>, range: Range<usize>) -> TextFix {
        TextFix::replace(title, range, String::new())
    }
}

impl<'a> TextField<'a> {
    pub fn json(role: FieldRole, string: JsonString<'a>) -> TextField<'a> {
        let code = Cover::new(code_regions(&string.text));
        TextField {
            role,
            string,
            encoding: FieldEncoding::Json,
            code,
            offsets: OnceLock::new(),
        }
    }

    /// A raw region of the file (a markdown body) starting at `start`.
    pub fn raw(role: FieldRole, text: &'a str, start: usize) -> TextField<'a> {
        let string = JsonString {
            raw: text,
            raw_start: start,
            text: Cow::Borrowed(text),
        };
        let code = Cover::new(code_regions(text));
        TextField {
            role,
            string,
            encoding: FieldEncoding::Raw,
            code,
            offsets: OnceLock::new(),
        }
    }

    pub fn text(&self) -> &str {
        &self.string.text
    }

    /// Whether `range` lies inside a code block or span. O(log c).
    pub fn in_code(&self, range: &Range<usize>) -> bool {
        self.code.covers(range)
    }

    /// Maps a decoded range to the file (line-relative for JSONL). O(log e) after a first
    /// O(n) pass over the string, so a string's findings cost O(n + f log e) together.
    pub fn span(&self, range: Range<usize>) -> Range<usize> {
        self.offsets
            .get_or_init(|| self.string.offset_map())
            .raw_range(self.string.raw, range)
    }

    /// Turns decoded-text edits into file edits, re-encoding new text for JSON strings.
    pub fn edits(&self, edits: Vec<TextEdit>) -> Vec<Edit> {
        edits
            .into_iter()
            .map(|e| Edit {
                span: self.span(e.range),
                new_text: match self.encoding {
                    FieldEncoding::Json => escape_str(&e.text).into(),
                    FieldEncoding::Raw => e.text.into(),
                },
            })
            .collect()
    }

    /// A decoded-text fix as a file fix. Several findings that share one fix (a whole-document
    /// clean-up) convert it once and clone the result, which shares the new text.
    pub fn fix(&self, fix: TextFix) -> Fix {
        Fix {
            title: fix.title,
            edits: self.edits(fix.edits),
            applicability: fix.applicability,
        }
    }

    /// A finding of `rule` at `range` of the decoded text, if the rule is enabled.
    pub fn finding(
        &self,
        opts: &LintOptions,
        rule: &'static RuleInfo,
        range: Range<usize>,
        message: String,
        fix: Option<TextFix>,
    ) -> Option<Finding> {
        let fix = fix.map(|fix| self.fix(fix));
        self.finding_with_fix(opts, rule, range, message, fix)
    }

    /// [`Self::finding`] with a fix already in file coordinates (see [`Self::fix`]).
    pub fn finding_with_fix(
        &self,
        opts: &LintOptions,
        rule: &'static RuleInfo,
        range: Range<usize>,
        message: String,
        fix: Option<Fix>,
    ) -> Option<Finding> {
        opts.finding(rule, self.span(range), message, fix)
    }
}

/// A set of byte ranges (possibly overlapping) that answers "is this range inside one of
/// them?" in O(log n): sorted by start, with the furthest end reached so far. A rule checks
/// every match against the regions other matches claim, so a linear scan per match would make
/// a string with many of both quadratic.
#[derive(Debug, Clone, Default)]
pub struct Cover {
    starts: Vec<usize>,
    /// `max_end[i]`: the largest end among the first `i + 1` ranges.
    max_end: Vec<usize>,
}

impl Cover {
    pub fn new(mut ranges: Vec<Range<usize>>) -> Cover {
        ranges.sort_by_key(|r| r.start);
        let mut furthest = 0;
        let max_end = ranges
            .iter()
            .map(|r| {
                furthest = furthest.max(r.end);
                furthest
            })
            .collect();
        Cover {
            starts: ranges.iter().map(|r| r.start).collect(),
            max_end,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Whether some range contains `range` (start <= range.start and range.end <= end).
    pub fn covers(&self, range: &Range<usize>) -> bool {
        let n = self.starts.partition_point(|&s| s <= range.start);
        n > 0 && self.max_end[n - 1] >= range.end
    }
}

/// Fenced code blocks (``` or ~~~) and inline code spans.
pub fn code_regions(text: &str) -> Vec<Range<usize>> {
    if memchr::memchr(b'`', text.as_bytes()).is_none() && !text.contains("~~~") {
        return Vec::new();
    }
    let mut regions = Vec::new();
    let mut fence: Option<(usize, &str)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker = if trimmed.starts_with("```") {
            Some("```")
        } else if trimmed.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => fence = Some((offset, m)),
            (Some((start, m)), Some(close)) if m == close => {
                regions.push(start..offset + line.len());
                fence = None;
            }
            (None, None) => {
                // Inline code spans on this line.
                let mut search = 0;
                while let Some(open) = line[search..].find('`') {
                    let open = search + open;
                    let ticks = line[open..].len() - line[open..].trim_start_matches('`').len();
                    let delimiter = &line[open..open + ticks];
                    match line[open + ticks..].find(delimiter) {
                        Some(close) => {
                            let end = open + ticks + close + ticks;
                            regions.push(offset + open..offset + end);
                            search = end;
                        }
                        None => break,
                    }
                }
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some((start, _)) = fence {
        regions.push(start..text.len());
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_regions_cover_fences_and_spans() {
        let text = "Use `<b>` here.\n```html\n<div>x</div>\n```\nAfter <i>.";
        let regions = code_regions(text);
        assert_eq!(&text[regions[0].clone()], "`<b>`");
        assert!(text[regions[1].clone()].contains("<div>x</div>"));
        assert!(!regions.iter().any(|r| text[r.clone()].contains("<i>")));
    }

    /// Issue 17: a finding at every URL of one long string used to map each offset back
    /// through the escapes from the start of the string (quadratic: 40,000 URLs took 16.7 s).
    /// Now the string's escapes are read once, so the number of units stepped over stays
    /// within the string's length however many findings there are.
    #[test]
    fn a_url_on_every_line_of_one_string_maps_in_one_pass() {
        use crate::dataset::json::tests::UNITS_SCANNED;
        use crate::lint::rules::test_support::{opts, reply};
        let text: String = (0..3_000)
            .map(|i| format!("see https://tea.example/{i}\n"))
            .collect();
        let line = reply(&text);
        UNITS_SCANNED.with(|n| n.set(0));
        let findings = crate::lint::lint_line(&line, opts()).findings;
        let scanned = UNITS_SCANNED.with(|n| n.get());
        assert_eq!(findings.iter().filter(|f| f.rule == "url").count(), 3_000);
        assert!(
            scanned <= line.len(),
            "{scanned} units stepped over for a line of {} bytes",
            line.len()
        );
    }

    proptest::proptest! {
        /// The binary search agrees with a scan of every range.
        #[test]
        fn cover_agrees_with_a_scan(
            ranges in proptest::collection::vec((0usize..60, 0usize..20), 0..12),
            probe in (0usize..70, 0usize..20),
        ) {
            let ranges: Vec<Range<usize>> = ranges.into_iter().map(|(s, l)| s..s + l).collect();
            let probe = probe.0..probe.0 + probe.1;
            let scan = ranges.iter().any(|c| c.start <= probe.start && probe.end <= c.end);
            proptest::prop_assert_eq!(Cover::new(ranges).covers(&probe), scan);
        }
    }
}
