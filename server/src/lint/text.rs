//! Text fields: the strings content rules look inside (message contents, prompts, completions,
//! markdown bodies), with the mapping from decoded text back to the file.

use super::options::LintOptions;
use super::types::{Applicability, Edit, Finding, Fix, RuleInfo};
use crate::dataset::json::{escape_str, JsonString};
use std::borrow::Cow;
use std::ops::Range;

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
    pub code: Vec<Range<usize>>,
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
        let code = code_regions(&string.text);
        TextField {
            role,
            string,
            encoding: FieldEncoding::Json,
            code,
        }
    }

    /// A raw region of the file (a markdown body) starting at `start`.
    pub fn raw(role: FieldRole, text: &'a str, start: usize) -> TextField<'a> {
        let string = JsonString {
            raw: text,
            raw_start: start,
            text: Cow::Borrowed(text),
        };
        let code = code_regions(text);
        TextField {
            role,
            string,
            encoding: FieldEncoding::Raw,
            code,
        }
    }

    pub fn text(&self) -> &str {
        &self.string.text
    }

    pub fn in_code(&self, range: &Range<usize>) -> bool {
        self.code
            .iter()
            .any(|c| c.start <= range.start && range.end <= c.end)
    }

    /// Maps a decoded range to the file (line-relative for JSONL).
    pub fn span(&self, range: Range<usize>) -> Range<usize> {
        self.string.raw_range(range)
    }

    /// Turns decoded-text edits into file edits, re-encoding new text for JSON strings.
    pub fn edits(&self, edits: Vec<TextEdit>) -> Vec<Edit> {
        edits
            .into_iter()
            .map(|e| Edit {
                span: self.span(e.range),
                new_text: match self.encoding {
                    FieldEncoding::Json => escape_str(&e.text),
                    FieldEncoding::Raw => e.text,
                },
            })
            .collect()
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
        let fix = fix.map(|fix| Fix {
            title: fix.title,
            edits: self.edits(fix.edits),
            applicability: fix.applicability,
        });
        opts.finding(rule, self.span(range), message, fix)
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
}
