//! File and line syntax: invalid JSON, non-object lines, invalid UTF-8, BOM, blank lines.

use crate::dataset::json::{JsonError, Node};
use crate::lint::record::LineRef;
use crate::lint::rule::DatasetRule;
use crate::lint::{Applicability, Edit, Finding, Fix, LintOptions, RuleInfo, Severity};

pub static INVALID_JSON: RuleInfo = RuleInfo {
    code: "VT001",
    name: "invalid-json",
    severity: Severity::Error,
    summary: "A line is not valid JSON",
    doc: "Every line of a JSONL training file must be one complete JSON value. A bad line makes \
most uploaders reject the whole file (OpenAI's legacy tool aborts without saying where). The \
finding points at the column where parsing failed and says what was expected. Fix the line by \
hand: common causes are single quotes, trailing commas, raw newlines or tabs inside strings, and \
a record split over several lines.",
    fixable: false,
};

pub static NOT_AN_OBJECT: RuleInfo = RuleInfo {
    code: "VT002",
    name: "not-an-object",
    severity: Severity::Error,
    summary: "A line is valid JSON but not an object",
    doc:
        "Each JSONL line must be a JSON object such as {\"messages\": [...]}. Arrays, strings and \
numbers on their own are not training examples. Wrap the value in the record format you use.",
    fixable: false,
};

pub static INVALID_UTF8: RuleInfo = RuleInfo {
    code: "VT003",
    name: "invalid-utf8",
    severity: Severity::Error,
    summary: "Bytes that are not UTF-8",
    doc: "Training files must be UTF-8. The finding gives the byte offset of each invalid \
sequence (often a file saved as Latin-1 or Windows-1252). Re-encode the file as UTF-8, e.g. \
`iconv -f windows-1252 -t utf-8`. voicetune will not write fixes to such a file, because it \
cannot know what the bytes meant.",
    fixable: false,
};

pub static BOM: RuleInfo = RuleInfo {
    code: "VT004",
    name: "bom",
    severity: Severity::Warning,
    summary: "A byte-order mark at the start of the file",
    doc: "A UTF-8 byte-order mark (EF BB BF) makes the first line invalid JSON for many \
parsers. The fix removes it.",
    fixable: true,
};

pub static BLANK_LINE: RuleInfo = RuleInfo {
    code: "VT005",
    name: "blank-line",
    severity: Severity::Warning,
    summary: "An empty line in a JSONL file",
    doc: "Blank lines are not records; some uploaders (Together's checker, for one) reject the \
file because of them. The fix deletes the line.",
    fixable: true,
};

pub fn invalid_json(line: &str, err: &JsonError, opts: &LintOptions) -> Option<Finding> {
    let start = err.offset.min(line.len());
    let end = line[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    let column = line[..start].chars().count() + 1;
    opts.finding(
        &INVALID_JSON,
        start..end,
        format!("invalid JSON at column {column}: {}", err.message),
        None,
    )
}

pub fn not_an_object(node: &Node, opts: &LintOptions) -> Option<Finding> {
    opts.finding(
        &NOT_AN_OBJECT,
        node.span.clone(),
        format!(
            "the line is {}, not a JSON object; each line must be one training example object",
            node.type_name()
        ),
        None,
    )
}

pub fn invalid_utf8(offsets: &[usize], opts: &LintOptions) -> Vec<Finding> {
    offsets
        .iter()
        .filter_map(|&at| {
            opts.finding(
                &INVALID_UTF8,
                at..at + 1,
                format!("invalid UTF-8 at byte offset {at}; re-encode the file as UTF-8"),
                None,
            )
        })
        .collect()
}

pub fn bom(text: &str, opts: &LintOptions) -> Option<Finding> {
    text.starts_with('\u{feff}').then_some(())?;
    let fix = Fix::safe("Remove the byte-order mark", vec![Edit::delete(0..3)]);
    opts.finding(
        &BOM,
        0..3,
        "the file starts with a UTF-8 byte-order mark".into(),
        Some(fix),
    )
}

pub struct BlankLines;

impl DatasetRule for BlankLines {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&BLANK_LINE];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        blank_lines(records, opts, out);
    }
}

fn blank_lines(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    for record in records.iter().filter(|r| !r.summary.is_record) {
        let fix = Fix::delete_record(
            "Delete the blank line",
            record.full_span.clone(),
            Applicability::Safe,
        );
        let span = record.full_span.start..record.full_span.start;
        out.extend(opts.finding(
            &BLANK_LINE,
            span,
            "blank line in a JSONL file".into(),
            Some(fix),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_lines_that_are_not_json_objects() {
        assert_eq!(line_findings(r#"{"messages": [}"#, "invalid-json").len(), 1);
        assert_eq!(line_findings("[1, 2]", "not-an-object").len(), 1);
        assert_eq!(invalid_utf8(&[5], opts()).len(), 1);
    }

    #[test]
    fn removes_a_bom_and_blank_lines() {
        let lines = clean_lines(12);
        let text = format!(
            "\u{feff}{}\n\n{}\n",
            lines[..6].join("\n"),
            lines[6..].join("\n")
        );
        assert_eq!(file_findings(&text, "bom").len(), 1);
        assert_eq!(file_findings(&text, "blank-line").len(), 1);
        let fixed = fixed(&fixed(&text, "bom"), "blank-line");
        assert_eq!(fixed, lines.join("\n") + "\n");
    }

    #[test]
    fn a_clean_file_has_no_syntax_findings() {
        let text = clean_lines(12).join("\n") + "\n";
        for rule in [
            "invalid-json",
            "not-an-object",
            "invalid-utf8",
            "bom",
            "blank-line",
        ] {
            assert!(file_findings(&text, rule).is_empty(), "{rule}");
        }
        assert!(invalid_utf8(&[], opts()).is_empty());
    }
}
