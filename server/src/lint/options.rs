//! The config resolved for linting: which rules run, at which severity, with which token
//! counter, separators and stop sequences. Rule names from the config are checked here, where
//! the lint layer knows the rules (the config itself is a primitive and does not).

use super::registry::{all_rules, rule_by_name};
use super::rules::legacy;
use super::types::{Finding, Fix, RuleInfo, Severity};
use crate::config::{Config, ConfigError, LintConfig, RuleSeverity};
use crate::tokens::Counter;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

impl From<RuleSeverity> for Severity {
    fn from(s: RuleSeverity) -> Severity {
        match s {
            RuleSeverity::Error => Severity::Error,
            RuleSeverity::Warning => Severity::Warning,
            RuleSeverity::Info => Severity::Info,
            RuleSeverity::Hint => Severity::Hint,
        }
    }
}

/// A rule name in `[lint]` (select, ignore or severity) that names no rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule(pub String);

impl std::fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lint: unknown rule {:?}; `voicetune rule --list` lists them",
            self.0
        )
    }
}

impl std::error::Error for UnknownRule {}

/// Every rule name in `[lint]` must name a rule (by name or code).
pub fn check_rule_names(lint: &LintConfig) -> Result<(), UnknownRule> {
    match lint
        .select
        .iter()
        .chain(&lint.ignore)
        .chain(lint.severity.keys())
        .find(|name| rule_by_name(name).is_none())
    {
        Some(name) => Err(UnknownRule(name.clone())),
        None => Ok(()),
    }
}

/// [`check_rule_names`] as an error of the config file at `path`.
pub fn check_config(config: &Config, path: &Path) -> Result<(), ConfigError> {
    check_rule_names(&config.lint).map_err(|e| ConfigError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Loads the config at `path` with its rule names checked. Every command reads its config through
/// this or [`config_for_file`], so an unknown rule fails them all the same way, naming the file.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let config = Config::load(path)?;
    check_config(&config, path)?;
    Ok(config)
}

/// [`Config::for_file`] with the found file's rule names checked (see [`load_config`]).
pub fn config_for_file(file: &Path) -> Result<(Config, Option<PathBuf>), ConfigError> {
    let (config, path) = Config::for_file(file)?;
    if let Some(path) = &path {
        check_config(&config, path)?;
    }
    Ok((config, path))
}

/// The config resolved for linting: enabled rules, severities, the token counter.
pub struct LintOptions {
    pub config: Config,
    pub counter: Counter,
    disabled: HashSet<&'static str>,
    severity: HashMap<&'static str, Severity>,
    /// Prompt separators to recognise (the configured one first).
    pub separators: Vec<String>,
    /// Completion stop sequences to recognise (the configured one first).
    pub stops: Vec<String>,
    /// Whether the legacy separator/stop/leading-space rules run: only the retired completions
    /// models (babbage-002, davinci-002) need those conventions, unless the config asks.
    pub legacy_conventions: bool,
}

impl LintOptions {
    /// Options for `config`. Names that match no rule are skipped: check them with
    /// [`check_config`] where the config is read.
    pub fn new(config: &Config) -> LintOptions {
        let by_name = |n: &str| rule_by_name(n).map(|r| r.code);
        let selected: HashSet<&str> = config
            .lint
            .select
            .iter()
            .filter_map(|n| by_name(n))
            .collect();
        let ignored: HashSet<&str> = config
            .lint
            .ignore
            .iter()
            .filter_map(|n| by_name(n))
            .collect();
        let disabled = all_rules()
            .iter()
            .map(|r| r.code)
            .filter(|c| ignored.contains(c) || (!selected.is_empty() && !selected.contains(c)))
            .collect();
        let severity = config
            .lint
            .severity
            .iter()
            .filter_map(|(name, sev)| Some((by_name(name)?, Severity::from(*sev))))
            .collect();
        let configured = |v: &Option<String>, defaults: &[&str]| {
            let mut list: Vec<String> = v.iter().cloned().collect();
            list.extend(
                defaults
                    .iter()
                    .map(|s| s.to_string())
                    .filter(|s| Some(s) != v.as_ref()),
            );
            list
        };
        LintOptions {
            counter: Counter::for_model(config.model()),
            disabled,
            severity,
            separators: configured(&config.legacy.separator, legacy::SEPARATORS),
            stops: configured(&config.legacy.stop, legacy::STOPS),
            legacy_conventions: config.model().legacy_completions
                || config.legacy.check
                || config.legacy.separator.is_some()
                || config.legacy.stop.is_some(),
            config: config.clone(),
        }
    }

    pub fn enabled(&self, rule: &RuleInfo) -> bool {
        !self.disabled.contains(rule.code)
    }

    /// Whether the config sets this rule's severity (which then wins over a rule's own choice).
    pub fn severity_configured(&self, rule: &RuleInfo) -> bool {
        self.severity.contains_key(rule.code)
    }

    /// Builds a finding of `rule`, or None when the rule is disabled.
    pub fn finding(
        &self,
        rule: &'static RuleInfo,
        span: Range<usize>,
        message: String,
        fix: Option<Fix>,
    ) -> Option<Finding> {
        if !self.enabled(rule) {
            return None;
        }
        Some(Finding {
            code: rule.code.to_string(),
            rule: rule.name.to_string(),
            severity: self
                .severity
                .get(rule.code)
                .copied()
                .unwrap_or(rule.severity),
            span,
            message,
            fix,
        })
    }
}
