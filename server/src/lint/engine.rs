//! Runs the rules: per line (JSONL) or per document (markdown), then dataset-wide. The rules
//! come from [`super::registry`]; the readers here report only what stops a record from being
//! read (invalid JSON, a line that is not an object, an unknown or unexpected format).

use super::record::RecordLint;
use super::registry::{DATASET_RULES, RECORD_RULES, TEXT_RULES};
use super::rule::RecordStage;
use super::rules;
use super::text::{FieldRole, TextField};
use super::types::{Finding, Severity};
use crate::config::FormatSetting;
use crate::dataset::json::{self, Node, Value};
use crate::dataset::{self, FileKind, Format};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

// Paths of these types from before they had their own modules.
pub use super::options::LintOptions;
pub use super::record::{LineRef, LineResult, Record, RecordSummary};

/// Lints one JSONL line (without its line break).
pub fn lint_line(line: &str, opts: &LintOptions) -> LineResult {
    let mut out = Vec::new();
    let mut summary = RecordSummary::default();
    if line.trim().is_empty() {
        return LineResult {
            findings: out,
            summary,
        }; // Blank lines are a dataset-level finding.
    }
    summary.is_record = true;
    let node = match json::parse(line) {
        Ok(node) => node,
        Err(err) => {
            out.extend(rules::syntax::invalid_json(line, &err, opts));
            return LineResult {
                findings: out,
                summary,
            };
        }
    };
    if !matches!(node.value, Value::Object(_)) {
        out.extend(rules::syntax::not_an_object(&node, opts));
        return LineResult {
            findings: out,
            summary,
        };
    }
    let detected = Format::detect(&node);
    let format = match (opts.config.format, detected) {
        (FormatSetting::Auto, Some(f)) => f,
        (FormatSetting::Auto, None) => {
            // Reported over the whole file (`rules::shapes`): one finding for one shape.
            summary.unknown_keys = Some(rules::keys::record_keys(&node));
            return LineResult {
                findings: out,
                summary,
            };
        }
        (setting, detected) => {
            let wanted = match setting {
                FormatSetting::Chat => Format::Chat,
                FormatSetting::PromptCompletion => Format::PromptCompletion,
                _ => Format::Preference,
            };
            if detected.is_some_and(|d| d != wanted) {
                out.extend(rules::mixed_formats::not_configured_format(
                    &node, detected, wanted, opts,
                ));
            }
            wanted
        }
    };
    summary.format = Some(format);
    let record = Record {
        node: &node,
        format,
        line,
    };
    let mut lint = RecordLint {
        findings: out,
        fields: Vec::new(),
        summary,
    };
    if format == Format::Text {
        // Plain-text records have no structure to check: their one field is read here (on
        // Together it may be a list of content parts, checked as a user message's).
        match node.get("text") {
            Some(
                text @ Node {
                    value: Value::Array(parts),
                    ..
                },
            ) if opts.config.provider == crate::config::Provider::Together => {
                let (findings, fields) = (&mut lint.findings, &mut lint.fields);
                rules::roles::check_parts(
                    text,
                    parts,
                    Some("user"),
                    FieldRole::Text,
                    opts,
                    findings,
                    fields,
                );
            }
            Some(text) if text.as_str().is_some_and(|s| s.text.trim().is_empty()) => {
                lint.findings.extend(opts.finding(
                    &rules::roles::EMPTY_CONTENT,
                    text.span.clone(),
                    "`text` is empty: nothing to learn; fill it in or drop the line".into(),
                    None,
                ));
            }
            _ => lint.fields = text_fields_of(&node, "text", FieldRole::Text),
        }
    }
    run_record_rules(&record, RecordStage::Structure, opts, &mut lint);
    run_text_rules(&lint.fields, opts, &mut lint.findings);
    summarize_for_dataset_rules(&mut lint, opts);
    run_record_rules(&record, RecordStage::Measure, opts, &mut lint);
    LineResult {
        findings: lint.findings,
        summary: lint.summary,
    }
}

