//! The lint vocabulary shared by every face and rule: severities, findings, fixes, edits and
//! rule metadata. A leaf: it depends on std and serde only, so the config, the CLI and the
//! language server can name these types without pulling in the engine.

use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

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
    /// Shared: the findings of one HTML document all carry the same whole-text conversion, and
    /// a copy each would make memory quadratic in the number of tags.
    #[serde(with = "shared_str")]
    pub new_text: Arc<str>,
}

/// `Arc<str>` as a plain JSON string (serde's own support needs its `rc` feature, which would
/// rebuild every crate that uses serde).
mod shared_str {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(d).map(Arc::from)
    }
}

impl Edit {
    pub fn replace(span: Range<usize>, new_text: impl Into<Arc<str>>) -> Edit {
        Edit {
            span,
            new_text: new_text.into(),
        }
    }

    pub fn delete(span: Range<usize>) -> Edit {
        Edit::replace(span, String::new())
    }

    pub fn insert(at: usize, new_text: impl Into<Arc<str>>) -> Edit {
        Edit::replace(at..at, new_text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
    pub applicability: Applicability,
}

impl Fix {
    pub fn new(title: impl Into<String>, edits: Vec<Edit>, applicability: Applicability) -> Fix {
        Fix {
            title: title.into(),
            edits,
            applicability,
        }
    }

    pub fn safe(title: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix::new(title, edits, Applicability::Safe)
    }

    pub fn unsafe_(title: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix::new(title, edits, Applicability::Unsafe)
    }

    /// A safe fix of one edit that replaces `span` with `new_text`.
    pub fn replace(
        title: impl Into<String>,
        span: Range<usize>,
        new_text: impl Into<Arc<str>>,
    ) -> Fix {
        Fix::safe(title, vec![Edit::replace(span, new_text)])
    }

    /// Deletes a whole record: `line_span` is the line with its line break, so the lines
    /// around it close up.
    pub fn delete_record(
        title: impl Into<String>,
        line_span: Range<usize>,
        applicability: Applicability,
    ) -> Fix {
        Fix::new(title, vec![Edit::delete(line_span)], applicability)
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

impl RuleInfo {
    /// Whether `name` is this rule's name or code (case-insensitively), as config and flags
    /// may spell it.
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name) || self.code.eq_ignore_ascii_case(name)
    }
}

/// One problem at one place, with an optional fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's code, e.g. `VT101`.
    pub code: String,
    /// The rule's name, e.g. `html`.
    pub rule: String,
    pub severity: Severity,
    /// Byte range in the file (or in the line, inside a per-line result).
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
}
