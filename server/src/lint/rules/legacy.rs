//! Legacy prompt/completion records: prompt separators, completion stop sequences, the leading
//! space. The separator and stop sequence are the configured ones, else the file's majority.
//! These conventions matter only to the retired completions models (babbage-002, davinci-002):
//! the rules run when the target model is one of them, or when `[legacy]` sets `check = true`
//! (or a `separator` or `stop`); a prompt/completion file for a chat model or local training is
//! not held to them.

use crate::config::Provider;
use crate::dataset::json::{escape_str, Value};
use crate::dataset::Format;
use crate::lint::record::{LineRef, Record, RecordLint, RecordSummary};
use crate::lint::rule::{DatasetRule, RecordRule};
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Edit, Finding, Fix, LintOptions, RuleInfo, Severity};
use std::collections::HashMap;
use std::ops::Range;

pub static MISSING_SEPARATOR: RuleInfo = RuleInfo {
    code: "VT201",
    name: "missing-separator",
    severity: Severity::Warning,
    summary: "A prompt does not end with the separator",
    doc: "Completion models need a fixed separator at the end of every prompt (e.g. \
`\\n\\n###\\n\\n`) to know where the prompt stops and the completion starts; at inference you end \
the prompt with the same separator. The separator is `legacy.separator` in voicetune.toml, else the \
one most prompts end with, else `\\n\\n###\\n\\n`. The fix appends it. Like the other separator, \
stop-sequence and leading-space rules, it runs only for a legacy completions target model \
(babbage-002, davinci-002) or when `[legacy]` sets `check = true` or a separator or stop.",
    fixable: true,
};

pub static SEPARATOR_IN_PROMPT: RuleInfo = RuleInfo {
    code: "VT202",
    name: "separator-in-prompt",
    severity: Severity::Warning,
    summary: "The separator also appears inside the prompt",
    doc: "If the separator occurs in the body of a prompt, the model cannot tell where the prompt \
ends. Pick a separator that never occurs in the text, or rewrite the prompt.",
    fixable: false,
};

pub static COMPLETION_LEADING_SPACE: RuleInfo = RuleInfo {
    code: "VT203",
    name: "completion-leading-space",
    severity: Severity::Warning,
    summary: "A completion does not start with a space",
    doc: "GPT tokenizers attach the leading space to the first word; completions that start \
without one tokenize differently from how the model will continue a prompt. The fix prepends a \
space.",
    fixable: true,
};

pub static MISSING_STOP: RuleInfo = RuleInfo {
    code: "VT204",
    name: "missing-stop-sequence",
    severity: Severity::Warning,
    summary: "A completion does not end with the stop sequence",
    doc: "Every completion must end with the same stop sequence (e.g. ` END` or `\\n`), passed as \
`stop` at inference; without it the model rambles on. The stop sequence is `legacy.stop` in \
voicetune.toml, else the ending most completions share, else ` END`. The fix appends it (or \
replaces a different ending).",
    fixable: true,
};

pub static INCONSISTENT_SEPARATOR: RuleInfo = RuleInfo {
    code: "VT205",
    name: "inconsistent-separator",
    severity: Severity::Warning,
    summary: "Prompts end with different separators",
    doc: "A file where some prompts end with `\\n\\n###\\n\\n` and others with ` ->` teaches two \
conventions at once. The fix replaces the minority separator with the file's separator.",
    fixable: true,
};

/// Separators recognised at the end of a prompt (the OpenAI legacy tool's list first).
pub const SEPARATORS: &[&str] = &[
    "\n\n###\n\n",
    "\n\n===\n\n",
    "\n\n---\n\n",
    "\n\n===>\n\n",
    "\n\n--->\n\n",
    "\n\n### =>\n\n",
    " ->",
    "->",
    "###",
    ":",
];
/// Stop sequences recognised at the end of a completion.
pub const STOPS: &[&str] = &[
    " END", "\n", " [END]", "***", "+++", "&&&", "$$$", "@@@", "%%%", "###", "END",
];

