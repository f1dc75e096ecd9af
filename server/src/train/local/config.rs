//! The `[local]` section of `voicetune.toml`.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::model::llama::{LoraConfig, ALL_TARGETS};

/// What to do with an example longer than `max_seq_len` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongExamples {
    /// Cut it into windows of `max_seq_len` tokens (each keeps its own assistant tokens).
    Split,
    /// Leave it out (counted in the report).
    Skip,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Base model GGUF (llama family); the default SmolLM2-135M-Instruct when unset.
    pub model: Option<PathBuf>,
    pub rank: usize,
    pub alpha: f64,
    pub dropout: f32,
    /// LoRA target modules: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.
    pub targets: Vec<String>,
    /// Peak learning rate (after warmup).
    pub lr: f64,
    /// The cosine decay ends at `lr * min_lr_ratio`.
    pub min_lr_ratio: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    /// Gradients are clipped to this global norm (0 = off).
    pub max_grad_norm: f64,
    pub epochs: usize,
    /// Examples per optimiser step (gradient accumulation; batch size 1 per forward).
    pub grad_accum: usize,
    pub max_seq_len: usize,
    pub long_examples: LongExamples,
    /// Share of the dataset held out for validation when no validation file is given.
    pub val_fraction: f64,
    /// Validation loss every N optimiser steps (0 = only at the end).
    pub eval_every: usize,
    /// Checkpoint every N optimiser steps (0 = only when cancelled or finished).
    pub save_every: usize,
    pub seed: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        let lora = LoraConfig::default();
        LocalConfig {
            model: None,
            rank: lora.rank,
            alpha: lora.alpha,
            dropout: lora.dropout,
            targets: ALL_TARGETS.iter().map(|s| s.to_string()).collect(),
            lr: 1e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 10,
            weight_decay: 0.0,
            max_grad_norm: 1.0,
            epochs: 2,
            grad_accum: 4,
            max_seq_len: 512,
            long_examples: LongExamples::Split,
            val_fraction: 0.1,
            eval_every: 50,
            save_every: 50,
            seed: 42,
        }
    }
}

impl LocalConfig {
    /// The LoRA part of the settings.
    pub fn lora(&self) -> LoraConfig {
        LoraConfig {
            rank: self.rank,
            alpha: self.alpha,
            dropout: self.dropout,
            targets: self.targets.clone(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.lora().validate()?;
        anyhow::ensure!(self.lr > 0.0, "[local] lr must be positive");
        anyhow::ensure!(self.epochs > 0, "[local] epochs must be at least 1");
        anyhow::ensure!(self.grad_accum > 0, "[local] grad_accum must be at least 1");
        anyhow::ensure!(
            self.max_seq_len >= 8,
            "[local] max_seq_len must be at least 8"
        );
        anyhow::ensure!(
            (0.0..1.0).contains(&self.val_fraction),
            "[local] val_fraction must be in [0, 1)"
        );
        Ok(())
    }

    /// The `[local]` table of `voicetune.toml` in `workspace` (defaults when the file or the
    /// table is missing). The lead's config.rs will own the file; this reads only our table.
    pub fn from_workspace(workspace: &Path) -> Result<LocalConfig> {
        let path = workspace.join("voicetune.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LocalConfig::default()),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("{}: invalid TOML", path.display()))?;
        let Some(local) = table.get("local") else {
            return Ok(LocalConfig::default());
        };
        let mut cfg: LocalConfig = local
            .clone()
            .try_into()
            .with_context(|| format!("{}: invalid [local] section", path.display()))?;
        // A relative model path is relative to the workspace, not to the current folder.
        if let Some(m) = cfg.model.as_mut().filter(|m| m.is_relative()) {
            *m = workspace.join(&*m);
        }
        cfg.validate()
            .with_context(|| format!("{}: invalid [local] section", path.display()))?;
        Ok(cfg)
    }

    /// These settings with `overrides` applied (the language server's command arguments): keys
    /// are the `[local]` names, in snake_case or camelCase (`maxSeqLen`); a relative `model` is
    /// relative to `workspace`. A `rank` without an `alpha` sets alpha to 2 x rank, as
    /// `voicetune train --rank` does.
    pub fn with_overrides(
        &self,
        workspace: &Path,
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<LocalConfig> {
        let mut value = serde_json::to_value(self)?;
        let table = value
            .as_object_mut()
            .context("the settings serialise to an object")?;
        let overrides: serde_json::Map<String, serde_json::Value> = overrides
            .iter()
            .map(|(k, v)| (snake_case(k), v.clone()))
            .collect();
        for (k, v) in &overrides {
            table.insert(k.clone(), v.clone());
        }
        if let (Some(rank), false) = (
            overrides.get("rank").and_then(serde_json::Value::as_f64),
            overrides.contains_key("alpha"),
        ) {
            table.insert("alpha".into(), serde_json::json!(2.0 * rank));
        }
        let mut cfg: LocalConfig =
            serde_json::from_value(value).map_err(|e| anyhow::anyhow!("training settings: {e}"))?;
        if let Some(m) = cfg
            .model
            .as_mut()
            .filter(|m| m.is_relative() && overrides.contains_key("model"))
        {
            *m = workspace.join(&*m);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// The base model path: the configured one, else the default (downloaded when missing).
    pub fn model_path(&self) -> Result<PathBuf> {
        match &self.model {
            Some(p) => Ok(p.clone()),
            None => crate::model::pull::ensure_default_model(),
        }
    }
}

/// `maxSeqLen` -> `max_seq_len` (snake_case stays as it is).
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_take_camel_or_snake_case_and_reject_unknown_keys() {
        let ws = Path::new("/ws");
        let base = LocalConfig::default();
        let map = |v: serde_json::Value| v.as_object().unwrap().clone();
        let cfg = base
            .with_overrides(
                ws,
                &map(serde_json::json!({"maxSeqLen": 64, "grad_accum": 1, "rank": 4, "model": "m.gguf"})),
            )
            .unwrap();
        assert_eq!((cfg.max_seq_len, cfg.grad_accum, cfg.rank), (64, 1, 4));
        assert_eq!(cfg.alpha, 8.0);
        assert_eq!(cfg.model, Some(ws.join("m.gguf")));
        assert_eq!(cfg.epochs, base.epochs);
        let err = base
            .with_overrides(ws, &map(serde_json::json!({"epocs": 1})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("epocs"), "{err}");
        let err = base
            .with_overrides(ws, &map(serde_json::json!({"epochs": 0})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("epochs"), "{err}");
    }
}
