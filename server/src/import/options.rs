//! Build options: the `[build]` section of `voicetune.toml`, the options of `voicetune build` and
//! of the server's `voicetune.buildDataset`, and their resolution into [`BuildOptions`]. Errors
//! name the [`BuildField`] at fault, and each face names it its own way (a flag, an option).

use super::filters::{self, Filters};
use super::output::{self, Format};
use super::SourceSpec;
use crate::config::{Config, FormatSetting};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// The `[build]` section of `voicetune.toml`, and the options of `voicetune build` and of the
/// server's `voicetune.buildDataset` command (every field optional; later layers override).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "snake_case")]
pub struct BuildConfig {
    pub author: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Statuses to keep (default `["publish"]`; `["any"]` keeps all).
    pub status: Option<Vec<String>>,
    /// Post types to keep (default `["post"]`; `["any"]` keeps all).
    #[serde(rename = "type")]
    pub post_type: Option<Vec<String>>,
    pub include_title: Option<Vec<String>>,
    pub exclude_title: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub categories: Option<Vec<String>>,
    pub min_tokens: Option<usize>,
    pub max_tokens: Option<usize>,
    /// `chat` or `prompt-completion`.
    pub format: Option<String>,
    pub system: Option<String>,
    pub user_template: Option<String>,
    pub separator: Option<String>,
    pub stop: Option<String>,
    /// Fraction of examples for the validation file (0 < split < 1).
    pub split: Option<f64>,
    pub seed: Option<u64>,
    pub speaker: Option<String>,
    /// Transcripts without speaker labels: who speaks in them when no `Speaker:` line says.
    pub monologue_speaker: Option<String>,
    pub model: Option<String>,
    /// CSV: unknown columns are an error instead of ignored.
    pub strict_columns: Option<bool>,
    /// Stop on the first file that cannot be used instead of skipping it.
    pub strict: Option<bool>,
}

impl BuildConfig {
    /// The `[build]` table of a loaded [`Config`].
    pub fn from_table(table: &toml::Table) -> Result<BuildConfig, String> {
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("[build]: {}", e.message()))
    }

    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn overridden_by(self, over: BuildConfig) -> BuildConfig {
        macro_rules! pick {
            ($($f:ident),*) => { BuildConfig { $($f: over.$f.or(self.$f)),* } };
        }
        pick!(
            author,
            since,
            until,
            status,
            post_type,
            include_title,
            exclude_title,
            tags,
            categories,
            min_tokens,
            max_tokens,
            format,
            system,
            user_template,
            separator,
            stop,
            split,
            seed,
            speaker,
            monologue_speaker,
            model,
            strict_columns,
            strict
        )
    }
}

/// The arguments of the server's `voicetune.buildDataset` command:
/// `{"sources": ["export.xml", "transcript:talks/"], "output": "data.jsonl", "options": {...}}`
/// where `options` has the fields of [`BuildConfig`] (the same as `voicetune build`'s options).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuildRequest {
    pub sources: Vec<String>,
    pub output: PathBuf,
    pub options: BuildConfig,
}

impl BuildRequest {
    /// Resolves against the workspace config: its `[build]` section, overridden by `options`.
    /// Relative paths are taken from `base` (the workspace folder).
    pub fn resolve(&self, workspace: &Config, base: &Path) -> Result<BuildOptions, OptionsError> {
        let defaults = BuildConfig::from_table(&workspace.build).map_err(OptionsError::text)?;
        let cfg = defaults.overridden_by(self.options.clone());
        let sources = self
            .sources
            .iter()
            .map(|s| {
                let mut spec = SourceSpec::parse(s);
                spec.path = base.join(&spec.path);
                spec
            })
            .collect();
        BuildOptions::resolve(sources, base.join(&self.output), cfg, workspace)
    }
}

/// Fully resolved options for one build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub sources: Vec<SourceSpec>,
    pub output: PathBuf,
    pub filters: Filters,
    pub format: Format,
    pub min_tokens: Option<usize>,
    /// Defaults to the target model's training limit per example.
    pub max_tokens: Option<usize>,
    pub split: Option<(f64, u64)>,
    pub speaker: Option<String>,
    /// The speaker of transcripts without labels or a `Speaker:` line.
    pub monologue_speaker: Option<String>,
    /// CSV: unknown columns are an error.
    pub strict_columns: bool,
    /// Stop on the first file that cannot be used (otherwise it is skipped and reported).
    pub strict: bool,
    /// Target model name, as in the model table.
    pub model: String,
    /// The workspace config the output must lint clean under (rules, severities, thresholds).
    pub lint_config: Config,
}

