//! The LoRA training loop: batch size 1 with gradient accumulation, AdamW with warmup + cosine
//! decay, validation every N steps, checkpoints (adapter + optimiser moments + position) for
//! resume, cancellation between examples, and progress events for the CLI and the server.

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::config::LocalConfig;
use super::data::Example;
use super::optim::{clip_grad_norm, lr_at, AdamW};
use crate::model::adapter::write_safetensors;
use crate::model::llama::Llama;
use crate::model::loss::on_matmul_pool;
pub use crate::model::loss::{example_loss, mean_loss};
use crate::model::rng::Rng;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    Started {
        total_steps: usize,
        start_step: usize,
        train_examples: usize,
        val_examples: usize,
    },
    Step {
        step: usize,
        total_steps: usize,
        epoch: usize,
        loss: f64,
        lr: f64,
        tokens_per_sec: f64,
        eta_secs: f64,
    },
    Validation {
        step: usize,
        loss: f64,
    },
    Checkpoint {
        step: usize,
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainStatus {
    Finished,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    pub status: TrainStatus,
    pub steps_done: usize,
    pub total_steps: usize,
    /// Mean loss of the last optimiser step.
    pub last_loss: Option<f64>,
    pub val_loss: Option<f64>,
    /// Seconds spent in this run (not counting earlier runs that were resumed).
    pub secs: f64,
    /// Tokens processed in this run.
    pub tokens: usize,
}

/// The optimiser steps: for each epoch a seeded shuffle, cut into groups of `grad_accum`.
/// Deterministic, so a resumed run replays exactly the remaining steps.
pub fn plan_steps(
    n: usize,
    epochs: usize,
    grad_accum: usize,
    seed: u64,
) -> Vec<(usize, Vec<usize>)> {
    let mut steps = Vec::new();
    for epoch in 0..epochs {
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = Rng::new(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for chunk in order.chunks(grad_accum) {
            steps.push((epoch, chunk.to_vec()));
        }
    }
    steps
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct CheckpointState {
    step: usize,
    total_steps: usize,
    train_examples: usize,
    adam_t: usize,
    seed: u64,
}

pub const CHECKPOINT_DIR: &str = "checkpoint";

fn save_checkpoint(
    dir: &Path,
    vars: &[(String, Var)],
    opt: &AdamW,
    state: &CheckpointState,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut tensors = Vec::new();
    for (i, (name, var)) in vars.iter().enumerate() {
        tensors.push((format!("lora.{name}"), var.as_tensor().clone()));
        tensors.push((format!("m.{name}"), opt.m[i].clone()));
        tensors.push((format!("v.{name}"), opt.v[i].clone()));
    }
    tensors.push((
        "step".to_string(),
        Tensor::new(&[state.step as f32], &Device::Cpu)?,
    ));
    write_safetensors(&dir.join("state.safetensors"), &tensors)?;
    // Written last: a checkpoint counts only once its state.json names the same step.
    crate::fsutil::write_atomic(&dir.join("state.json"), &serde_json::to_vec_pretty(state)?)?;
    Ok(())
}

fn load_checkpoint(dir: &Path, vars: &[(String, Var)], opt: &mut AdamW) -> Result<CheckpointState> {
    let json_path = dir.join("state.json");
    let state: CheckpointState = serde_json::from_slice(
        &std::fs::read(&json_path)
            .with_context(|| format!("{}: cannot read", json_path.display()))?,
    )
    .with_context(|| format!("{}: invalid checkpoint state", json_path.display()))?;
    let st_path = dir.join("state.safetensors");
    let tensors: HashMap<String, Tensor> =
        candle_core::safetensors::load(&st_path, &Device::Cpu)
            .with_context(|| format!("{}: cannot read", st_path.display()))?;
    let get = |k: &str| {
        tensors.get(k).with_context(|| {
            format!(
                "{}: missing `{k}`: the checkpoint does not match this adapter",
                st_path.display()
            )
        })
    };
    let step = get("step")?.to_vec1::<f32>()?[0] as usize;
    if step != state.step {
        bail!("{}: checkpoint files disagree (interrupted while saving); delete the folder to start over", dir.display());
    }
    for (i, (name, var)) in vars.iter().enumerate() {
        let w = get(&format!("lora.{name}"))?;
        if w.dims() != var.dims() {
            bail!(
                "{}: `{name}` has shape {:?}, the adapter {:?}",
                st_path.display(),
                w.dims(),
                var.dims()
            );
        }
        var.set(w)?;
        opt.m[i] = get(&format!("m.{name}"))?.clone();
        opt.v[i] = get(&format!("v.{name}"))?.clone();
    }
    opt.t = state.adam_t;
    Ok(state)
}

/// Trains the LoRA adapters already attached to `model` (see [`Llama::add_lora`]).
/// Checkpoints go to `out_dir/checkpoint/`; with `resume`, training continues from there.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: &Llama,
    train_set: &[Example],
    val_set: &[Example],
    cfg: &LocalConfig,
    out_dir: &Path,
    resume: bool,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainOutcome> {
    cfg.validate()?;
    anyhow::ensure!(!train_set.is_empty(), "no training examples");
    let vars = model.lora_vars();
    anyhow::ensure!(!vars.is_empty(), "the model has no LoRA adapter to train");
    let plan = plan_steps(train_set.len(), cfg.epochs, cfg.grad_accum, cfg.seed);
    let total = plan.len();
    let warmup = cfg.warmup_steps.min(total / 2);
    let mut opt = AdamW::new(
        vars.iter().map(|(_, v)| v.clone()).collect(),
        cfg.weight_decay,
    )?;
    let ckpt_dir = out_dir.join(CHECKPOINT_DIR);
    let mut start = 0;
    if resume && ckpt_dir.join("state.json").exists() {
        let st = load_checkpoint(&ckpt_dir, &vars, &mut opt)?;
        if st.total_steps != total || st.train_examples != train_set.len() || st.seed != cfg.seed {
            bail!(
                "{}: the checkpoint was made with other data or settings ({} steps over {} examples); \
                 delete it or train without resume",
                ckpt_dir.display(),
                st.total_steps,
                st.train_examples
            );
        }
        start = st.step;
    }
    let state_at = |step: usize, opt: &AdamW| CheckpointState {
        step,
        total_steps: total,
        train_examples: train_set.len(),
        adam_t: opt.t,
        seed: cfg.seed,
    };
    on_event(&TrainEvent::Started {
        total_steps: total,
        start_step: start,
        train_examples: train_set.len(),
        val_examples: val_set.len(),
    });
    let t0 = Instant::now();
    let mut tokens_run = 0usize;
    let mut last_loss = None;
    let mut val_loss = None;
    for (step, (epoch, batch)) in plan.iter().enumerate().skip(start) {
        let step_start = Instant::now();
        let lr = lr_at(step, total, warmup, cfg.lr, cfg.min_lr_ratio);
        let mut grads: Vec<Option<Tensor>> = vec![None; vars.len()];
        let mut loss_sum = 0f64;
        let mut step_tokens = 0usize;
        for &i in batch {
            if cancel.load(Ordering::Relaxed) {
                save_checkpoint(&ckpt_dir, &vars, &opt, &state_at(step, &opt))?;
                on_event(&TrainEvent::Checkpoint {
                    step,
                    dir: ckpt_dir.clone(),
                });
                return Ok(TrainOutcome {
                    status: TrainStatus::Cancelled,
                    steps_done: step,
                    total_steps: total,
                    last_loss,
                    val_loss,
                    secs: t0.elapsed().as_secs_f64(),
                    tokens: tokens_run,
                });
            }
            let ex = &train_set[i];
            // Dropout depends only on (seed, step, example): a resumed run replays it exactly.
            model.dropout_seed.store(
                cfg.seed ^ ((step as u64) << 20) ^ i as u64,
                Ordering::Relaxed,
            );
            let (loss, g) = on_matmul_pool(|| -> Result<_> {
                let (loss, _) = example_loss(model, ex, true)?;
                let g = (&loss / batch.len() as f64)?.backward()?;
                Ok((loss.to_scalar::<f32>()? as f64, g))
            })?;
            loss_sum += loss;
            for (k, (_, var)) in vars.iter().enumerate() {
                if let Some(gk) = g.get(var.as_tensor()) {
                    // Detached, so the optimiser state never holds on to this step's graph.
                    let gk = gk.detach();
                    grads[k] = Some(match grads[k].take() {
                        Some(acc) => (acc + gk)?,
                        None => gk,
                    });
                }
            }
            step_tokens += ex.ids.len() - 1;
        }
        let mut grads: Vec<Tensor> = grads
            .into_iter()
            .zip(&vars)
            .map(|(g, (_, v))| g.map_or_else(|| v.zeros_like(), Ok))
            .collect::<candle_core::Result<_>>()?;
        clip_grad_norm(&mut grads, cfg.max_grad_norm)?;
        opt.step(&grads, lr)?;
        tokens_run += step_tokens;
        let loss = loss_sum / batch.len() as f64;
        last_loss = Some(loss);
        let done = step + 1;
        let secs = step_start.elapsed().as_secs_f64();
        let per_step = t0.elapsed().as_secs_f64() / (done - start) as f64;
        on_event(&TrainEvent::Step {
            step: done,
            total_steps: total,
            epoch: *epoch,
            loss,
            lr,
            tokens_per_sec: step_tokens as f64 / secs.max(1e-9),
            eta_secs: per_step * (total - done) as f64,
        });
        if !val_set.is_empty() && cfg.eval_every > 0 && done % cfg.eval_every == 0 && done < total {
            let (l, _) = mean_loss(model, val_set)?;
            val_loss = Some(l);
            on_event(&TrainEvent::Validation {
                step: done,
                loss: l,
            });
        }
        if cfg.save_every > 0 && done % cfg.save_every == 0 && done < total {
            save_checkpoint(&ckpt_dir, &vars, &opt, &state_at(done, &opt))?;
            on_event(&TrainEvent::Checkpoint {
                step: done,
                dir: ckpt_dir.clone(),
            });
        }
    }
    if !val_set.is_empty() {
        let (l, _) = mean_loss(model, val_set)?;
        val_loss = Some(l);
        on_event(&TrainEvent::Validation {
            step: total,
            loss: l,
        });
    }
    save_checkpoint(&ckpt_dir, &vars, &opt, &state_at(total, &opt))?;
    Ok(TrainOutcome {
        status: TrainStatus::Finished,
        steps_done: total,
        total_steps: total,
        last_loss,
        val_loss,
        secs: t0.elapsed().as_secs_f64(),
        tokens: tokens_run,
    })
}