/// What the dataset-wide separator and stop checks need from one prompt/completion record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacySummary {
    /// Index (in the options' separator list) of the separator the prompt ends with.
    pub prompt_ending: Option<usize>,
    /// Bit i set: separator i occurs in the prompt other than as its ending.
    pub prompt_inner: u64,
    /// Line-relative raw span of the prompt's ending separator, if any.
    pub prompt_ending_span: Option<Range<usize>>,
    /// Line-relative offset of the prompt's closing quote (where a separator is appended).
    pub prompt_end: usize,
    pub completion_ending: Option<usize>,
    /// Bit i set: stop sequence i occurs anywhere in the completion.
    pub completion_contains: u64,
    pub completion_ending_span: Option<Range<usize>>,
    pub completion_end: usize,
}

/// The longest candidate that `text` ends with.
fn ending(text: &str, candidates: &[String]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.is_empty() && text.ends_with(c.as_str()))
        .max_by_key(|(_, c)| c.len())
        .map(|(i, _)| i)
}

fn mask(text: &str, candidates: &[String]) -> u64 {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| text.contains(c.as_str()))
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// One prompt/completion record: what its prompt and completion end with (for [`Conventions`]),
/// the completion's leading space; collects both texts.
pub struct PromptCompletion;

impl RecordRule for PromptCompletion {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[
            &COMPLETION_LEADING_SPACE,
            &super::roles::EMPTY_CONTENT,
            &super::field_types::INVALID_IMAGE,
        ];
        RULES
    }

    fn applies_to(&self, format: Format) -> bool {
        format == Format::PromptCompletion
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        let fields = check_record(record, opts, &mut out.findings, &mut out.summary);
        out.fields.extend(fields);
    }
}

fn check_record<'a>(
    record: &Record<'a>,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
    summary: &mut RecordSummary,
) -> Vec<TextField<'a>> {
    let mut fields = Vec::new();
    let mut legacy = LegacySummary::default();
    for key in ["prompt", "completion"] {
        let Some(node) = record.node.get(key) else {
            continue;
        };
        let s = match &node.value {
            Value::String(s) => s,
            // Together's instruction format takes content parts as a chat message would.
            Value::Array(parts) if opts.config.provider == Provider::Together => {
                let (role, field_role) = if key == "prompt" {
                    ("user", FieldRole::Prompt)
                } else {
                    ("assistant", FieldRole::Completion)
                };
                let (findings, fields) = (&mut *out, &mut fields);
                super::roles::check_parts(
                    node,
                    parts,
                    Some(role),
                    field_role,
                    opts,
                    findings,
                    fields,
                );
                continue;
            }
            _ => continue, // `field-type`'s finding.
        };
        let text: &str = &s.text;
        let raw_end = s.raw_start + s.raw.len();
        if key == "prompt" {
            legacy.prompt_end = raw_end;
            legacy.prompt_ending = ending(text, &opts.separators);
            let body = legacy
                .prompt_ending
                .map_or(text, |i| &text[..text.len() - opts.separators[i].len()]);
            legacy.prompt_inner = mask(body, &opts.separators);
            legacy.prompt_ending_span = legacy
                .prompt_ending
                .map(|i| s.raw_offset(text.len() - opts.separators[i].len())..raw_end);
            fields.push(TextField::json(FieldRole::Prompt, s.clone()));
        } else {
            legacy.completion_end = raw_end;
            legacy.completion_ending = ending(text, &opts.stops);
            legacy.completion_contains = mask(text, &opts.stops);
            legacy.completion_ending_span = legacy
                .completion_ending
                .map(|i| s.raw_offset(text.len() - opts.stops[i].len())..raw_end);
            if text.trim().is_empty() {
                out.extend(opts.finding(
                    &super::roles::EMPTY_CONTENT,
                    node.span.clone(),
                    "empty completion: nothing to learn".into(),
                    None,
                ));
                continue;
            }
            if opts.legacy_conventions && !text.starts_with(char::is_whitespace) {
                let fix = Fix::safe("Prepend a space", vec![Edit::insert(s.raw_start, " ")]);
                let first = text.chars().next().map_or(0, char::len_utf8);
                out.extend(opts.finding(
                    &COMPLETION_LEADING_SPACE,
                    s.raw_range(0..first),
                    "the completion does not start with a space".into(),
                    Some(fix),
                ));
            }
            fields.push(TextField::json(FieldRole::Completion, s.clone()));
        }
    }
    summary.legacy = Some(Box::new(legacy));
    fields
}