impl BuildOptions {
    /// Resolves `cfg` (already layered: `[build]` config, then command options) into options.
    /// `workspace` is the loaded `voicetune.toml` (or the defaults).
    pub fn resolve(
        sources: Vec<SourceSpec>,
        output: PathBuf,
        cfg: BuildConfig,
        workspace: &Config,
    ) -> Result<BuildOptions, OptionsError> {
        crate::lint::check_rule_names(&workspace.lint)
            .map_err(|e| OptionsError::text(e.to_string()))?;
        if sources.is_empty() {
            return Err(OptionsError::text(
                "no sources given: pass WordPress exports, CSV files, markdown folders or transcripts",
            ));
        }
        let list = |v: Option<Vec<String>>, default: &str| -> Vec<String> {
            let v = v.unwrap_or_else(|| vec![default.to_string()]);
            if v.iter().any(|s| s.eq_ignore_ascii_case("any") || s == "*") {
                Vec::new()
            } else {
                v
            }
        };
        let filters = Filters {
            types: list(cfg.post_type, "post"),
            statuses: list(cfg.status, "publish"),
            author: cfg.author.clone().filter(|a| !a.trim().is_empty()),
            since: cfg
                .since
                .as_deref()
                .map(|s| filters::parse_bound(s, false))
                .transpose()
                .map_err(|e| OptionsError::field(BuildField::Since, format!(": {e}")))?,
            until: cfg
                .until
                .as_deref()
                .map(|s| filters::parse_bound(s, true))
                .transpose()
                .map_err(|e| OptionsError::field(BuildField::Until, format!(": {e}")))?,
            include_title: cfg
                .include_title
                .unwrap_or_default()
                .iter()
                .map(|p| filters::Pattern::new(p))
                .collect(),
            exclude_title: cfg
                .exclude_title
                .unwrap_or_default()
                .iter()
                .map(|p| filters::Pattern::new(p))
                .collect(),
            tags: cfg.tags.unwrap_or_default(),
            categories: cfg.categories.unwrap_or_default(),
        };
        if let (Some(s), Some(u)) = (filters.since, filters.until) {
            if s > u {
                return Err(
                    OptionsError::field(BuildField::Since, format!(" {s} is after "))
                        .then(BuildField::Until, format!(" {u}")),
                );
            }
        }
        let model = cfg.model.unwrap_or_else(|| workspace.target_model.clone());
        let info = crate::tokens::lookup(&model).ok_or_else(|| {
            let known: Vec<&str> = crate::tokens::models::MODELS
                .iter()
                .map(|m| m.name)
                .collect();
            OptionsError::text(format!(
                "unknown model {model:?}; use one of {}",
                known.join(", ")
            ))
        })?;
        let format_name = cfg.format.unwrap_or_else(|| {
            match workspace.format {
                FormatSetting::PromptCompletion => "prompt-completion",
                _ if info.legacy_completions => "prompt-completion",
                _ => "chat",
            }
            .to_string()
        });
        let user_template = cfg
            .user_template
            .unwrap_or_else(|| output::DEFAULT_USER_TEMPLATE.to_string());
        check_template(&user_template)?;
        let format = match format_name.as_str() {
            "chat" => Format::Chat {
                system: cfg
                    .system
                    .unwrap_or_else(|| output::DEFAULT_SYSTEM.to_string()),
                user_template,
            },
            "prompt-completion" | "completion" | "legacy" => Format::PromptCompletion {
                user_template,
                separator: cfg
                    .separator
                    .or_else(|| workspace.legacy.separator.clone())
                    .unwrap_or_else(|| output::DEFAULT_SEPARATOR.to_string()),
                stop: cfg
                    .stop
                    .or_else(|| workspace.legacy.stop.clone())
                    .unwrap_or_else(|| output::DEFAULT_STOP.to_string()),
            },
            other => {
                return Err(OptionsError::field(
                    BuildField::Format,
                    format!(" {other:?}: use chat or prompt-completion"),
                ))
            }
        };
        if let Format::PromptCompletion {
            separator, stop, ..
        } = &format
        {
            if separator.is_empty() || stop.is_empty() {
                return Err(OptionsError::text(
                    "the separator and stop sequence must not be empty",
                ));
            }
        }
        let split = match cfg.split {
            None => None,
            Some(f) if f > 0.0 && f < 1.0 => Some((f, cfg.seed.unwrap_or(0))),
            Some(0.0) => None,
            Some(f) => {
                return Err(OptionsError::field(
                    BuildField::Split,
                    format!(" {f}: use a fraction between 0 and 1, e.g. 0.1"),
                ))
            }
        };
        if cfg.max_tokens == Some(0) {
            return Err(OptionsError::field(
                BuildField::MaxTokens,
                " 0 would drop every example: use 1 or more".to_string(),
            ));
        }
        if let (Some(min), Some(max)) = (cfg.min_tokens, cfg.max_tokens) {
            if min > max {
                return Err(OptionsError::field(
                    BuildField::MinTokens,
                    format!(" {min} is above "),
                )
                .then(BuildField::MaxTokens, format!(" {max}")));
            }
        }
        let mut lint_config = workspace.clone();
        lint_config.target_model = info.name.to_string();
        if let Format::PromptCompletion {
            separator, stop, ..
        } = &format
        {
            lint_config.format = FormatSetting::PromptCompletion;
            lint_config.legacy.separator = Some(separator.clone());
            lint_config.legacy.stop = Some(stop.clone());
        } else {
            lint_config.format = FormatSetting::Chat;
        }
        Ok(BuildOptions {
            sources,
            output,
            filters,
            format,
            min_tokens: cfg.min_tokens,
            max_tokens: cfg.max_tokens,
            split,
            speaker: cfg.speaker.or(cfg.author),
            monologue_speaker: cfg.monologue_speaker.filter(|s| !s.trim().is_empty()),
            strict_columns: cfg.strict_columns.unwrap_or(false),
            strict: cfg.strict.unwrap_or(false),
            model: info.name.to_string(),
            lint_config,
        })
    }
}

