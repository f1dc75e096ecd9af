//! Settings: the nearest `voicetune.toml` above a document, overlaid by the client's
//! `initializationOptions` and then `workspace/didChangeConfiguration` settings (both the same
//! shape as `voicetune.toml`, optionally under a `voicetune` key). A bad config is reported
//! (naming the file and the key) and the server carries on with what is valid, else defaults.

use crate::config::{find_config, Config};
use crate::ghost::GhostConfig;
use crate::lint::LintOptions;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Default)]
pub struct Settings {
    init: Option<toml::Table>,
    changed: Option<toml::Table>,
    /// Resolved options per config file (None: no file, defaults plus overlays).
    cache: HashMap<Option<PathBuf>, Arc<LintOptions>>,
    /// Errors already shown, so that each is shown once until the config changes.
    reported: HashSet<String>,
}

impl Settings {
    pub fn set_init(&mut self, value: Option<Value>) {
        self.init = value.as_ref().and_then(overlay_table);
        self.invalidate();
    }

    pub fn set_changed(&mut self, value: Value) {
        self.changed = overlay_table(&value);
        self.invalidate();
    }

    /// Forget resolved configs (a `voicetune.toml` changed).
    pub fn invalidate(&mut self) {
        self.cache.clear();
        self.reported.clear();
    }

    /// The lint options for a document at `file`, plus errors not yet shown to the user.
    pub fn options_for(&mut self, file: Option<&Path>) -> (Arc<LintOptions>, Vec<String>) {
        let config_path = file.and_then(find_config);
        if let Some(opts) = self.cache.get(&config_path) {
            return (opts.clone(), Vec::new());
        }
        let (config, errors) = self.resolve(config_path.as_deref());
        let opts = Arc::new(LintOptions::new(&config));
        self.cache.insert(config_path, opts.clone());
        let fresh = errors
            .into_iter()
            .filter(|e| self.reported.insert(e.clone()))
            .collect();
        (opts, fresh)
    }

    fn resolve(&self, config_path: Option<&Path>) -> (Config, Vec<String>) {
        let mut errors = Vec::new();
        let mut base = toml::Table::new();
        if let Some(path) = config_path {
            let file = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: {e}", path.display()))
                .and_then(|text| {
                    Config::from_toml(&text, path)
                        .and_then(|c| crate::lint::check_config(&c, path))
                        .map_err(|e| e.to_string())?;
                    text.parse::<toml::Table>().map_err(|e| e.to_string())
                });
            match file {
                Ok(table) => base = table,
                Err(e) => errors.push(format!("{e}; using the default settings")),
            }
        }
        let mut merged = base.clone();
        for overlay in self.init.iter().chain(&self.changed) {
            merge(&mut merged, overlay);
        }
        let label = Path::new("editor settings (initializationOptions / didChangeConfiguration)");
        let text = toml::to_string(&merged).unwrap_or_default();
        let editor = Config::from_toml(&text, label)
            .and_then(|c| crate::lint::check_config(&c, label).map(|()| c));
        match editor {
            Ok(config) => (config, errors),
            Err(e) => {
                errors.push(format!(
                    "{}; ignoring the editor settings",
                    e.message.replace("TOML parse error", "error")
                ));
                let config = toml::to_string(&base)
                    .ok()
                    .and_then(|t| Config::from_toml(&t, label).ok())
                    .unwrap_or_default();
                (config, errors)
            }
        }
    }
}

/// The `[completion]` section: how ghostwriting suggests (`max_tokens`, `prompt_budget`,
/// `stop_at_sentence`) and whether accepted suggestions are learned from (`learn`), over [`GhostConfig`]'s defaults. An unknown key or a wrong type is an
/// error naming it.
pub fn ghost_config(section: &toml::Table) -> Result<GhostConfig, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Completion {
        max_tokens: Option<usize>,
        prompt_budget: Option<usize>,
        stop_at_sentence: Option<bool>,
        learn: Option<bool>,
    }
    let mut config = GhostConfig::default();
    let section: Completion = section
        .clone()
        .try_into()
        .map_err(|e| format!("[completion] in voicetune.toml: {}", e.message()))?;
    if let Some(n) = section.max_tokens {
        config.sampling.max_tokens = n.max(1);
    }
    if let Some(n) = section.prompt_budget {
        config.prompt_budget = n.max(1);
    }
    if let Some(stop) = section.stop_at_sentence {
        config.stop_at_sentence = stop;
    }
    if let Some(learn) = section.learn {
        config.learn = learn;
    }
    Ok(config)
}

/// The settings object as a TOML table (`{"voicetune": {...}}` or the object itself).
fn overlay_table(value: &Value) -> Option<toml::Table> {
    let value = value.get("voicetune").unwrap_or(value);
    match json_to_toml(value)? {
        toml::Value::Table(t) => Some(t),
        _ => None,
    }
}

/// JSON -> TOML; nulls (which TOML cannot hold) mean "not set" and are dropped.
fn json_to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().filter_map(json_to_toml).collect()),
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect(),
        ),
    })
}

fn merge(base: &mut toml::Table, overlay: &toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_wins_and_bad_keys_are_named() {
        let mut s = Settings::default();
        s.set_init(Some(
            serde_json::json!({"voicetune": {"lint": {"ignore": ["html"]}}}),
        ));
        let (opts, errors) = s.options_for(None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.config.lint.ignore, vec!["html"]);

        s.set_changed(serde_json::json!({"target_modle": "gpt-4o"}));
        let (opts, errors) = s.options_for(None);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("target_modle"), "{}", errors[0]);
        assert_eq!(opts.config, Config::default());
        // Shown once.
        assert!(s.options_for(None).1.is_empty());
    }

    #[test]
    fn provider_and_max_tokens_come_from_the_editor_like_target_model() {
        let mut s = Settings::default();
        s.set_init(Some(serde_json::json!({"voicetune": {
            "provider": "together",
            "target_model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
            "lint": {"max_tokens": 4096},
        }})));
        let (opts, errors) = s.options_for(None);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.config.provider, crate::config::Provider::Together);
        assert_eq!(opts.config.max_training_tokens(), 4096);
    }

    #[test]
    fn completion_section_overrides_the_ghostwriting_defaults() {
        let table = |text: &str| text.parse::<toml::Table>().unwrap();
        assert_eq!(ghost_config(&table("")).unwrap(), GhostConfig::default());
        let config = ghost_config(&table("max_tokens = 400\nstop_at_sentence = false")).unwrap();
        assert_eq!(config.sampling.max_tokens, 400);
        assert!(!config.stop_at_sentence);
        assert!(!config.learn);
        assert!(ghost_config(&table("learn = true")).unwrap().learn);
        let error = ghost_config(&table("max_token = 4")).unwrap_err();
        assert!(error.contains("max_token"), "{error}");
    }
}
