//! The `[remote]` section of `voicetune.toml`: where the API is, which key to use, how patiently
//! to call it. Remote training and remote inference both read it.

use super::client::{ApiKey, Client, ClientOptions, Timeouts};
use super::retry;
pub use crate::config::Provider;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// Together AI's API, as its OpenAPI spec's `servers` entry names it.
pub const TOGETHER_BASE_URL: &str = "https://api.together.ai/v1";

/// The `[remote]` section of `voicetune.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteConfig {
    /// API base URL; when unset, `OPENAI_BASE_URL` from the environment, else OpenAI's.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (the key itself is never in the config).
    pub api_key_env: String,
    /// `OpenAI-Organization` header; when unset, `OPENAI_ORG_ID` from the environment.
    pub organization: Option<String>,
    /// `OpenAI-Project` header; when unset, `OPENAI_PROJECT_ID` from the environment.
    pub project: Option<String>,
    /// Base model to fine-tune (default: the top-level `target_model`).
    pub model: String,
    /// Time limit of one API call, in seconds (uploads get more, by size).
    pub timeout_secs: f64,
    /// Time limit of a metadata request (job status, lists), in seconds.
    pub metadata_timeout_secs: f64,
    /// Time limit for opening a connection, in seconds.
    pub connect_timeout_secs: f64,
    /// Retries of a failed call (429, 5xx, timeouts, dropped connections).
    pub max_retries: u32,
    /// First backoff delay in milliseconds; doubles with each retry (with jitter).
    pub retry_base_ms: u64,
    /// How often a running job is polled, in seconds.
    pub poll_interval_secs: f64,
    /// Who fine-tunes: the top-level `provider` of voicetune.toml (not part of `[remote]`).
    #[serde(skip)]
    pub provider: Provider,
    /// The `[together]` section.
    #[serde(skip)]
    pub together: TogetherConfig,
}

/// The `[together]` section of `voicetune.toml`: Together AI's endpoint, key, base model and
/// the LoRA and training settings of its fine-tunes. Timeouts, retries and polling are those
/// of `[remote]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TogetherConfig {
    /// API base URL; when unset, `TOGETHER_BASE_URL` from the environment, else Together's.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (the key itself is never in the config).
    pub api_key_env: String,
    /// Base model to fine-tune (default: the top-level `target_model` when `provider` is
    /// `together`).
    pub model: Option<String>,
    /// LoRA (true) or full fine-tuning.
    pub lora: bool,
    pub lora_r: Option<u32>,
    pub lora_alpha: Option<u32>,
    pub lora_dropout: Option<f64>,
    /// `all-linear` or a comma-separated list such as `q_proj,v_proj`.
    pub lora_trainable_modules: Option<String>,
    pub epochs: Option<u32>,
    pub learning_rate: Option<f64>,
    pub batch_size: Option<u32>,
    /// Checkpoints saved during training (each one downloadable).
    pub n_checkpoints: Option<u32>,
    /// The longest example in tokens, when the model limits do not say (they are checked by
    /// the linter before upload).
    pub max_seq_length: Option<usize>,
    /// Our own estimate's price, USD per 1M training tokens (Together's own estimate is always
    /// asked for and shown beside it).
    pub price_per_million: Option<f64>,
}

impl Default for TogetherConfig {
    fn default() -> Self {
        TogetherConfig {
            base_url: None,
            api_key_env: "TOGETHER_API_KEY".into(),
            model: None,
            lora: true,
            lora_r: None,
            lora_alpha: None,
            lora_dropout: None,
            lora_trainable_modules: None,
            epochs: None,
            learning_rate: None,
            batch_size: None,
            n_checkpoints: None,
            max_seq_length: None,
            price_per_million: None,
        }
    }
}

impl TogetherConfig {
    /// Config first, then `TOGETHER_BASE_URL` (as Together's own SDK reads it), then
    /// Together's URL.
    pub fn resolved_base_url(&self) -> String {
        resolve_url(&self.base_url, "TOGETHER_BASE_URL", TOGETHER_BASE_URL)
    }
}

fn resolve_url(configured: &Option<String>, env: &str, default: &str) -> String {
    configured
        .clone()
        .filter(|u| !u.trim().is_empty())
        .or_else(|| std::env::var(env).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| default.to_string())
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            base_url: None,
            api_key_env: "OPENAI_API_KEY".into(),
            organization: None,
            project: None,
            model: crate::tokens::DEFAULT_MODEL.into(),
            timeout_secs: 60.0,
            metadata_timeout_secs: 15.0,
            connect_timeout_secs: 10.0,
            max_retries: 5,
            retry_base_ms: 500,
            poll_interval_secs: 10.0,
            provider: Provider::default(),
            together: TogetherConfig::default(),
        }
    }
}

