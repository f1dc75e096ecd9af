//! Findings -> `Diagnostic`s. The finding's fix travels in `Diagnostic.data`, so a code action
//! rebuilds the edit without re-linting.
//!
//! A per-line finding's fix is stored relative to its line together with a hash of the line's
//! text (the cached diagnostic survives edits elsewhere that move the line); a dataset-wide
//! finding's fix is stored with file offsets and the document version it belongs to.

use crate::lint::{Finding, Fix, Severity};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use tower_lsp_server::ls_types::{Diagnostic, DiagnosticSeverity, NumberOrString, Range};

pub const SOURCE: &str = "voicetune";

/// What a stored fix's offsets are relative to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "anchor", content = "key")]
pub enum Anchor {
    /// Offsets relative to the start of the diagnostic's line, valid while the line's text hashes
    /// to this (hex, as Lua clients would round a large integer).
    Line(String),
    /// File offsets, valid for this document version.
    Version(i32),
}

/// What `Diagnostic.data` holds (serialized into a JSON string).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Data {
    pub rule: String,
    #[serde(flatten)]
    pub anchor: Anchor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// The fix was too large to carry (over [`MAX_CARRIED_FIX`] bytes): the code action looks
    /// the finding up in the document.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fix_by_lookup: bool,
}

/// Fixes with more new text than this stay in the server: a whole-document HTML conversion is
/// shared by every tag of the document, and a copy in each diagnostic would make a publish
/// quadratic in the document's size.
pub const MAX_CARRIED_FIX: usize = 4096;

pub fn hash(line: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    line.hash(&mut h);
    format!("{:016x}", h.finish())
}

pub fn severity(s: Severity) -> DiagnosticSeverity {
    match s {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
        Severity::Info => DiagnosticSeverity::INFORMATION,
        Severity::Hint => DiagnosticSeverity::HINT,
    }
}

pub fn to_diagnostic(f: &Finding, range: Range, anchor: Anchor) -> Diagnostic {
    let large = f.fix.as_ref().is_some_and(|fix| {
        fix.edits.iter().map(|e| e.new_text.len()).sum::<usize>() > MAX_CARRIED_FIX
    });
    let data = Data {
        rule: f.rule.clone(),
        anchor,
        fix: if large { None } else { f.fix.clone() },
        fix_by_lookup: large,
    };
    Diagnostic {
        range,
        severity: Some(severity(f.severity)),
        code: Some(NumberOrString::String(f.code.clone())),
        source: Some(SOURCE.to_string()),
        message: f.message.clone(),
        // As a JSON string: the client hands it back verbatim, and cloning a string for every
        // publish costs far less than cloning a JSON tree.
        data: serde_json::to_string(&data)
            .ok()
            .map(serde_json::Value::String),
        ..Diagnostic::default()
    }
}

/// Reads our data back from a diagnostic the client returned.
pub fn data_of(d: &Diagnostic) -> Option<Data> {
    if d.source.as_deref() != Some(SOURCE) {
        return None;
    }
    match d.data.as_ref()? {
        serde_json::Value::String(text) => serde_json::from_str(text).ok(),
        other => serde_json::from_value(other.clone()).ok(),
    }
}
