//! The workspace config of a file with the overrides that `lint` and `stats` take as flags.

use std::path::Path;
use voicetune::config::Config;
use voicetune::lint;
use voicetune::tokens;
use voicetune::train::remote::RemoteConfig;

/// The workspace's `[remote]` section, its config read like every command's (rule names checked).
pub(super) fn remote_config(workspace: &Path) -> anyhow::Result<RemoteConfig> {
    RemoteConfig::load_with(workspace, lint::load_config)
}

/// The config for `path` with command-line overrides applied.
pub(super) fn config_for(
    path: &Path,
    model: Option<&str>,
    select: &[String],
    ignore: &[String],
) -> anyhow::Result<Config> {
    let (mut config, _) = lint::config_for_file(path)?;
    if let Some(model) = model {
        if tokens::lookup(model).is_none() {
            anyhow::bail!("unknown model {model:?}; known: {}", known_models());
        }
        config.target_model = model.to_string();
    }
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