/// The file's separator (or stop) index: configured, else the majority ending, else the first
/// candidate that no record contains.
fn convention(
    configured: bool,
    endings: impl Iterator<Item = Option<usize>> + Clone,
    contained: u64,
    count: usize,
) -> usize {
    if configured {
        return 0;
    }
    let mut votes: HashMap<usize, usize> = HashMap::new();
    for e in endings.flatten() {
        *votes.entry(e).or_default() += 1;
    }
    if let Some((&winner, _)) = votes
        .iter()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(**i)))
    {
        return winner;
    }
    (0..count).find(|i| contained & (1 << i) == 0).unwrap_or(0)
}

/// The file's separator and stop sequence, and every record held against them.
pub struct Conventions;

impl DatasetRule for Conventions {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[
            &MISSING_SEPARATOR,
            &SEPARATOR_IN_PROMPT,
            &MISSING_STOP,
            &INCONSISTENT_SEPARATOR,
        ];
        RULES
    }

    fn check_dataset(&self, records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
        check_dataset(records, opts, out);
    }
}

fn check_dataset(records: &[LineRef], opts: &LintOptions, out: &mut Vec<Finding>) {
    let legacy: Vec<(&LineRef, &LegacySummary)> = records
        .iter()
        .filter_map(|r| Some((r, r.summary.legacy.as_deref()?)))
        .collect();
    if legacy.is_empty() || !opts.legacy_conventions {
        return;
    }
    let prompt_contains = legacy.iter().fold(0, |m, (_, l)| m | l.prompt_inner);
    let completion_contains = legacy.iter().fold(0, |m, (_, l)| m | l.completion_contains);
    let sep = convention(
        opts.config.legacy.separator.is_some(),
        legacy.iter().map(|(_, l)| l.prompt_ending),
        prompt_contains,
        opts.separators.len(),
    );
    let stop = convention(
        opts.config.legacy.stop.is_some(),
        legacy.iter().map(|(_, l)| l.completion_ending),
        completion_contains,
        opts.stops.len(),
    );
    let (sep_text, stop_text) = (&opts.separators[sep], &opts.stops[stop]);
    for (record, l) in legacy {
        let base = record.full_span.start;
        let at = |offset: usize| base + offset..base + offset + 1;
        match (l.prompt_ending, &l.prompt_ending_span) {
            (Some(e), _) if e == sep => {
                if l.prompt_inner & (1 << sep) != 0 {
                    out.extend(opts.finding(
                        &SEPARATOR_IN_PROMPT,
                        at(l.prompt_end),
                        format!("the separator {sep_text:?} also occurs inside the prompt"),
                        None,
                    ));
                }
            }
            (Some(e), Some(span)) => {
                let edit = Edit {
                    span: base + span.start..base + span.end,
                    new_text: escape_str(sep_text).into(),
                };
                let fix = Fix::safe(format!("Use the separator {sep_text:?}"), vec![edit]);
                out.extend(opts.finding(
                    &INCONSISTENT_SEPARATOR,
                    base + span.start..base + span.end,
                    format!(
                        "the prompt ends with {:?} but the file's separator is {sep_text:?}",
                        opts.separators[e]
                    ),
                    Some(fix),
                ));
            }
            _ => {
                let edit = Edit {
                    span: base + l.prompt_end..base + l.prompt_end,
                    new_text: escape_str(sep_text).into(),
                };
                let fix = Fix::safe(format!("Append the separator {sep_text:?}"), vec![edit]);
                out.extend(opts.finding(
                    &MISSING_SEPARATOR,
                    at(l.prompt_end),
                    format!("the prompt does not end with the separator {sep_text:?}"),
                    Some(fix),
                ));
            }
        }
        if l.completion_end == 0 {
            continue; // No string completion: reported elsewhere.
        }
        match (l.completion_ending, &l.completion_ending_span) {
            (Some(e), _) if e == stop => {}
            (Some(e), Some(span)) => {
                let edit = Edit {
                    span: base + span.start..base + span.end,
                    new_text: escape_str(stop_text).into(),
                };
                let fix = Fix::safe(format!("Use the stop sequence {stop_text:?}"), vec![edit]);
                out.extend(opts.finding(&MISSING_STOP, base + span.start..base + span.end, format!("the completion ends with {:?} but the file's stop sequence is {stop_text:?}", opts.stops[e]), Some(fix)));
            }
            _ => {
                let edit = Edit {
                    span: base + l.completion_end..base + l.completion_end,
                    new_text: escape_str(stop_text).into(),
                };
                let fix = Fix::safe(
                    format!("Append the stop sequence {stop_text:?}"),
                    vec![edit],
                );
                out.extend(opts.finding(
                    &MISSING_STOP,
                    at(l.completion_end),
                    format!("the completion does not end with the stop sequence {stop_text:?}"),
                    Some(fix),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    fn findings(text: &str, rule: &str) -> Vec<crate::lint::Finding> {
        file_findings_with(text, rule, legacy_opts())
    }

    fn fix(text: &str, rule: &str) -> String {
        fixed_with(text, rule, legacy_opts())
    }

    fn record(prompt: &str, completion: &str) -> String {
        serde_json::json!({"prompt": prompt, "completion": completion}).to_string()
    }

    fn file(records: &[String]) -> String {
        records.join("\n") + "\n"
    }

    #[test]
    fn appends_the_missing_separator_and_stop_sequence() {
        let good = record("What is tea?\n\n###\n\n", " A warm drink I love. END");
        let bad = record("Why tea?", " Because it is calm");
        let text = file(&[good.clone(), good.clone(), bad]);
        assert_eq!(findings(&text, "missing-separator").len(), 1);
        assert_eq!(findings(&text, "missing-stop-sequence").len(), 1);
        let fixed = fix(&fix(&text, "missing-separator"), "missing-stop-sequence");
        assert!(
            fixed.ends_with(&format!(
                "{}\n",
                record("Why tea?\n\n###\n\n", " Because it is calm END")
            )),
            "{fixed}"
        );
    }

    #[test]
    fn flags_a_minority_separator_and_one_inside_a_prompt() {
        let good = record("What is tea?\n\n###\n\n", " A warm drink I love. END");
        let other = record("Why tea? ->", " Because it is calm. END");
        let inner = record("Tea\n\n###\n\nor coffee?\n\n###\n\n", " Tea, always. END");
        let text = file(&[good.clone(), good, other, inner]);
        assert_eq!(findings(&text, "inconsistent-separator").len(), 1);
        assert_eq!(findings(&text, "separator-in-prompt").len(), 1);
    }

    #[test]
    fn prepends_the_completion_space() {
        let line = record("What is tea?\n\n###\n\n", "A warm drink. END");
        assert_eq!(findings(&line, "completion-leading-space").len(), 1);
        assert!(fix(&line, "completion-leading-space").contains(r#""completion":" A warm"#));
    }

    #[test]
    fn a_modern_target_is_not_held_to_legacy_conventions() {
        let text = file(&[
            record("What is tea?", "A warm drink I love."),
            record("Why tea? ->", " Because it is calm. END"),
        ]);
        for rule in [
            "missing-separator",
            "completion-leading-space",
            "missing-stop-sequence",
            "inconsistent-separator",
        ] {
            assert!(file_findings(&text, rule).is_empty(), "{rule}");
        }
        let asked = crate::lint::LintOptions::new(&crate::config::Config {
            legacy: crate::config::LegacyConfig {
                check: true,
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(
            file_findings_with(&text, "missing-separator", &asked).len(),
            1
        );
    }

    #[test]
    fn a_consistent_file_is_clean() {
        let text = file(&[
            record("What is tea?\n\n###\n\n", " A warm drink I love. END"),
            record("Why tea?\n\n###\n\n", " Because it is calm. END"),
        ]);
        for rule in [
            "missing-separator",
            "separator-in-prompt",
            "completion-leading-space",
            "missing-stop-sequence",
            "inconsistent-separator",
        ] {
            assert!(findings(&text, rule).is_empty(), "{rule}");
        }
    }
}
