//! The workspace config of a file with the overrides that `lint` and `stats` take as flags.

use std::path::Path;
use voicetune::config::{Config, Provider};
use voicetune::lint;
use voicetune::tokens;
use voicetune::train::remote::RemoteConfig;

/// The workspace's `[remote]` section, its config read like every command's (rule names checked).
pub(super) fn remote_config(workspace: &Path) -> anyhow::Result<RemoteConfig> {
    RemoteConfig::load_with(workspace, lint::load_config)
}

/// What `lint` and `stats` take as flags over `voicetune.toml`.
#[derive(Default)]
pub(super) struct Overrides<'a> {
    pub model: Option<&'a str>,
    pub provider: Option<Provider>,
    pub max_tokens: Option<usize>,
    pub select: &'a [String],
    pub ignore: &'a [String],
}

/// The config for `path` with command-line overrides applied.
pub(super) fn config_for(path: &Path, overrides: &Overrides) -> anyhow::Result<Config> {
    let (mut config, _) = lint::config_for_file(path)?;
    if let Some(provider) = overrides.provider {
        config.provider = provider;
    }
    if let Some(model) = overrides.model {
        // Together fine-tunes many open models; an unlisted one gets a stated default limit.
        if config.provider == Provider::Openai && tokens::lookup(model).is_none() {
            anyhow::bail!("unknown model {model:?}; known: {}", known_models());
        }
        config.target_model = model.to_string();
    }
    if let Some(max_tokens) = overrides.max_tokens {
        anyhow::ensure!(max_tokens > 0, "--max-tokens must be at least 1");
        config.lint.max_tokens = Some(max_tokens);
    }
    let (select, ignore) = (overrides.select, overrides.ignore);
    for name in select.iter().chain(ignore) {
        if lint::rule_by_name(name).is_none() {
            anyhow::bail!("unknown rule {name:?}; `voicetune rule` lists them");
        }
    }
    if !select.is_empty() {
        config.lint.select = select.to_vec();
    }
    config.lint.ignore.extend(ignore.iter().cloned());
    Ok(config)
}

fn known_models() -> String {
    tokens::models::MODELS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}
