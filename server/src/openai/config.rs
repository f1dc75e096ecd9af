//! The `[remote]` section of `voicetune.toml`: where the API is, which key to use, how patiently
//! to call it. Remote training and remote inference both read it.

use super::client::{ApiKey, Client, ClientOptions, Timeouts};
use super::retry;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

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
        RemoteConfig::from_config(&config)
            .map_err(|e| anyhow::anyhow!("{}: [remote]: {e}", path.display()))
    }

    /// Types the `[remote]` table of a loaded config (the server passes its own, with the
    /// editor's settings applied).
    /// Without a `model` of its own, the section uses the config's `target_model`.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<RemoteConfig> {
        let mut remote: RemoteConfig = toml::Value::Table(config.remote.clone()).try_into()?;
        if !config.remote.contains_key("model") {
            remote.model = config.target_model.clone();
        }
        Ok(remote)
    }

    /// Config first, then `OPENAI_BASE_URL`, then OpenAI's own URL.
    pub fn resolved_base_url(&self) -> String {
        self.base_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .or_else(|| {
                std::env::var("OPENAI_BASE_URL")
                    .ok()
                    .filter(|u| !u.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
    }

    /// A client for `base_url` (or the resolved one), with the key from the environment.
    pub fn client(&self, base_url: Option<&str>) -> anyhow::Result<Client> {
        let key = ApiKey::from_env(&self.api_key_env)?;
        let env = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let options = ClientOptions {
            base_url: base_url
                .map(str::to_string)
                .unwrap_or_else(|| self.resolved_base_url()),
            organization: self.organization.clone().or_else(|| env("OPENAI_ORG_ID")),
            project: self.project.clone().or_else(|| env("OPENAI_PROJECT_ID")),
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
