//! Helpers for the rules' own tests: lint a line or a file with the default options and look
//! at one rule's findings.

use crate::config::Config;
use crate::dataset::FileKind;
use crate::lint::{apply_fixes, lint_line, lint_text, Finding, FixMode, LintOptions};
use std::sync::LazyLock;

pub fn opts() -> &'static LintOptions {
    static OPTS: LazyLock<LintOptions> = LazyLock::new(|| LintOptions::new(&Config::default()));
    &OPTS
}

/// Options for a legacy completions target (davinci-002), where the separator, stop-sequence
/// and leading-space rules run.
pub fn legacy_opts() -> &'static LintOptions {
    static OPTS: LazyLock<LintOptions> = LazyLock::new(|| {
        LintOptions::new(&Config {
            target_model: "davinci-002".into(),
            ..Config::default()
        })
    });
    &OPTS
}

/// Options for fine-tuning on Together (its formats, roles and weights).
pub fn together_opts() -> &'static LintOptions {
    static OPTS: LazyLock<LintOptions> = LazyLock::new(|| {
        LintOptions::new(&Config {
            provider: crate::config::Provider::Together,
            target_model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference".into(),
            ..Config::default()
        })
    });
    &OPTS
}

/// A chat record: one user turn, then the assistant's reply.
pub fn chat(user: &str, assistant: &str) -> String {
    serde_json::json!({"messages": [
        {"role": "user", "content": user},
        {"role": "assistant", "content": assistant},
    ]})
    .to_string()
}

/// A chat record whose reply is `reply`, with a plain question.
pub fn reply(reply: &str) -> String {
    chat("Tell me about your morning tea.", reply)
}

/// The findings of `rule` on one JSONL line (line-relative spans).
pub fn line_findings(line: &str, rule: &str) -> Vec<Finding> {
    lint_line(line, opts())
        .findings
        .into_iter()
        .filter(|f| f.rule == rule)
        .collect()
}

/// The findings of `rule` on a whole JSONL file (file spans).
pub fn file_findings(text: &str, rule: &str) -> Vec<Finding> {
    file_findings_with(text, rule, opts())
}

/// [`file_findings`] under `opts`.
pub fn file_findings_with(text: &str, rule: &str, opts: &LintOptions) -> Vec<Finding> {
    lint_text(text, FileKind::Jsonl, opts)
        .into_iter()
        .filter(|f| f.rule == rule)
        .collect()
}

/// `text` with the fixes of `rule`'s findings applied, unsafe ones included.
pub fn fixed(text: &str, rule: &str) -> String {
    fixed_with(text, rule, opts())
}

/// [`fixed`] under `opts`.
pub fn fixed_with(text: &str, rule: &str, opts: &LintOptions) -> String {
    apply_fixes(text, &file_findings_with(text, rule, opts), FixMode::All).0
}

/// `n` clean chat records, one per line, different enough not to count as (near) duplicates
/// or templated.
pub fn clean_lines(n: usize) -> Vec<String> {
    const WORDS: &[&str] = &[
        "tea", "rain", "garden", "bicycle", "letters", "harbour", "violin", "pepper", "maps",
        "orchard", "lantern", "granite", "meadow", "copper", "ferry", "thistle", "quartz",
        "saddle", "walnut", "ember",
    ];
    (0..n)
        .map(|i| {
            let word = |k: usize| {
                let mixed = ((i * 31 + k) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                WORDS[mixed.rotate_left(29) as usize % WORDS.len()]
            };
            let words: Vec<String> = (0..12)
                .map(|k| format!("{}{}", word(k), if k % 4 == 3 { "," } else { "" }))
                .collect();
            chat(
                &format!("Tell me about {} and {} ({i}).", word(1), word(2)),
                &format!("Honestly, {} matter to me.", words.join(" ")),
            )
        })
        .collect()
}
