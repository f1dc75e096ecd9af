//! Before anything is uploaded: the lint gate (errors block) and the cost estimate
//! (billed tokens x epochs x the model's training price).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a fine-tune will cost, shown before the user pays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub model: String,
    pub examples: usize,
    /// Tokens billed for one pass over the training file (each example capped at the model's
    /// per-example limit).
    pub billed_tokens: u64,
    pub epochs: u32,
    /// Whether `epochs` is OpenAI's automatic choice rather than the user's.
    pub epochs_auto: bool,
    /// USD per 1M training tokens.
    pub price_per_million: f64,
    /// billed_tokens x epochs x price / 1M.
    pub cost_usd: f64,
}

impl Estimate {
    pub fn new(
        model: &str,
        examples: usize,
        billed_tokens: u64,
        epochs: Option<u32>,
        price_per_million: f64,
    ) -> Estimate {
        let (epochs, epochs_auto) = match epochs {
            Some(e) => (e, false),
            None => (auto_epochs(examples), true),
        };
        Estimate {
            model: model.to_string(),
            examples,
            billed_tokens,
            epochs,
            epochs_auto,
            price_per_million,
            cost_usd: billed_tokens as f64 * epochs as f64 * price_per_million / 1_000_000.0,
        }
    }

    /// `$8.80`.
    pub fn cost_text(&self) -> String {
        format!("${:.2}", self.cost_usd)
    }

    /// One line for the CLI and the server's message.
    pub fn summary(&self) -> String {
        format!(
            "{} examples, {} billed tokens x {} epoch(s){} x ${}/1M tokens ({}) = {}",
            self.examples,
            self.billed_tokens,
            self.epochs,
            if self.epochs_auto { " (auto)" } else { "" },
            self.price_per_million,
            self.model,
            self.cost_text()
        )
    }
}

/// The number of epochs OpenAI picks for `n_epochs: "auto"`: aim at 3 passes, but at least 100
/// and at most 25,000 examples seen, within 1..=25 epochs (the rule of OpenAI's data-preparation
/// notebook and its legacy validator).
pub fn auto_epochs(examples: usize) -> u32 {
    const TARGET_EPOCHS: usize = 3;
    const MIN_TARGET_EXAMPLES: usize = 100;
    const MAX_TARGET_EXAMPLES: usize = 25_000;
    const MIN_DEFAULT_EPOCHS: usize = 1;
    const MAX_DEFAULT_EPOCHS: usize = 25;
    if examples == 0 {
        return TARGET_EPOCHS as u32;
    }
    let epochs = if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES {
        MAX_DEFAULT_EPOCHS.min(MIN_TARGET_EXAMPLES.div_ceil(examples))
    } else if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES {
        MIN_DEFAULT_EPOCHS.max(MAX_TARGET_EXAMPLES / examples)
    } else {
        TARGET_EPOCHS
    };
    epochs as u32
}

/// The lint result that decides whether a file may be uploaded.
#[derive(Debug, Default)]
pub struct Gate {
    /// `file:line:col: message` lines for findings of severity error: these block the upload.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Lints `file` with the workspace's configuration.
pub fn lint_gate(_workspace: &Path, file: &Path) -> anyhow::Result<Gate> {
    // Provisional until the lint engine lands on main: every line must be a JSON object.
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut gate = Gate::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if v.is_object() => {}
            Ok(_) => gate.errors.push(format!(
                "{}:{}:1: error: not a JSON object",
                file.display(),
                i + 1
            )),
            Err(e) => gate.errors.push(format!(
                "{}:{}:{}: error: invalid JSON: {e}",
                file.display(),
                i + 1,
                e.column()
            )),
        }
    }
    Ok(gate)
}

/// Estimates the cost of fine-tuning `model` on `file`; `epochs` None means OpenAI's choice.
pub fn estimate(file: &Path, model: &str, epochs: Option<u32>) -> anyhow::Result<Estimate> {
    // Provisional until the token statistics land on main.
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let bpe = tiktoken_rs::o200k_base_singleton();
    let mut examples = 0;
    let mut tokens = 0u64;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        examples += 1;
        tokens += bpe.encode_ordinary(line).len() as u64;
    }
    Ok(Estimate::new(model, examples, tokens, epochs, 3.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_epochs_follows_openai_rule() {
        assert_eq!(auto_epochs(10), 10); // ceil(100 / 10)
        assert_eq!(auto_epochs(3), 25); // capped
        assert_eq!(auto_epochs(33), 4); // 99 < 100 -> ceil(100/33)
        assert_eq!(auto_epochs(34), 3);
        assert_eq!(auto_epochs(8333), 3);
        assert_eq!(auto_epochs(8334), 2); // 25002 > 25000 -> 25000 / 8334
        assert_eq!(auto_epochs(100_000), 1);
    }

    #[test]
    fn cost_is_tokens_times_epochs_times_price() {
        let e = Estimate::new("gpt-4o-mini-2024-07-18", 10, 293_333, None, 3.0);
        assert_eq!(e.epochs, 10);
        assert!((e.cost_usd - 8.79999).abs() < 1e-4);
        assert_eq!(e.cost_text(), "$8.80");
    }
}
