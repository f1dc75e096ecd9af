//! Before anything is uploaded: the lint gate (errors block) and the cost estimate
//! (billed tokens x epochs x the model's training price).

use crate::lint::Severity;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
            None => (crate::tokens::models::default_epochs(examples) as u32, true),
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
        if self.price_per_million <= 0.0 {
            // No price of ours (Together without `price_per_million`): the provider's own
            // estimate is shown beside this.
            return format!(
                "{} examples, {} tokens x {} epoch(s) = {} training tokens ({}; no price set here)",
                self.examples,
                self.billed_tokens,
                self.epochs,
                self.billed_tokens * self.epochs as u64,
                self.model
            );
        }
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

/// The lint result that decides whether a file may be uploaded.
#[derive(Debug, Default)]
pub struct Gate {
    /// `file:line:col: message` lines for findings of severity error: these block the upload.
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// The dataset has lint errors and the request was not forced, so nothing was uploaded. The
/// message names the request's `force` field, and each face names it its own way
/// ([`BlockedByLint::describe`]).
#[derive(Debug, Clone)]
pub struct BlockedByLint {
    pub file: PathBuf,
    /// The errors, as printable lines.
    pub errors: Vec<String>,
}

impl BlockedByLint {
    /// The message with the `force` field called `force`.
    pub fn describe(&self, force: &str) -> String {
        const SHOWN: usize = 20;
        let more = self.errors.len().saturating_sub(SHOWN);
        format!(
            "{} has {} error(s); fix them (`voicetune lint --fix {}`) or pass {force} to upload anyway. Nothing was uploaded.\n{}{}",
            self.file.display(),
            self.errors.len(),
            self.file.display(),
            self.errors[..self.errors.len().min(SHOWN)].join("\n"),
            if more > 0 { format!("\n... and {more} more") } else { String::new() }
        )
    }
}

impl std::fmt::Display for BlockedByLint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe("force"))
    }
}

impl std::error::Error for BlockedByLint {}

/// Who trains on the file, as far as the lint gate and the estimate care.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub provider: crate::config::Provider,
    pub model: String,
    /// The longest example the model trains on, in tokens (None: the model table's limit).
    pub max_tokens: Option<usize>,
    /// USD per 1M training tokens; 0 when unknown here.
    pub price_per_million: f64,
}

impl Target {
    /// An OpenAI model from the model table (its limit and price), or an error naming the
    /// models that have a price.
    pub fn openai(model: &str) -> anyhow::Result<Target> {
        let info = model_info(model)?;
        Ok(Target {
            provider: crate::config::Provider::Openai,
            model: info.name.to_string(),
            max_tokens: None,
            price_per_million: info.training_usd_per_million,
        })
    }
}

/// Lints `file` with its `voicetune.toml` (found by walking up from it), for OpenAI's `model`,
/// and estimates what training on it costs (`epochs` None = OpenAI's choice), from one read of
/// the file. Findings of severity error block the upload; warnings are shown.
pub fn check(file: &Path, model: &str, epochs: Option<u32>) -> anyhow::Result<(Gate, Estimate)> {
    check_for(file, &Target::openai(model)?, epochs)
}

/// [`check`] for any provider's model: the lint runs with the config's `provider`, target
/// model and `lint.max_tokens` set to the target's, so a too-long example is an error here and
/// not a failure after upload.
pub fn check_for(
    file: &Path,
    target: &Target,
    epochs: Option<u32>,
) -> anyhow::Result<(Gate, Estimate)> {
    let (mut config, _) = crate::lint::config_for_file(file)?;
    config.provider = target.provider;
    config.target_model = target.model.clone();
    if target.max_tokens.is_some() {
        config.lint.max_tokens = target.max_tokens;
    }
    let opts = crate::lint::LintOptions::new(&config);
    let report = crate::lint::lint_file(file, &opts)?;
    let index = crate::lint::report::LineIndex::new(&report.text);
    let mut gate = Gate::default();
    for finding in &report.findings {
        let text = crate::lint::report::to_text(file, &index, finding)
            .trim_end()
            .to_string();
        match finding.severity {
            Severity::Error => gate.errors.push(text),
            Severity::Warning => gate.warnings.push(text),
            Severity::Info | Severity::Hint => {}
        }
    }
    // Tokens as OpenAI bills them: per example, capped at the model's limit.
    let stats = crate::lint::file_stats(&report.text, report.kind, &opts);
    let estimate = Estimate::new(
        &target.model,
        stats.examples,
        stats.billed_tokens as u64,
        epochs,
        target.price_per_million,
    );
    Ok((gate, estimate))
}

/// The model's entry in the one model table (limits and price).
fn model_info(model: &str) -> anyhow::Result<&'static crate::tokens::ModelInfo> {
    match crate::tokens::lookup(model) {
        Some(m) if m.training_usd_per_million > 0.0 => Ok(m),
        _ => {
            let known: Vec<&str> = crate::tokens::models::MODELS
                .iter()
                .filter(|m| m.training_usd_per_million > 0.0)
                .map(|m| m.name)
                .collect();
            anyhow::bail!(
                "no training price known for model `{model}`, so the cost cannot be estimated; use one of {}",
                known.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_tokens_times_epochs_times_price() {
        let e = Estimate::new("gpt-4o-mini-2024-07-18", 10, 293_333, None, 3.0);
        assert_eq!(e.epochs, 10); // auto: 100 / 10
        assert!((e.cost_usd - 8.79999).abs() < 1e-4);
        assert_eq!(e.cost_text(), "$8.80");
    }

    #[test]
    fn the_lint_gate_names_force_the_way_it_is_given() {
        let blocked = BlockedByLint {
            file: PathBuf::from("d.jsonl"),
            errors: vec!["d.jsonl:1:1: error VT001 [invalid-json] bad".into()],
        };
        assert!(blocked
            .describe("--force")
            .starts_with("d.jsonl has 1 error(s); fix them (`voicetune lint --fix d.jsonl`) or pass --force to upload anyway. Nothing was uploaded.\nd.jsonl:1:1"));
        assert!(blocked
            .to_string()
            .contains("or pass force to upload anyway"));
    }
}
