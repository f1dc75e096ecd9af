//! Token counting, exactly as OpenAI counts: tiktoken encodings (o200k_base for the gpt-4o and
//! gpt-4.1 families, cl100k_base for gpt-3.5) with the cookbook's per-message overhead.

pub mod models;
pub mod stats;

pub use models::{lookup, ModelInfo, DEFAULT_MODEL};

use models::Encoding;
use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

/// Tokens every chat message costs beyond its values (`<|start|>role ... <|end|>`).
pub const TOKENS_PER_MESSAGE: usize = 3;
/// Extra token when a message has a `name`.
pub const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the assistant's reply (`<|start|>assistant<|message|>`).
pub const REPLY_PRIMING_TOKENS: usize = 3;

fn bpe(encoding: Encoding) -> &'static CoreBPE {
    static O200K: OnceLock<CoreBPE> = OnceLock::new();
    static CL100K: OnceLock<CoreBPE> = OnceLock::new();
    match encoding {
        Encoding::O200kBase => {
            O200K.get_or_init(|| tiktoken_rs::o200k_base().expect("embedded o200k_base loads"))
        }
        Encoding::Cl100kBase | Encoding::Local => {
            CL100K.get_or_init(|| tiktoken_rs::cl100k_base().expect("embedded cl100k_base loads"))
        }
    }
}

/// A counter bound to one model's encoding; cheap to copy and shareable across threads.
#[derive(Clone, Copy)]
pub struct Counter {
    bpe: &'static CoreBPE,
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
        self.bpe.encode_ordinary(text).len()
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