fn run_record_rules<'a>(
    record: &Record<'a>,
    stage: RecordStage,
    opts: &LintOptions,
    out: &mut RecordLint<'a>,
) {
    for rule in RECORD_RULES
        .iter()
        .filter(|r| r.stage() == stage && r.applies_to(record.format))
    {
        rule.check_record(record, opts, out);
    }
}

/// Runs every text rule over every non-empty field.
pub fn run_text_rules(fields: &[TextField], opts: &LintOptions, out: &mut Vec<Finding>) {
    for field in fields.iter().filter(|f| !f.text().is_empty()) {
        for rule in TEXT_RULES {
            rule.check_text(field, opts, out);
        }
    }
}

/// What the dataset-wide rules keep of a record's text. It costs a pass over the text: only
/// for the rules that use it.
fn summarize_for_dataset_rules(lint: &mut RecordLint, opts: &LintOptions) {
    let fields = &lint.fields;
    let summary = &mut lint.summary;
    if opts.enabled(&rules::duplicates::DUPLICATE)
        || opts.enabled(&rules::near_duplicates::NEAR_DUPLICATE)
    {
        let words = rules::duplicates::word_hashes(fields);
        // A record without a single word (empty or blank texts: one role marker per field) is
        // `empty-content`'s finding; calling two of them duplicates would only add noise, and a
        // fix that empties one example must not turn an untouched blank one into its duplicate.
        if words.len() > fields.len() {
            summary.content_hash = Some(rules::duplicates::content_hash(&words));
        }
        if opts.enabled(&rules::near_duplicates::NEAR_DUPLICATE) {
            summary.minhash = rules::near_duplicates::signature(&words);
        }
    }
    if opts.enabled(&rules::templated::TEMPLATED) {
        summary.template = rules::templated::template_key(fields, opts);
    }
}

fn text_fields_of<'a>(node: &Node<'a>, key: &str, role: FieldRole) -> Vec<TextField<'a>> {
    node.get(key)
        .and_then(Node::as_str)
        .map(|s| vec![TextField::json(role, s.clone())])
        .unwrap_or_default()
}

/// Dataset-wide findings (duplicates, templates, separator majority, counts, mixed formats),
/// from the per-record summaries only. Spans are file offsets.
pub fn dataset_findings(records: &[LineRef], opts: &LintOptions) -> Vec<Finding> {
    // Independent passes over the summaries, side by side (the near-duplicate one is the
    // longest); findings are concatenated in the registry's order.
    DATASET_RULES
        .par_iter()
        .map(|rule| {
            let mut out = Vec::new();
            rule.check_dataset(records, opts, &mut out);
            out
        })
        .collect::<Vec<_>>()
        .concat()
}

/// Lints a whole file's text. Findings are sorted by position.
pub fn lint_text(text: &str, kind: FileKind, opts: &LintOptions) -> Vec<Finding> {
    let mut findings = match kind {
        FileKind::Jsonl => lint_jsonl(text, opts),
        FileKind::Markdown => super::markdown::lint_document(text, opts),
        FileKind::Json => super::json_array::lint_document(text, opts),
    };
    findings.extend(rules::syntax::bom(text, opts));
    findings.sort_by(|a, b| {
        (a.span.start, a.span.end, &a.code).cmp(&(b.span.start, b.span.end, &b.code))
    });
    findings
}

fn lint_jsonl(text: &str, opts: &LintOptions) -> Vec<Finding> {
    let body_start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let lines: Vec<dataset::Line> = dataset::lines(&text[body_start..])
        .map(|l| dataset::Line {
            start: l.start + body_start,
            ..l
        })
        .collect();
    // Lines are independent: lint them on all cores, in order.
    let results: Vec<LineResult> = lines
        .par_iter()
        .with_min_len(64)
        .map(|l| lint_line(l.text, opts))
        .collect();
    let mut findings = Vec::new();
    let mut refs = Vec::with_capacity(lines.len());
    for (line, result) in lines.iter().zip(&results) {
        findings.extend(
            result
                .findings
                .iter()
                .cloned()
                .map(|f| f.shifted(line.start)),
        );
        refs.push(LineRef {
            index: line.index,
            full_span: line.full_span(),
            summary: &result.summary,
        });
    }
    findings.extend(dataset_findings(&refs, opts));
    findings
}

