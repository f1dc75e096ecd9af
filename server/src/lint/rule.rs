//! The three shapes of a rule: over one text field, over one record, over the whole dataset.
//! Every rule is listed once in [`super::registry`], which the engine iterates.

use super::options::LintOptions;
use super::record::{LineRef, Record, RecordLint};
use super::text::TextField;
use super::types::{Finding, RuleInfo};
use crate::dataset::Format;

/// Checks one string of training text (a message content, a prompt, a draft body). Spans and
/// fixes are in the field's decoded text; [`TextField::finding`] maps them to the file.
pub trait TextRule: Sync {
    /// The rules whose findings this check reports.
    fn rules(&self) -> &'static [&'static RuleInfo];
    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>);
}

/// When a record rule runs relative to the text rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStage {
    /// Before the text rules: structure checks, which also collect the record's text fields.
    Structure,
    /// After the text rules: measures of the whole record over its collected fields.
    Measure,
}

/// Checks one parsed record (one JSONL line). Spans are line-relative.
pub trait RecordRule: Sync {
    fn rules(&self) -> &'static [&'static RuleInfo];
    /// The record formats this rule checks.
    fn applies_to(&self, _format: Format) -> bool {
        true
    }
    fn stage(&self) -> RecordStage {
        RecordStage::Structure
    }
    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>);
}

/// Checks the dataset from the per-record summaries only (so an editor can re-lint just the
/// changed lines). Spans are file offsets.
pub trait DatasetRule: Sync {
    fn rules(&self) -> &'static [&'static RuleInfo];
    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>);
}
