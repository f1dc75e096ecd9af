//! The lint engine: rules over records, one [`Finding`] type carrying an optional [`Fix`] end to
//! end (CLI output, `--fix`, LSP diagnostics and code actions).
//!
//! JSONL files are linted line by line ([`lint_line`], in parallel over lines) into per-line
//! findings plus a small [`RecordSummary`]; dataset-wide rules (duplicates, templates, separator
//! majority, counts, mixed formats) run over the summaries only ([`dataset_findings`]), so an
//! editor can re-lint just the changed lines.

pub mod engine;
pub mod fix;
pub mod rules;
pub mod text;

pub use engine::{
    dataset_findings, file_stats, lint_file, lint_line, lint_text, FileReport, LineResult,
    LintOptions, RecordSummary,
};
pub use fix::{apply_fixes, FixMode};

use serde::{Deserialize, Serialize};
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Hint,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Hint => "hint",
        }
    }
}

/// Whether `--fix` applies a fix by default. Unsafe fixes change meaning or drop data and need
/// `--unsafe-fixes` (or an explicit quick fix in the editor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    Safe,
    Unsafe,
}

/// Replace the bytes in `span` (of the whole file) with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub span: Range<usize>,
    pub new_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
    pub applicability: Applicability,
}

impl Fix {
    pub fn safe(title: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            title: title.into(),
            edits,
            applicability: Applicability::Safe,
        }
    }

    pub fn unsafe_(title: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            title: title.into(),
            edits,
            applicability: Applicability::Unsafe,
        }
    }

    /// The same fix with every edit moved by `delta` bytes (line-relative -> file offsets).
    pub fn shifted(mut self, delta: usize) -> Fix {
        for edit in &mut self.edits {
            edit.span = edit.span.start + delta..edit.span.end + delta;
        }
        self
    }
}

/// What a rule is: stable code, kebab-case name, default severity and its documentation.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// One line, for the rules table.
    pub summary: &'static str,
    /// What, why, how to fix: printed by `voicetune rule NAME`.
    pub doc: &'static str,
    /// Whether findings of this rule usually carry a fix.
    pub fixable: bool,
}

/// One problem at one place, with an optional fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's code, e.g. `VT101`.
    pub code: String,
    /// The rule's name, e.g. `html`.
    pub rule: String,
    pub severity: Severity,
    /// Byte range in the file (or in the line, inside [`LineResult`]).
    pub span: Range<usize>,
    pub message: String,
    pub fix: Option<Fix>,
}

impl Finding {
    /// The same finding with its span and fix moved by `delta` bytes.
    pub fn shifted(mut self, delta: usize) -> Finding {
        self.span = self.span.start + delta..self.span.end + delta;
        self.fix = self.fix.map(|f| f.shifted(delta));
        self
    }

    pub fn rule_info(&self) -> Option<&'static RuleInfo> {
        rule_by_name(&self.code)
    }
}

/// Every rule, in the order of the README table.
pub fn all_rules() -> &'static [&'static RuleInfo] {
    rules::ALL
}

/// Finds a rule by name (`html`) or code (`VT101`), case-insensitively.
pub fn rule_by_name(name: &str) -> Option<&'static RuleInfo> {
    rules::ALL
        .iter()
        .copied()
        .find(|r| r.name.eq_ignore_ascii_case(name) || r.code.eq_ignore_ascii_case(name))
}
