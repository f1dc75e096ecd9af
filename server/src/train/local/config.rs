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

/// The largest LoRA rank: past the width of a small model's projections (576 for SmolLM2-135M)
/// a higher rank adds memory, not capacity.
pub const MAX_RANK: usize = 256;
/// The most epochs over one dataset (a voice overfits long before).
pub const MAX_EPOCHS: usize = 1000;
/// The most examples accumulated into one optimiser step.
pub const MAX_GRAD_ACCUM: usize = 4096;
/// The most warmup steps.
pub const MAX_STEPS: usize = 1_000_000;

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

    /// Checks every number against the range where training is meaningful and fits in memory
    /// (the upper bounds stop a typo such as `--rank 100000` from allocating gigabytes). The one
    /// check for the command line, `voicetune.toml` and the server's `trainLocal` options; the
    /// sequence length is checked against the model's context once the model is open
    /// ([`super::data::check_seq_len`]).
    pub fn validate(&self) -> Result<()> {
        self.lora().validate()?;
        let bad = |key: &str, value: &dyn std::fmt::Display, range: &str| {
            anyhow::anyhow!("[local] {key} = {value}: use {range}")
        };
        if !(1..=MAX_RANK).contains(&self.rank) {
            return Err(bad(
                "rank",
                &self.rank,
                &format!("1 to {MAX_RANK} (--rank)"),
            ));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(bad("alpha", &self.alpha, "a number above 0"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1.0) {
            return Err(bad(
                "lr",
                &self.lr,
                "a learning rate above 0 and at most 1, e.g. 1e-3 (--lr)",
            ));
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return Err(bad("min_lr_ratio", &self.min_lr_ratio, "0 to 1"));
        }
        if self.warmup_steps > MAX_STEPS {
            return Err(bad(
                "warmup_steps",
                &self.warmup_steps,
                &format!("0 to {MAX_STEPS}"),
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(bad("weight_decay", &self.weight_decay, "0 or more"));
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return Err(bad("max_grad_norm", &self.max_grad_norm, "0 (off) or more"));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return Err(bad(
                "epochs",
                &self.epochs,
                &format!("1 to {MAX_EPOCHS} (--epochs)"),
            ));
        }
        if !(1..=MAX_GRAD_ACCUM).contains(&self.grad_accum) {
            return Err(bad(
                "grad_accum",
                &self.grad_accum,
                &format!("1 to {MAX_GRAD_ACCUM} examples per step (--grad-accum)"),
            ));
        }
        if self.max_seq_len < super::data::MIN_SEQ_LEN {
            return Err(bad(
                "max_seq_len",
                &self.max_seq_len,
                &format!(
                    "at least {} tokens, at most the model's context (--max-seq-len)",
                    super::data::MIN_SEQ_LEN
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(bad("val_fraction", &self.val_fraction, "0 to just under 1"));
        }
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

    /// The server's `trainLocal` options get the checks of `voicetune train` (issue 17).
    #[test]
    fn overrides_out_of_range_are_refused() {
        let base = LocalConfig::default();
        let ws = Path::new("/ws");
        for (options, wanted) in [
            (serde_json::json!({"rank": 100000}), "rank = 100000"),
            (
                serde_json::json!({"epochs": 1000000000u64}),
                "epochs = 1000000000",
            ),
            (serde_json::json!({"lr": -1.0}), "lr = -1"),
            (serde_json::json!({"alpha": 0.0}), "alpha = 0"),
            (serde_json::json!({"gradAccum": 0}), "grad_accum = 0"),
            (serde_json::json!({"maxSeqLen": 0}), "max_seq_len = 0"),
            (serde_json::json!({"valFraction": 1.0}), "val_fraction = 1"),
        ] {
            let err = base
                .with_overrides(ws, options.as_object().unwrap())
                .unwrap_err()
                .to_string();
            assert!(err.contains(wanted), "{options}: {err}");
        }
    }
}