fn check_template(template: &str) -> Result<(), OptionsError> {
    if !template.contains("{title}") {
        return Err(OptionsError::field(
            BuildField::UserTemplate,
            format!(" {template:?} has no {{title}}: every example would get the same prompt"),
        ));
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !output::PLACEHOLDERS.contains(&name) {
            return Err(OptionsError::field(
                BuildField::UserTemplate,
                format!(
                    ": unknown placeholder {{{name}}}; use {}",
                    output::PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// A field of [`BuildConfig`] that an [`OptionsError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildField {
    Author,
    Since,
    Until,
    Status,
    PostType,
    IncludeTitle,
    ExcludeTitle,
    Tags,
    Categories,
    MinTokens,
    MaxTokens,
    Format,
    System,
    UserTemplate,
    Separator,
    Stop,
    Split,
    Seed,
    Speaker,
    MonologueSpeaker,
    Model,
    StrictColumns,
    Strict,
}

impl BuildField {
    /// The field's key in `[build]` and in the server's `options` (`since`, `type`, `min_tokens`).
    pub fn key(self) -> &'static str {
        match self {
            BuildField::Author => "author",
            BuildField::Since => "since",
            BuildField::Until => "until",
            BuildField::Status => "status",
            BuildField::PostType => "type",
            BuildField::IncludeTitle => "include_title",
            BuildField::ExcludeTitle => "exclude_title",
            BuildField::Tags => "tags",
            BuildField::Categories => "categories",
            BuildField::MinTokens => "min_tokens",
            BuildField::MaxTokens => "max_tokens",
            BuildField::Format => "format",
            BuildField::System => "system",
            BuildField::UserTemplate => "user_template",
            BuildField::Separator => "separator",
            BuildField::Stop => "stop",
            BuildField::Split => "split",
            BuildField::Seed => "seed",
            BuildField::Speaker => "speaker",
            BuildField::MonologueSpeaker => "monologue_speaker",
            BuildField::Model => "model",
            BuildField::StrictColumns => "strict_columns",
            BuildField::Strict => "strict",
        }
    }
}

/// Build options that cannot be used. The message leaves the fields it is about as fields, so
/// that the command line can call them flags and the server option names
/// ([`OptionsError::describe`]); `Display` uses their keys.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionsError {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Field(BuildField),
    Text(String),
}

impl OptionsError {
    /// An error about no one field.
    pub fn text(message: impl Into<String>) -> OptionsError {
        OptionsError {
            parts: vec![Part::Text(message.into())],
        }
    }

    /// An error that starts with `field`'s name, followed by `rest`.
    pub fn field(field: BuildField, rest: impl Into<String>) -> OptionsError {
        OptionsError {
            parts: vec![Part::Field(field), Part::Text(rest.into())],
        }
    }

    /// The message continued with another field's name, then `rest`.
    pub fn then(mut self, field: BuildField, rest: impl Into<String>) -> OptionsError {
        self.parts.push(Part::Field(field));
        self.parts.push(Part::Text(rest.into()));
        self
    }

    /// The field to fix (the first the message names), if any.
    pub fn field_at_fault(&self) -> Option<BuildField> {
        self.parts.iter().find_map(|p| match p {
            Part::Field(f) => Some(*f),
            Part::Text(_) => None,
        })
    }

    /// The message with each field called `name(field)`.
    pub fn describe(&self, name: impl Fn(BuildField) -> String) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Field(f) => name(*f),
                Part::Text(t) => t.clone(),
            })
            .collect()
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(|field| field.key().to_string()))
    }
}

impl std::error::Error for OptionsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_fields_and_each_face_names_them_its_way() {
        let err = BuildOptions::resolve(
            vec![SourceSpec::parse("x.xml")],
            "o.jsonl".into(),
            BuildConfig {
                since: Some("2022".into()),
                until: Some("2021".into()),
                ..BuildConfig::default()
            },
            &Config::default(),
        )
        .unwrap_err();
        assert_eq!(err.field_at_fault(), Some(BuildField::Since));
        assert_eq!(
            err.to_string(),
            "since 2022-01-01 is after until 2021-12-31"
        );
        assert_eq!(
            err.describe(|f| format!("options.{}", f.key())),
            "options.since 2022-01-01 is after options.until 2021-12-31"
        );
        let plain = OptionsError::text("no sources given");
        assert_eq!(plain.field_at_fault(), None);
        assert_eq!(plain.describe(|_| unreachable!()), "no sources given");
    }
}
