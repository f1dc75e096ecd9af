//! Token counting, exactly as OpenAI counts: tiktoken encodings (o200k_base for the gpt-4o and
//! gpt-4.1 families, cl100k_base for gpt-3.5) with the cookbook's per-message overhead.
//!
//! Counting uses the `bpe-openai` crate: the same encodings, identical counts to tiktoken-rs
//! (checked in tests/lint.rs on real text), and ~1.4x faster here (BENCHMARKS.md).

pub mod models;
pub mod stats;

pub use models::{lookup, ModelInfo, DEFAULT_MODEL};

use bpe_openai::Tokenizer;
use models::Encoding;

/// Tokens every chat message costs beyond its values (`<|start|>role ... <|end|>`).
pub const TOKENS_PER_MESSAGE: usize = 3;
/// Extra token when a message has a `name`.
pub const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the assistant's reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: usize = 3;

fn bpe(encoding: Encoding) -> &'static Tokenizer {
    match encoding {
        Encoding::O200kBase => bpe_openai::o200k_base(),
        Encoding::Cl100kBase | Encoding::Local => bpe_openai::cl100k_base(),
    }
}

/// A counter bound to one model's encoding; cheap to copy and shareable across threads.
#[derive(Clone, Copy)]
pub struct Counter {
    bpe: &'static Tokenizer,
    pub model: &'static ModelInfo,
}

impl Counter {
    pub fn for_model(model: &'static ModelInfo) -> Counter {
        Counter {
            bpe: bpe(model.encoding),
            model,
        }
    }

    /// Tokens in `text`, special-token strings counted as ordinary text (as the service does).
    pub fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        self.bpe.count(text)
    }
}

/// Tokens in `text` for `model_name` (unknown models use the default model's encoding).
pub fn count_text(model_name: &str, text: &str) -> usize {
    let model = lookup(model_name).unwrap_or_else(|| lookup(DEFAULT_MODEL).expect("default model"));
    Counter::for_model(model).count(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_counts() {
        // "hello world" is 2 tokens in both encodings; the emoji differs between them.
        assert_eq!(count_text("gpt-4o-mini", "hello world"), 2);
        assert_eq!(count_text("gpt-3.5-turbo-0125", "hello world"), 2);
        assert_eq!(count_text("gpt-4o-mini", ""), 0);
    }

    #[test]
    fn default_epochs_match_the_cookbook() {
        assert_eq!(models::default_epochs(5), 20);
        assert_eq!(models::default_epochs(1), 25);
        assert_eq!(models::default_epochs(100), 3);
        assert_eq!(models::default_epochs(20_000), 1);
        assert_eq!(models::default_epochs(10_000), 2);
    }
}