impl RemoteConfig {
    /// The `[remote]` section of `<workspace>/voicetune.toml` (defaults when there is none), with
    /// the config's rule names unchecked: commands use [`RemoteConfig::load_with`] and the lint
    /// layer's checked loader (this primitive does not know the rules).
    pub fn load(workspace: &Path) -> anyhow::Result<RemoteConfig> {
        RemoteConfig::load_with(workspace, crate::config::Config::load)
    }

    /// [`RemoteConfig::load`] with the config file read by `load_config`.
    pub fn load_with(
        workspace: &Path,
        load_config: impl FnOnce(&Path) -> Result<crate::config::Config, crate::config::ConfigError>,
    ) -> anyhow::Result<RemoteConfig> {
        let path = workspace.join(crate::config::CONFIG_FILE);
        if !path.is_file() {
            return Ok(RemoteConfig::default());
        }
        let config = load_config(&path)?;
        RemoteConfig::from_config(&config).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Types the `[remote]` table of a loaded config (the server passes its own, with the
    /// editor's settings applied).
    /// Without a `model` of its own, the section uses the config's `target_model`.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<RemoteConfig> {
        let mut remote: RemoteConfig = toml::Value::Table(config.remote.clone())
            .try_into()
            .map_err(|e| anyhow::anyhow!("[remote]: {e}"))?;
        if !config.remote.contains_key("model") {
            remote.model = config.target_model.clone();
        }
        remote.provider = config.provider;
        remote.together = toml::Value::Table(config.together.clone())
            .try_into()
            .map_err(|e| anyhow::anyhow!("[together]: {e}"))?;
        Ok(remote)
    }

    /// Config first, then `OPENAI_BASE_URL`, then OpenAI's own URL.
    pub fn resolved_base_url(&self) -> String {
        resolve_url(&self.base_url, "OPENAI_BASE_URL", DEFAULT_BASE_URL)
    }

    /// A client for `base_url` (or the resolved one), with the key from the environment.
    pub fn client(&self, base_url: Option<&str>) -> anyhow::Result<Client> {
        self.client_for(Provider::Openai, base_url)
    }

    /// A client of `provider`'s API: `base_url` (or the provider's resolved one), the key from
    /// the provider's variable; timeouts and retries from `[remote]`.
    pub fn client_for(&self, provider: Provider, base_url: Option<&str>) -> anyhow::Result<Client> {
        let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let (key_env, default_url, organization, project) = match provider {
            Provider::Openai => (
                &self.api_key_env,
                self.resolved_base_url(),
                self.organization.clone().or_else(|| env("OPENAI_ORG_ID")),
                self.project.clone().or_else(|| env("OPENAI_PROJECT_ID")),
            ),
            Provider::Together => (
                &self.together.api_key_env,
                self.together.resolved_base_url(),
                None,
                None,
            ),
        };
        let key = ApiKey::from_env(key_env)?;
        let options = ClientOptions {
            base_url: base_url.map(str::to_string).unwrap_or(default_url),
            organization,
            project,
            timeouts: Timeouts {
                connect: secs(self.connect_timeout_secs, 10.0),
                metadata: secs(self.metadata_timeout_secs, 15.0),
                call: secs(self.timeout_secs, 60.0),
            },
            retry: retry::RetryPolicy {
                max_retries: self.max_retries,
                base_delay: Duration::from_millis(self.retry_base_ms),
                ..retry::RetryPolicy::default()
            },
        };
        Ok(Client::new(options, key)?)
    }

    /// This config with the API key read from `api_key_env` when given: a voice remembers the
    /// variable its provider's key is in (never the key).
    pub fn with_key_env(&self, api_key_env: Option<&str>) -> RemoteConfig {
        let mut config = self.clone();
        if let Some(env) = api_key_env.filter(|e| !e.is_empty()) {
            config.api_key_env = env.to_string();
        }
        config
    }

    pub fn poll_interval(&self) -> Duration {
        secs(self.poll_interval_secs, 10.0)
    }
}

fn secs(value: f64, fallback: f64) -> Duration {
    Duration::from_secs_f64(if value.is_finite() && value > 0.0 {
        value
    } else {
        fallback
    })
}
