//! `voicetune.toml`: found by walking up from a file, overridable by LSP settings.
//!
//! Sections owned by the services (`[local]`, `[remote]`, `[build]`, `[completion]`) are kept as
//! TOML tables here and typed by their own modules, so this primitive layer does not depend on
//! the layers above it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "voicetune.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The model the data is for: picks the tokenizer, token limit and price.
    pub target_model: String,
    /// Who trains on the data: picks the dataset formats the linter accepts.
    pub provider: Provider,
    /// `auto` detects per file; otherwise every line is checked as this format.
    pub format: FormatSetting,
    /// The voice that ghostwrites (a name in `.voicetune/voices.json`); none: the local base
    /// model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    pub lint: LintConfig,
    pub legacy: LegacyConfig,
    pub local: toml::Table,
    pub remote: toml::Table,
    pub build: toml::Table,
    pub completion: toml::Table,
    /// Together AI fine-tuning (typed in `openai/config.rs`).
    pub together: toml::Table,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target_model: crate::tokens::DEFAULT_MODEL.to_string(),
            provider: Provider::default(),
            format: FormatSetting::Auto,
            voice: None,
            lint: LintConfig::default(),
            legacy: LegacyConfig::default(),
            local: toml::Table::new(),
            remote: toml::Table::new(),
            build: toml::Table::new(),
            completion: toml::Table::new(),
            together: toml::Table::new(),
        }
    }
}

