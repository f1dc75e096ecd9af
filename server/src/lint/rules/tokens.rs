//! Token counts against the target model: too long to train on whole, too short to teach.

use crate::dataset::json::{escape_str, Node, Value};
use crate::dataset::Format;
use crate::lint::record::{Record, RecordLint};
use crate::lint::rule::{RecordRule, RecordStage};
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Edit, Finding, Fix, LintOptions, RuleInfo, Severity};
use crate::tokens::{Counter, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_NAME};

pub static TOO_MANY_TOKENS: RuleInfo = RuleInfo {
    code: "VT301",
    name: "too-many-tokens",
    severity: Severity::Error,
    summary: "An example longer than the target model's training limit",
    doc: "Each fine-tuning example has a token limit (65,536 for gpt-4o-mini-2024-07-18, 16,385 \
for gpt-3.5-turbo-0125); longer examples are truncated, cutting off the end of the reply the \
model should learn, and you pay for what is kept. Tokens are counted exactly as OpenAI counts \
chat examples (the model's tiktoken encoding plus 3 tokens per message and 3 for the reply). \
`lint.max_tokens` overrides the limit (`voicetune tune` sets it from the provider's limits). With \
`provider = \"together\"` the count is an approximation: Together's open models have their own \
tokenizers, which cannot be fetched offline, so the closest tiktoken encoding counts (cl100k_base; \
o200k_base for gpt-oss). Llama 3's tokenizer extends cl100k_base: on 3,599 English paragraphs the \
counts differed by 0.02%, while cl100k counted Cyrillic, CJK and Korean text 35-55% higher (so \
such examples are flagged early, never late); other families (Qwen, Mistral, Gemma) may differ \
more either way. The limit is the model family's LoRA context length, else 8,192. The \
fix (unsafe) splits the final assistant reply at the paragraph boundary nearest its middle into \
two examples with the same prompt.",
    fixable: true,
};

pub static TOO_FEW_TOKENS: RuleInfo = RuleInfo {
    code: "VT302",
    name: "too-short",
    severity: Severity::Info,
    summary: "An example whose output is too short to teach a voice",
    doc: "Replies of a few tokens (\"OK\", \"Thanks!\") carry no style; many of them teach the \
model to be terse. The threshold is `lint.min_tokens` (default 5) tokens of assistant output, \
completion or draft body. Merge or drop such examples.",
    fixable: false,
};

/// Counts the record's tokens over the fields the structure rules collected, after the text
/// rules (so that their fixes come first where two fixes start at one place).
pub struct TokenCount;

impl RecordRule for TokenCount {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&TOO_MANY_TOKENS, &TOO_FEW_TOKENS];
        RULES
    }

    fn stage(&self) -> RecordStage {
        RecordStage::Measure
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        out.summary.tokens = check_record(record, &out.fields, opts, &mut out.findings);
    }
}

/// Counts the record's tokens as the service bills them and checks both limits. Returns the
/// count (None when both token rules are disabled).
fn check_record(
    record: &Record,
    fields: &[TextField],
    opts: &LintOptions,
    out: &mut Vec<Finding>,
) -> Option<usize> {
    if !opts.enabled(&TOO_MANY_TOKENS) && !opts.enabled(&TOO_FEW_TOKENS) {
        return None;
    }
    let counter = &opts.counter;
    let (total, output) = match record.format {
        Format::Chat => {
            let messages = record
                .node
                .get("messages")
                .and_then(Node::as_array)
                .unwrap_or_default();
            let (mut total, output) = count_messages(messages, record.line, counter);
            if let Some(tools) = record.node.get("tools") {
                total += counter.count(&record.line[tools.span.clone()]);
            }
            (total, output)
        }
        Format::Preference => {
            let input = record
                .node
                .get("input")
                .and_then(|i| i.get("messages"))
                .and_then(Node::as_array)
                .unwrap_or_default();
            let (input_tokens, _) = count_messages(input, record.line, counter);
            let mut output = 0;
            for key in ["preferred_output", "non_preferred_output"] {
                let list = record
                    .node
                    .get(key)
                    .and_then(Node::as_array)
                    .unwrap_or_default();
                output = output.max(count_messages(list, record.line, counter).1);
            }
            (input_tokens + output, output)
        }
        // Legacy, plain text and the shapes `voicetune convert` turns into chat: their texts.
        _ => {
            let mut total = 0;
            let mut output = 0;
            for field in fields {
                let n = counter.count(field.text());
                total += n;
                if !matches!(
                    field.role,
                    FieldRole::Prompt | FieldRole::User | FieldRole::System
                ) {
                    output += n;
                }
            }
            (total, output)
        }
    };
    let limit = opts.config.max_training_tokens();
    if total > limit {
        let fix = split_fix(record);
        out.extend(opts.finding(
            &TOO_MANY_TOKENS,
            record.node.span.start..record.node.span.start + 1,
            format!("{total} tokens: over the {limit}-token training limit of {}; the rest is truncated", counter.model.name),
            fix,
        ));
    }
    let min = opts.config.lint.min_tokens;
    if output < min && total > 0 && !fields.is_empty() {
        out.extend(opts.finding(
            &TOO_FEW_TOKENS,
            record.node.span.start..record.node.span.start + 1,
            format!("only {output} tokens of output (minimum {min})"),
            None,
        ));
    }
    Some(total)
}

