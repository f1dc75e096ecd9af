//! Dataset statistics: example count, token distribution, billed tokens, the epochs OpenAI
//! would pick, and the training cost per model from the one price table.

use super::models::{default_epochs, ModelInfo, MODELS};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetStats {
    pub model: String,
    pub examples: usize,
    pub min_tokens: usize,
    pub median_tokens: usize,
    pub p95_tokens: usize,
    pub max_tokens: usize,
    pub total_tokens: usize,
    /// Examples over the model's training limit (truncated by the service).
    pub over_limit: usize,
    /// Sum over examples of min(tokens, limit): what one epoch bills.
    pub billed_tokens: usize,
    /// The epochs OpenAI picks for `n_epochs: "auto"`.
    pub epochs: usize,
    /// billed_tokens x epochs.
    pub trained_tokens: usize,
    pub cost_usd: f64,
}

impl DatasetStats {
    /// Statistics of per-example token counts for `model`.
    pub fn from_counts(counts: &[usize], model: &ModelInfo) -> DatasetStats {
        Self::with_epochs(counts, model, None)
    }

    /// As [`from_counts`](Self::from_counts), with explicit epochs (None = OpenAI's default).
    pub fn with_epochs(counts: &[usize], model: &ModelInfo, epochs: Option<usize>) -> DatasetStats {
        Self::with_limit(counts, model, model.max_training_tokens, epochs)
    }

    /// As [`with_epochs`](Self::with_epochs), with the training token limit per example given
    /// (`lint.max_tokens` may lower or raise the model's).
    pub fn with_limit(
        counts: &[usize],
        model: &ModelInfo,
        limit: usize,
        epochs: Option<usize>,
    ) -> DatasetStats {
        let mut sorted = counts.to_vec();
        sorted.sort_unstable();
        let quantile = |q: f64| -> usize {
            if sorted.is_empty() {
                return 0;
            }
            let rank = (q * (sorted.len() - 1) as f64).round() as usize;
            sorted[rank.min(sorted.len() - 1)]
        };
        let billed: usize = sorted.iter().map(|&n| n.min(limit)).sum();
        let epochs = epochs.unwrap_or_else(|| default_epochs(sorted.len()));
        let trained = billed * epochs;
        DatasetStats {
            model: model.name.to_string(),
            examples: sorted.len(),
            min_tokens: sorted.first().copied().unwrap_or(0),
            median_tokens: quantile(0.5),
            p95_tokens: quantile(0.95),
            max_tokens: sorted.last().copied().unwrap_or(0),
            total_tokens: sorted.iter().sum(),
            over_limit: sorted.iter().filter(|&&n| n > limit).count(),
            billed_tokens: billed,
            epochs,
            trained_tokens: trained,
            cost_usd: cost_usd(trained, model),
        }
    }
}

/// Training cost in USD of `trained_tokens` on `model`.
pub fn cost_usd(trained_tokens: usize, model: &ModelInfo) -> f64 {
    trained_tokens as f64 * model.training_usd_per_million / 1_000_000.0
}

/// The cost of the same dataset on every remote model that shares `stats`' tokenizer family
/// (billed tokens differ per encoding, so only same-encoding rows are exact).
pub fn cost_table(stats: &DatasetStats) -> Vec<(&'static str, f64)> {
    let Some(model) = super::lookup(&stats.model) else {
        return Vec::new();
    };
    MODELS
        .iter()
        .filter(|m| m.encoding == model.encoding && m.training_usd_per_million > 0.0)
        .map(|m| (m.name, cost_usd(stats.trained_tokens, m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billed_tokens_cap_at_the_limit_and_cost_follows() {
        let model = crate::tokens::lookup("gpt-3.5-turbo-0125").unwrap();
        let stats = DatasetStats::from_counts(&[100, 20_000, 300], model);
        assert_eq!(stats.billed_tokens, 100 + 16_385 + 300);
        assert_eq!(stats.over_limit, 1);
        assert_eq!(stats.epochs, 25); // 3 examples: min(25, 100 / 3)
        assert_eq!(stats.trained_tokens, 16_785 * 25);
        assert!((stats.cost_usd - 16_785.0 * 25.0 * 8.0 / 1e6).abs() < 1e-9);
        assert_eq!(
            (stats.min_tokens, stats.median_tokens, stats.max_tokens),
            (100, 300, 20_000)
        );
    }
}
