//! The model table: each target model's tokenizer, training token limit and training price.
//! Prices and limits live here and nowhere else.

/// Which tokenizer counts a model's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
    /// The local model's own tokenizer (from its GGUF); counted with cl100k until a model
    /// tokenizer is plugged in (see [`super::count_text`]).
    Local,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub name: &'static str,
    pub encoding: Encoding,
    /// Maximum tokens in one training example; longer ones are truncated by the service.
    pub max_training_tokens: usize,
    /// USD per 1M trained tokens (billed tokens x epochs); 0 for local models.
    pub training_usd_per_million: f64,
    /// Whether the model trains on legacy `{"prompt","completion"}` files.
    pub legacy_completions: bool,
}

/// Training limits from the OpenAI fine-tuning guide (platform.openai.com/docs/guides/fine-tuning,
/// "Token limits"); gpt-4.1 limits were not confirmable offline and use the gpt-4o figure. Prices are the
/// published per-1M-token training prices.
pub static MODELS: &[ModelInfo] = &[
    ModelInfo {
        name: "gpt-4o-mini-2024-07-18",
        encoding: Encoding::O200kBase,
        max_training_tokens: 65_536,
        training_usd_per_million: 3.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-4o-2024-08-06",
        encoding: Encoding::O200kBase,
        max_training_tokens: 65_536,
        training_usd_per_million: 25.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-4.1-2025-04-14",
        encoding: Encoding::O200kBase,
        max_training_tokens: 65_536,
        training_usd_per_million: 25.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-4.1-mini-2025-04-14",
        encoding: Encoding::O200kBase,
        max_training_tokens: 65_536,
        training_usd_per_million: 5.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-4.1-nano-2025-04-14",
        encoding: Encoding::O200kBase,
        max_training_tokens: 65_536,
        training_usd_per_million: 1.5,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-3.5-turbo-0125",
        encoding: Encoding::Cl100kBase,
        max_training_tokens: 16_385,
        training_usd_per_million: 8.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-3.5-turbo-1106",
        encoding: Encoding::Cl100kBase,
        max_training_tokens: 16_385,
        training_usd_per_million: 8.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "gpt-3.5-turbo-0613",
        encoding: Encoding::Cl100kBase,
        max_training_tokens: 4_096,
        training_usd_per_million: 8.0,
        legacy_completions: false,
    },
    ModelInfo {
        name: "davinci-002",
        encoding: Encoding::Cl100kBase,
        max_training_tokens: 4_096,
        training_usd_per_million: 6.0,
        legacy_completions: true,
    },
    ModelInfo {
        name: "babbage-002",
        encoding: Encoding::Cl100kBase,
        max_training_tokens: 4_096,
        training_usd_per_million: 0.4,
        legacy_completions: true,
    },
    ModelInfo {
        name: "smollm2-135m-instruct",
        encoding: Encoding::Local,
        max_training_tokens: 8_192,
        training_usd_per_million: 0.0,
        legacy_completions: false,
    },
];

/// The default target model when `voicetune.toml` names none.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini-2024-07-18";

/// Looks a model up by exact name, then by prefix ("gpt-4o-mini" -> the dated snapshot).
pub fn lookup(name: &str) -> Option<&'static ModelInfo> {
    MODELS
        .iter()
        .find(|m| m.name == name)
        .or_else(|| MODELS.iter().find(|m| m.name.starts_with(name)))
}

/// The epochs OpenAI picks when `n_epochs` is "auto" (as in the OpenAI cookbook): 3, raised so
/// that small sets see ~100 examples, lowered so large sets stay near 25,000.
pub fn default_epochs(examples: usize) -> usize {
    const TARGET_EPOCHS: usize = 3;
    const MIN_TARGET_EXAMPLES: usize = 100;
    const MAX_TARGET_EXAMPLES: usize = 25_000;
    const MIN_DEFAULT_EPOCHS: usize = 1;
    const MAX_DEFAULT_EPOCHS: usize = 25;
    if examples == 0 {
        return TARGET_EPOCHS;
    }
    if examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES {
        MAX_DEFAULT_EPOCHS.min(MIN_TARGET_EXAMPLES / examples)
    } else if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES {
        MIN_DEFAULT_EPOCHS.max(MAX_TARGET_EXAMPLES / examples)
    } else {
        TARGET_EPOCHS
    }
}
