//! The lint engine: rules over records, one [`Finding`] type carrying an optional [`Fix`] end to
//! end (CLI output, `--fix`, LSP diagnostics and code actions).
//!
//! JSONL files are linted line by line ([`lint_line`], in parallel over lines) into per-line
//! findings plus a small [`RecordSummary`]; dataset-wide rules (duplicates, templates, separator
//! majority, counts, mixed formats) run over the summaries only ([`dataset_findings`]), so an
//! editor can re-lint just the changed lines.
//!
//! Layout: [`types`] is the leaf vocabulary (severity, finding, fix, rule metadata); [`rule`]
//! the three rule shapes; [`registry`] lists every rule once; [`engine`] runs them over
//! [`record`]s with the [`options`] resolved from the config; [`fix`] applies fixes; [`report`]
//! renders findings as text, JSON or GitHub annotations.

pub mod engine;
pub mod fix;
pub mod json_array;
pub mod markdown;
pub mod options;
pub mod record;
pub mod registry;
pub mod report;
pub mod rule;
pub mod rules;
pub mod text;
pub mod types;

pub use engine::{dataset_findings, file_stats, lint_file, lint_line, lint_text, FileReport};
pub use fix::{apply_fixes, fix_until_clean, FixMode};
pub use options::{
    check_config, check_rule_names, config_for_file, load_config, LintOptions, UnknownRule,
};
pub use record::{LineRef, LineResult, Record, RecordLint, RecordSummary};
pub use registry::{all_rules, rule_by_name, rules_listing, rules_table_markdown};
pub use types::{Applicability, Edit, Finding, Fix, RuleInfo, Severity};