/// The fine-tuning service the data is for (`provider = "together"` in `voicetune.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Openai,
    Together,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Openai, Provider::Together];

    pub fn name(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Together => "together",
        }
    }

    /// The service's name in messages.
    pub fn title(self) -> &'static str {
        match self {
            Provider::Openai => "OpenAI",
            Provider::Together => "Together",
        }
    }

    /// The fewest examples the service accepts in a training file (OpenAI's documented
    /// minimum; Together's `MIN_SAMPLES` in its file check).
    pub fn min_examples(self) -> usize {
        match self {
            Provider::Openai => 10,
            Provider::Together => 1,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Provider, String> {
        Provider::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown provider {s:?}; use openai or together"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormatSetting {
    Auto,
    Chat,
    PromptCompletion,
    Preference,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LintConfig {
    /// Rule names or codes to run; empty means all.
    pub select: Vec<String>,
    /// Rule names or codes to skip.
    pub ignore: Vec<String>,
    /// Per-rule severity overrides: `{ "html" = "warning", "VT301" = "error" }`.
    pub severity: BTreeMap<String, RuleSeverity>,
    /// Examples with fewer tokens than this are flagged as too short.
    pub min_tokens: usize,
    /// Below this many examples the dataset is an error; None: the provider's minimum (10 for
    /// OpenAI, 1 for Together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_examples: Option<usize>,
    /// Below this many examples the dataset gets a warning.
    pub recommended_examples: usize,
    /// How many examples must share a long prefix or suffix before it counts as a template.
    pub template_min_examples: usize,
    /// How long (in characters) a shared prefix/suffix must be to count as templated.
    pub template_min_chars: usize,
    /// The training token limit per example; None: the target model's own limit. The tune
    /// command sets it from the provider's published limits for the chosen model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            select: Vec::new(),
            ignore: Vec::new(),
            severity: BTreeMap::new(),
            min_tokens: 5,
            min_examples: None,
            recommended_examples: 100,
            template_min_examples: 3,
            template_min_chars: 80,
            max_tokens: None,
        }
    }
}

/// A severity as `[lint.severity]` spells it. Rule names are checked by the lint layer, which
/// knows the rules, when it builds its options from this config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSeverity {
    Error,
    Warning,
    Info,
    Hint,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyConfig {
    /// The prompt separator, e.g. "\n\n###\n\n"; None means the file's majority separator.
    pub separator: Option<String>,
    /// The completion stop sequence, e.g. " END"; None means the file's majority ending.
    pub stop: Option<String>,
    /// Run the separator, stop-sequence and leading-space rules even when the target model is
    /// not a legacy completions model (they always run for babbage-002 and davinci-002).
    pub check: bool,
}

/// A config that could not be loaded: the file, the line and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses config text; errors name the line and the key.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Loads `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Config::from_toml(&text, path)
    }

    /// The config for a file: the nearest `voicetune.toml` above it, or the defaults.
    pub fn for_file(file: &Path) -> Result<(Config, Option<PathBuf>), ConfigError> {
        match find_config(file) {
            Some(path) => Ok((Config::load(&path)?, Some(path))),
            None => Ok((Config::default(), None)),
        }
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        // Together fine-tunes many open models; an unlisted one gets a stated default limit.
        if self.provider == Provider::Openai && crate::tokens::lookup(&self.target_model).is_none()
        {
            let known: Vec<&str> = crate::tokens::models::MODELS
                .iter()
                .map(|m| m.name)
                .collect();
            return Err(ConfigError {
                path: path.to_path_buf(),
                message: format!(
                    "target_model = {:?} is not a known model; use one of {}",
                    self.target_model,
                    known.join(", ")
                ),
            });
        }
        Ok(())
    }

    /// The target model's table entry (validated at load, so always present). For Together,
    /// the entry of the model's family, else the generic Together entry.
    pub fn model(&self) -> &'static crate::tokens::ModelInfo {
        if self.provider == Provider::Together {
            return crate::tokens::models::together_model(&self.target_model);
        }
        crate::tokens::lookup(&self.target_model).unwrap_or_else(|| {
            crate::tokens::lookup(crate::tokens::DEFAULT_MODEL).expect("default")
        })
    }

    /// Statistics of per-example token counts as this config trains them: its token limit,
    /// and the provider's default epochs (OpenAI's "auto" rule; Together's `n_epochs` default
    /// of 1 from its API spec).
    pub fn dataset_stats(&self, counts: &[usize]) -> crate::tokens::stats::DatasetStats {
        let epochs = (self.provider == Provider::Together).then_some(1);
        crate::tokens::stats::DatasetStats::with_limit(
            counts,
            self.model(),
            self.max_training_tokens(),
            epochs,
        )
    }

    /// Below this many examples a training file is rejected: `lint.min_examples`, else the
    /// provider's minimum.
    pub fn min_examples(&self) -> usize {
        self.lint
            .min_examples
            .unwrap_or(self.provider.min_examples())
    }

    /// Tokens one training example may hold: `lint.max_tokens` when set, else the target
    /// model's limit.
    pub fn max_training_tokens(&self) -> usize {
        self.lint
            .max_tokens
            .unwrap_or(self.model().max_training_tokens)
    }
}

/// Walks up from `start` (a file or folder) to the nearest `voicetune.toml`.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    let start = if start.is_dir() {
        start
    } else {
        start.parent()?
    };
    let absolute = std::path::absolute(start).ok()?;
    absolute
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_and_max_tokens_are_read_from_toml() {
        let path = Path::new("voicetune.toml");
        let config =
            Config::from_toml("provider = \"together\"\n[lint]\nmax_tokens = 8192\n", path)
                .unwrap();
        assert_eq!(config.provider, Provider::Together);
        assert_eq!(config.lint.max_tokens, Some(8192));
        assert_eq!(config.max_training_tokens(), 8192);
    }

    #[test]
    fn defaults_are_openai_and_the_model_limit() {
        let config = Config::default();
        assert_eq!(config.provider, Provider::Openai);
        assert_eq!(
            config.max_training_tokens(),
            config.model().max_training_tokens
        );
    }

    #[test]
    fn an_unknown_provider_names_the_choices() {
        let err = Config::from_toml("provider = \"acme\"\n", Path::new("v.toml")).unwrap_err();
        assert!(err.message.contains("openai"), "{}", err.message);
        assert_eq!("Together".parse::<Provider>(), Ok(Provider::Together));
        assert_eq!(Provider::Together.to_string(), "together");
        assert!("acme".parse::<Provider>().unwrap_err().contains("together"));
    }
}