/// Cookbook counting: 3 per message, every string value, 1 more for `name`, 3 to prime the
/// reply. Returns (total, tokens in assistant messages' text).
pub fn count_messages(messages: &[Node], line: &str, counter: &Counter) -> (usize, usize) {
    let mut total = REPLY_PRIMING_TOKENS;
    let mut output = 0;
    for message in messages {
        total += TOKENS_PER_MESSAGE;
        let is_assistant = message
            .get("role")
            .and_then(Node::as_str)
            .is_some_and(|r| r.text == "assistant");
        for member in message.as_object().unwrap_or_default() {
            let n = match &member.value.value {
                Value::String(s) => counter.count(&s.text),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Node::as_str))
                    .map(|t| counter.count(&t.text))
                    .sum(),
                Value::Object(_) => counter.count(&line[member.value.span.clone()]),
                _ => 0,
            };
            total += n;
            if member.key.text == "name" {
                total += TOKENS_PER_NAME;
            }
            if is_assistant && member.key.text == "content" {
                output += n;
            }
        }
    }
    (total, output)
}

/// Splits the final assistant reply at the paragraph break nearest its middle into two lines.
fn split_fix(record: &Record) -> Option<Fix> {
    let messages = record.node.get("messages")?.as_array()?;
    let last = messages.last()?;
    if last.get("role").and_then(Node::as_str)?.text != "assistant" {
        return None;
    }
    let content = last.get("content")?.as_str()?;
    let text: &str = &content.text;
    let middle = text.len() / 2;
    let cut = text
        .match_indices("\n\n")
        .map(|(i, _)| i)
        .min_by_key(|i| i.abs_diff(middle))?;
    let (first, second) = (text[..cut].trim_end(), text[cut..].trim_start());
    if first.is_empty() || second.is_empty() {
        return None;
    }
    let raw = content.raw_start..content.raw_start + content.raw.len();
    let second_line = format!(
        "{}{}{}",
        &record.line[..raw.start],
        escape_str(second),
        &record.line[raw.end..]
    );
    let end = record.line.len();
    Some(Fix::unsafe_(
        "Split the reply into two examples at a paragraph break",
        vec![
            Edit {
                span: raw,
                new_text: escape_str(first).into(),
            },
            Edit {
                span: end..end,
                new_text: format!("\n{second_line}").into(),
            },
        ],
    ))
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_a_reply_too_short_to_teach() {
        assert_eq!(line_findings(&reply("OK."), "too-short").len(), 1);
    }

    #[test]
    fn flags_an_example_over_the_limit_and_splits_it() {
        let opts = crate::lint::LintOptions::new(&crate::config::Config {
            target_model: "gpt-3.5-turbo-0125".into(),
            ..Default::default()
        });
        let half = "tea leaves ".repeat(4500).trim_end().to_string();
        let line = reply(&format!("{half}\n\n{half}"));
        let findings = crate::lint::lint_line(&line, &opts).findings;
        let over: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "too-many-tokens")
            .collect();
        assert_eq!(over.len(), 1);
        let (split, _) = crate::lint::apply_fixes(&line, &findings, crate::lint::FixMode::All);
        assert_eq!(split.lines().count(), 2);
    }

    #[test]
    fn lint_max_tokens_overrides_the_model_limit() {
        let mut config = crate::config::Config::default();
        config.lint.max_tokens = Some(20);
        let opts = crate::lint::LintOptions::new(&config);
        let line = reply(&"tea leaves ".repeat(30));
        let over = file_findings_with(&line, "too-many-tokens", &opts);
        assert_eq!(over.len(), 1);
        assert!(over[0].message.contains("20-token"), "{}", over[0].message);
        assert!(line_findings(&line, "too-many-tokens").is_empty());
    }

    #[test]
    fn an_ordinary_reply_is_clean() {
        let line = reply("Tea is lovely to drink every single day.");
        assert!(line_findings(&line, "too-short").is_empty());
        assert!(line_findings(&line, "too-many-tokens").is_empty());
        assert_eq!(
            crate::lint::lint_line(&line, opts())
                .summary
                .tokens
                .map(|n| n > 10),
            Some(true)
        );
    }
}
