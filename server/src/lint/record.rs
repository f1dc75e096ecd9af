//! What the rules look at: one parsed record ([`Record`]), what per-record rules produce
//! ([`RecordLint`]), and what dataset-wide rules keep of each record ([`RecordSummary`],
//! [`LineRef`]).

use super::rules::{legacy::LegacySummary, near_duplicates::Signature};
use super::text::TextField;
use super::types::Finding;
use crate::dataset::json::Node;
use crate::dataset::Format;
use std::ops::Range;

/// What the per-record rules see.
pub struct Record<'a> {
    pub node: &'a Node<'a>,
    pub format: Format,
    pub line: &'a str,
}

/// What per-record rules add while a record is linted: findings (line-relative spans), the text
/// fields the text rules then check, and the summary the dataset-wide rules read later.
#[derive(Default)]
pub struct RecordLint<'a> {
    pub findings: Vec<Finding>,
    pub fields: Vec<TextField<'a>>,
    pub summary: RecordSummary,
}

/// What dataset-wide rules need to know about one record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordSummary {
    /// False for blank lines (which are not records).
    pub is_record: bool,
    /// The detected format, if the line parsed as an object of a known format.
    pub format: Option<Format>,
    /// Hash of the normalised example (roles + whitespace-folded, lower-cased text).
    pub content_hash: Option<u64>,
    /// MinHash signature of the record's word 3-shingles, for near-duplicate detection.
    pub minhash: Option<Box<Signature>>,
    /// Tokens as the target model's service counts them.
    pub tokens: Option<usize>,
    /// Hashes of the first and last characters of the output text, for template detection.
    pub template: Option<(u64, u64)>,
    /// Boxed: most records are chat, and the language server keeps a summary per line.
    pub legacy: Option<Box<LegacySummary>>,
    /// The keys of a record that matches no format: a file whose records all share them gets
    /// one finding, not one per line. Each key says whether its value is text.
    pub unknown_keys: Option<Box<[(String, bool)]>>,
}

/// Findings of one line (spans relative to the line start) and its summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineResult {
    pub findings: Vec<Finding>,
    pub summary: RecordSummary,
}

/// A record as the dataset-wide rules see it.
pub struct LineRef<'a> {
    pub index: usize,
    /// The line's bytes including its line break (what deleting the line removes).
    pub full_span: Range<usize>,
    pub summary: &'a RecordSummary,
}