/// A linted file: its path, text (as linted) and findings.
pub struct FileReport {
    pub path: PathBuf,
    pub kind: FileKind,
    pub text: String,
    pub findings: Vec<Finding>,
    /// Byte offsets of invalid UTF-8 sequences; the text has `?` in their place, so fixes must
    /// not be written back (they would replace the original bytes).
    pub invalid_utf8: Vec<usize>,
}

impl FileReport {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Reads and lints one file. I/O errors and unsupported extensions are errors; everything
/// wrong inside the file is a finding.
pub fn lint_file(path: &Path, opts: &LintOptions) -> anyhow::Result<FileReport> {
    let kind = FileKind::from_path(path).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: not a .jsonl, .json or .md file; voicetune lints JSONL datasets (or a .json array of records) and markdown drafts",
            path.display()
        )
    })?;
    // The tokenizer's tables load on another core while the file is read.
    let bytes = std::thread::scope(|s| {
        s.spawn(|| opts.counter.prepare());
        std::fs::read(path)
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let (text, invalid_utf8) = decode_lossless_offsets(bytes);
    let mut findings = lint_text(&text, kind, opts);
    findings.extend(rules::syntax::invalid_utf8(&invalid_utf8, opts));
    findings.sort_by_key(|f| (f.span.start, f.span.end));
    Ok(FileReport {
        path: path.to_path_buf(),
        kind,
        text,
        findings,
        invalid_utf8,
    })
}

/// UTF-8 text from bytes, replacing each invalid byte with `?` so that every byte offset stays
/// the same as in the file (findings after a bad byte still point at the right place).
pub fn decode_lossless_offsets(bytes: Vec<u8>) -> (String, Vec<usize>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, Vec::new()),
        Err(err) => {
            let mut bytes = err.into_bytes();
            let mut invalid = Vec::new();
            let mut pos = 0;
            while pos < bytes.len() {
                match std::str::from_utf8(&bytes[pos..]) {
                    Ok(_) => break,
                    Err(e) => {
                        let bad = pos + e.valid_up_to();
                        let len = e.error_len().unwrap_or(bytes.len() - bad);
                        for b in &mut bytes[bad..bad + len] {
                            *b = b'?';
                        }
                        invalid.push(bad);
                        pos = bad + len;
                    }
                }
            }
            (
                String::from_utf8(bytes).expect("invalid bytes replaced"),
                invalid,
            )
        }
    }
}

/// Token statistics of a file's examples (every line that parsed as a known format).
pub fn file_stats(
    text: &str,
    kind: FileKind,
    opts: &LintOptions,
) -> crate::tokens::stats::DatasetStats {
    let counts: Vec<usize> = match kind {
        FileKind::Jsonl => {
            let lines: Vec<dataset::Line> = dataset::lines(text).collect();
            lines
                .par_iter()
                .with_min_len(64)
                .filter_map(|l| lint_line(l.text, opts).summary.tokens)
                .collect()
        }
        FileKind::Json => super::json_array::record_texts(text, opts)
            .par_iter()
            .filter_map(|t| lint_line(t, opts).summary.tokens)
            .collect(),
        FileKind::Markdown => {
            let doc = dataset::markdown::parse(text);
            let title = doc.title().map_or(0, |t| opts.counter.count(t));
            vec![
                title
                    + opts.counter.count(&text[doc.body.clone()])
                    + 2 * crate::tokens::TOKENS_PER_MESSAGE
                    + crate::tokens::REPLY_PRIMING_TOKENS,
            ]
        }
    };
    opts.config.dataset_stats(&counts)
}
