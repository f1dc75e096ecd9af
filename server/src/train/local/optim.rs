//! AdamW (decoupled weight decay) and the learning-rate schedule. Our own rather than
//! candle-nn's so that the moments can be checkpointed and restored on resume.

use candle_core::{Result, Tensor, Var};

pub struct AdamW {
    pub vars: Vec<Var>,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// Completed updates (for bias correction).
    pub t: usize,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    pub fn new(vars: Vec<Var>, weight_decay: f64) -> Result<AdamW> {
        let m = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<Result<Vec<_>>>()?;
        let v = vars
            .iter()
            .map(|v| v.zeros_like())
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW {
            vars,
            m,
            v,
            t: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        })
    }

    /// One update with `grads[i]` for `vars[i]`.
    pub fn step(&mut self, grads: &[Tensor], lr: f64) -> Result<()> {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        for (i, g) in grads.iter().enumerate().take(self.vars.len()) {
            let m = ((&self.m[i] * self.beta1)? + (g * (1.0 - self.beta1))?)?;
            let v = ((&self.v[i] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let update = ((&m / bc1)? / ((&v / bc2)?.sqrt()? + self.eps)?)?;
            let w = self.vars[i].as_tensor();
            let w_new = if self.weight_decay > 0.0 {
                ((w * (1.0 - lr * self.weight_decay))? - (update * lr)?)?
            } else {
                (w - (update * lr)?)?
            };
            self.vars[i].set(&w_new)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm`; returns the norm before.
pub fn clip_grad_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let mut sq = 0f64;
    for g in grads.iter() {
        sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let s = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            *g = (&*g * s)?;
        }
    }
    Ok(norm)
}

/// Linear warmup from 0 to `peak` over `warmup` steps, then cosine decay to `peak * min_ratio`
/// at `total`. `step` counts from 0.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64, min_ratio: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1);
    let progress = ((step - warmup) as f64 / span as f64).min(1.0);
    let min = peak * min_ratio;
    min + (peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        let lr = |s| lr_at(s, 100, 10, 1e-3, 0.1);
        assert!((lr(0) - 1e-4).abs() < 1e-12);
        assert!((lr(9) - 1e-3).abs() < 1e-12);
        assert!((lr(10) - 1e-3).abs() < 1e-12);
        assert!(lr(55) < lr(30) && lr(30) < lr(10));
        assert!((lr(100) - 1e-4).abs() < 1e-12);
    }

    #[test]
    fn adamw_minimises_a_quadratic() -> Result<()> {
        let x = Var::new(&[3.0f32, -2.0], &candle_core::Device::Cpu)?;
        let mut opt = AdamW::new(vec![x.clone()], 0.0)?;
        for _ in 0..300 {
            let loss = x.as_tensor().sqr()?.sum_all()?;
            let grads = loss.backward()?;
            let g = grads.get(x.as_tensor()).expect("grad").clone();
            opt.step(&[g], 0.05)?;
        }
        let v: Vec<f32> = x.as_tensor().to_vec1()?;
        assert!(v.iter().all(|a| a.abs() < 0.05), "{v:?}");
        Ok(())
    }
}
