//! Runs the rules: per line (JSONL) or per document (markdown), then dataset-wide.

use super::rules::{self, legacy::LegacySummary};
use super::text::{FieldRole, TextField};
use super::{Finding, Fix, RuleInfo, Severity};
use crate::config::{Config, FormatSetting};
use crate::dataset::json::{self, Node, Value};
use crate::dataset::{self, FileKind, Format};
use crate::tokens::Counter;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The config resolved for linting: enabled rules, severities, the token counter.
pub struct LintOptions {
    pub config: Config,
    pub counter: Counter,
    disabled: HashSet<&'static str>,
    severity: HashMap<&'static str, Severity>,
    /// Prompt separators to recognise (the configured one first).
    pub separators: Vec<String>,
    /// Completion stop sequences to recognise (the configured one first).
    pub stops: Vec<String>,
}

impl LintOptions {
    pub fn new(config: &Config) -> LintOptions {
        let all = super::all_rules();
        let by_name = |n: &str| super::rule_by_name(n).map(|r| r.code);
        let selected: HashSet<&str> = config
            .lint
            .select
            .iter()
            .filter_map(|n| by_name(n))
            .collect();
        let ignored: HashSet<&str> = config
            .lint
            .ignore
            .iter()
            .filter_map(|n| by_name(n))
            .collect();
        let disabled = all
            .iter()
            .map(|r| r.code)
            .filter(|c| ignored.contains(c) || (!selected.is_empty() && !selected.contains(c)))
            .collect();
        let severity = config
            .lint
            .severity
            .iter()
            .filter_map(|(name, sev)| Some((by_name(name)?, *sev)))
            .collect();
        let configured = |v: &Option<String>, defaults: &[&str]| {
            let mut list: Vec<String> = v.iter().cloned().collect();
            list.extend(
                defaults
                    .iter()
                    .map(|s| s.to_string())
                    .filter(|s| Some(s) != v.as_ref()),
            );
            list
        };
        LintOptions {
            counter: Counter::for_model(config.model()),
            disabled,
            severity,
            separators: configured(&config.legacy.separator, rules::legacy::SEPARATORS),
            stops: configured(&config.legacy.stop, rules::legacy::STOPS),
            config: config.clone(),
        }
    }

    pub fn enabled(&self, rule: &RuleInfo) -> bool {
        !self.disabled.contains(rule.code)
    }

    /// Builds a finding of `rule`, or None when the rule is disabled.
    pub fn finding(
        &self,
        rule: &'static RuleInfo,
        span: Range<usize>,
        message: String,
        fix: Option<Fix>,
    ) -> Option<Finding> {
        if !self.enabled(rule) {
            return None;
        }
        Some(Finding {
            code: rule.code.to_string(),
            rule: rule.name.to_string(),
            severity: self
                .severity
                .get(rule.code)
                .copied()
                .unwrap_or(rule.severity),
            span,
            message,
            fix,
        })
    }
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
    pub minhash: Option<Box<rules::near_duplicates::Signature>>,
    /// Tokens as the target model's service counts them.
    pub tokens: Option<usize>,
    /// Hashes of the first and last characters of the output text, for template detection.
    pub template: Option<(u64, u64)>,
    /// Boxed: most records are chat, and the language server keeps a summary per line.
    pub legacy: Option<Box<LegacySummary>>,
}

/// Findings of one line (spans relative to the line start) and its summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineResult {
    pub findings: Vec<Finding>,
    pub summary: RecordSummary,
}

/// What the per-record rules see.
pub struct Record<'a> {
    pub node: &'a Node<'a>,
    pub format: Format,
    pub line: &'a str,
}

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
            out.extend(rules::keys::unknown_format(&node, opts));
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
    out.extend(rules::keys::check(&record, opts));
    let fields = match format {
        Format::Chat => rules::roles::check_chat(&record, opts, &mut out),
        Format::PromptCompletion => {
            rules::legacy::check_record(&record, opts, &mut out, &mut summary)
        }
        Format::Preference => rules::preference::check(&record, opts, &mut out),
        Format::Text => text_fields_of(&node, "text", FieldRole::Text),
    };
    if matches!(format, Format::Chat | Format::Preference) {
        out.extend(rules::weight::check(&record, opts));
    }
    rules::check_text_fields(&fields, opts, &mut out);
    // Dataset-wide summaries cost a pass over the text: only for the rules that use them.
    if opts.enabled(&rules::duplicates::DUPLICATE)
        || opts.enabled(&rules::near_duplicates::NEAR_DUPLICATE)
    {
        let words = rules::duplicates::word_hashes(&fields);
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
        summary.template = rules::templated::template_key(&fields, opts);
    }
    summary.tokens = rules::tokens::check_record(&record, &fields, opts, &mut out);
    LineResult {
        findings: out,
        summary,
    }
}

fn text_fields_of<'a>(node: &Node<'a>, key: &str, role: FieldRole) -> Vec<TextField<'a>> {
    node.get(key)
        .and_then(Node::as_str)
        .map(|s| vec![TextField::json(role, s.clone())])
        .unwrap_or_default()
}

/// A record as the dataset-wide rules see it.
pub struct LineRef<'a> {
    pub index: usize,
    /// The line's bytes including its line break (what deleting the line removes).
    pub full_span: Range<usize>,
    pub summary: &'a RecordSummary,
}

/// Dataset-wide findings (duplicates, templates, separator majority, counts, mixed formats),
/// from the per-record summaries only. Spans are file offsets.
pub fn dataset_findings(records: &[LineRef], opts: &LintOptions) -> Vec<Finding> {
    // Independent passes over the summaries: the near-duplicate one (the longest) runs beside
    // the others. Findings are concatenated in a fixed order.
    let run = |checks: &[DatasetCheck]| {
        let mut out = Vec::new();
        for check in checks {
            check(records, opts, &mut out);
        }
        out
    };
    let ((first, last), near) = rayon::join(
        || {
            (
                run(&[rules::mixed_formats::check, rules::duplicates::check]),
                run(&[
                    rules::templated::check,
                    rules::legacy::check_dataset,
                    rules::dataset_size::check,
                ]),
            )
        },
        || run(&[rules::near_duplicates::check]),
    );
    [first, near, last].concat()
}

type DatasetCheck = fn(&[LineRef], &LintOptions, &mut Vec<Finding>);

/// Lints a whole file's text. Findings are sorted by position.
pub fn lint_text(text: &str, kind: FileKind, opts: &LintOptions) -> Vec<Finding> {
    let mut findings = match kind {
        FileKind::Jsonl => lint_jsonl(text, opts),
        FileKind::Markdown => rules::markdown::lint_document(text, opts),
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
            "{}: not a .jsonl or .md file; voicetune lints JSONL datasets and markdown drafts",
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
    crate::tokens::stats::DatasetStats::from_counts(&counts, opts.counter.model)
}
