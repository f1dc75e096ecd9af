//! Training data: chat JSONL lines -> token ids with a mask of the tokens to learn.
//!
//! Accepted lines: `{"messages": [{"role", "content"}, ...]}` (loss on assistant turns),
//! `{"prompt", "completion"}` (a user and an assistant turn) and `{"text"}` (raw text, loss on
//! every token; used for held-out perplexity).

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::Path;

use super::config::LongExamples;
use crate::model::tokenizer::{GgufTokenizer, Message, TrainingLine};

pub use crate::model::loss::Example;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataReport {
    pub lines: usize,
    pub examples: usize,
    /// Examples longer than `max_seq_len`, cut into windows.
    pub split_long: usize,
    /// Examples longer than `max_seq_len`, left out.
    pub skipped_long: usize,
    /// Lines with nothing to learn (no assistant tokens).
    pub skipped_no_target: usize,
    pub tokens: usize,
    pub target_tokens: usize,
}

impl std::fmt::Display for DataReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} lines -> {} sequences, {} tokens ({} to learn)",
            self.lines, self.examples, self.tokens, self.target_tokens
        )?;
        if self.split_long > 0 {
            write!(f, "; {} long examples split into windows", self.split_long)?;
        }
        if self.skipped_long > 0 {
            write!(f, "; {} long examples skipped", self.skipped_long)?;
        }
        if self.skipped_no_target > 0 {
            write!(
                f,
                "; {} lines without assistant text skipped",
                self.skipped_no_target
            )?;
        }
        Ok(())
    }
}

/// Token ids and mask of one JSONL line.
pub fn encode_line(tok: &GgufTokenizer, line: &str) -> std::result::Result<Example, String> {
    let parsed: TrainingLine =
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let (ids, mask) = if let Some(messages) = parsed.messages {
        if let Some(m) = messages
            .iter()
            .find(|m| !["system", "user", "assistant"].contains(&m.role.as_str()))
        {
            return Err(format!(
                "unknown role `{}` (use system, user or assistant)",
                m.role
            ));
        }
        tok.encode_chat_for_training(&messages)
            .map_err(|e| e.to_string())?
    } else if let (Some(p), Some(c)) = (parsed.prompt, parsed.completion) {
        tok.encode_chat_for_training(&[Message::new("user", &p), Message::new("assistant", &c)])
            .map_err(|e| e.to_string())?
    } else if let Some(text) = parsed.text {
        let ids = tok.encode(&text).map_err(|e| e.to_string())?;
        let mask = vec![true; ids.len()];
        (ids, mask)
    } else {
        return Err("expected `messages`, `prompt` + `completion`, or `text`".to_string());
    };
    Ok(Example { ids, mask })
}

/// The shortest sequence that trains or scores anything useful.
pub const MIN_SEQ_LEN: usize = 8;

/// Checks a sequence length (`--max-seq-len`, `max_seq_len`) against the model's context: a
/// longer one only costs memory (attention is quadratic in it), a zero one means nothing.
pub fn check_seq_len(max_seq_len: usize, context_length: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        (MIN_SEQ_LEN..=context_length.max(MIN_SEQ_LEN)).contains(&max_seq_len),
        "max sequence length {max_seq_len} (--max-seq-len, max_seq_len): use {MIN_SEQ_LEN} to \
         {context_length}, the model's context length"
    );
    Ok(())
}

/// Fits an example to `max_len` tokens.
pub fn fit(
    ex: Example,
    max_len: usize,
    long: LongExamples,
    report: &mut DataReport,
) -> Vec<Example> {
    // Callers check the length first (`check_seq_len`); never a zero-sized chunk regardless.
    let max_len = max_len.max(1);
    if ex.ids.len() <= max_len {
        return vec![ex];
    }
    match long {
        LongExamples::Skip => {
            report.skipped_long += 1;
            vec![]
        }
        LongExamples::Split => {
            report.split_long += 1;
            ex.windows(max_len)
        }
    }
}

/// Reads a JSONL dataset. Bad lines are errors naming the file and line.
pub fn load_jsonl(
    path: &Path,
    tok: &GgufTokenizer,
    max_len: usize,
    long: LongExamples,
) -> Result<(Vec<Example>, DataReport)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the dataset", path.display()))?;
    let mut report = DataReport::default();
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        report.lines += 1;
        let ex = encode_line(tok, line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), n + 1))?;
        if ex.n_targets() == 0 {
            report.skipped_no_target += 1;
            continue;
        }
        out.extend(fit(ex, max_len, long, &mut report));
    }
    if out.is_empty() {
        bail!("{}: no usable examples ({report})", path.display());
    }
    report.examples = out.len();
    report.tokens = out.iter().map(|e| e.ids.len()).sum();
    report.target_tokens = out.iter().map(Example::n_targets).sum();
    Ok((out, report))
}
