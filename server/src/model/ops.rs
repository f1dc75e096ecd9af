//! Custom candle ops for LoRA training.
//!
//! candle's matmul backward computes the gradient of both operands, even when one of them is a
//! frozen base weight that no optimizer will ever read: that doubles the backward work of every
//! projection and keeps a weight-sized gradient alive per layer. [`frozen_linear`] computes
//! `x @ w^T` as a custom op whose backward returns only the gradient of `x`.

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

struct FrozenLinear {
    /// `[out, in]`, contiguous f32.
    w: Tensor,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = layout.dims();
        let k = *dims
            .last()
            .expect("frozen-linear input has at least one dim");
        let m = layout.shape().elem_count() / k;
        let (n, kw) = self.w.dims2()?;
        if kw != k {
            bail!("frozen-linear: input width {k} does not match weight {n}x{kw}");
        }
        if !layout.is_contiguous() {
            bail!("frozen-linear: input must be contiguous");
        }
        let x_layout = Layout::contiguous_with_offset((m, k), layout.start_offset());
        let (w_storage, w_layout) = self.w.storage_and_layout();
        let Storage::Cpu(w_cpu) = &*w_storage else {
            bail!("frozen-linear: weight must be on the cpu");
        };
        let wt_layout = w_layout.transpose(0, 1)?;
        let out = storage.matmul(w_cpu, (1, m, n, k), &x_layout, &wt_layout)?;
        let mut out_dims = dims.to_vec();
        *out_dims.last_mut().expect("non-empty dims") = n;
        Ok((out, Shape::from(out_dims)))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.broadcast_matmul(&self.w)?))
    }
}

/// `x @ w^T` where `w` (`[out, in]`) is frozen: gradients flow to `x` only.
pub fn frozen_linear(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenLinear { w: w.clone() })
}

/// The contiguous f32 data of a custom op's input.
fn f32_input<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [f32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: input must be contiguous");
    };
    match storage {
        CpuStorage::F32(v) => Ok(&v[start..end]),
        _ => bail!("{op}: only f32 is supported"),
    }
}

/// RMS norm with a frozen scale: `y = x / sqrt(mean(x^2) + eps) * alpha`.
struct RmsNormFrozen {
    alpha: Tensor,
    eps: f32,
}

impl CustomOp1 for RmsNormFrozen {
    fn name(&self) -> &'static str {
        "rms-norm-frozen"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_input(storage, layout, self.name())?;
        let alpha: Vec<f32> = self.alpha.to_vec1()?;
        let d = alpha.len();
        let mut y = vec![0f32; x.len()];
        for (xr, yr) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)) {
            let ms = xr.iter().map(|v| v * v).sum::<f32>() / d as f32;
            let r = 1.0 / (ms + self.eps).sqrt();
            for ((yv, xv), a) in yr.iter_mut().zip(xr).zip(&alpha) {
                *yv = xv * r * a;
            }
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        // dx = r * (gy - yh * mean(gy * yh)), yh = x * r, gy = g * alpha.
        let r = (x.sqr()?.mean_keepdim(candle_core::D::Minus1)? + self.eps as f64)?
            .sqrt()?
            .recip()?;
        let yh = x.broadcast_mul(&r)?;
        let gy = g.broadcast_mul(&self.alpha)?;
        let m = (&gy * &yh)?.mean_keepdim(candle_core::D::Minus1)?;
        Ok(Some((gy - yh.broadcast_mul(&m)?)?.broadcast_mul(&r)?))
    }
}

/// Differentiable RMS norm (gradient to `x` only; `alpha` is frozen), one pass per row.
pub fn rms_norm_frozen(x: &Tensor, alpha: &Tensor, eps: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op1(RmsNormFrozen {
        alpha: alpha.clone(),
        eps,
    })
}

/// Interleaved rotary embedding of `[b, h, t, d]` with `cos`/`sin` of `[t, d/2]`.
struct RopeInterleaved {
    cos: Tensor,
    sin: Tensor,
}

fn rope_rows(x: &[f32], cos: &[f32], sin: &[f32], t: usize, d: usize, sign: f32) -> Vec<f32> {
    use rayon::prelude::*;
    let mut y = vec![0f32; x.len()];
    let half = d / 2;
    x.par_chunks_exact(d)
        .zip(y.par_chunks_exact_mut(d))
        .enumerate()
        .for_each(|(row, (xr, yr))| {
            let pos = row % t;
            let (c, s) = (
                &cos[pos * half..(pos + 1) * half],
                &sin[pos * half..(pos + 1) * half],
            );
            for i in 0..half {
                let (x0, x1) = (xr[2 * i], xr[2 * i + 1]);
                let si = sign * s[i];
                yr[2 * i] = x0 * c[i] - x1 * si;
                yr[2 * i + 1] = x0 * si + x1 * c[i];
            }
        });
    y
}

impl CustomOp1 for RopeInterleaved {
    fn name(&self) -> &'static str {
        "rope-interleaved"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_input(storage, layout, self.name())?;
        let (_, _, t, d) = layout.shape().dims4()?;
        let cos: Vec<f32> = self.cos.flatten_all()?.to_vec1()?;
        let sin: Vec<f32> = self.sin.flatten_all()?.to_vec1()?;
        let y = rope_rows(x, &cos, &sin, t, d, 1.0);
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        // A rotation's gradient is the inverse rotation: the same with -sin.
        let g = g.contiguous()?;
        let (_, _, t, d) = g.dims4()?;
        let cos: Vec<f32> = self.cos.flatten_all()?.to_vec1()?;
        let sin: Vec<f32> = self.sin.flatten_all()?.to_vec1()?;
        let gv: Vec<f32> = g.flatten_all()?.to_vec1()?;
        let dx = rope_rows(&gv, &cos, &sin, t, d, -1.0);
        Ok(Some(Tensor::from_vec(dx, g.shape(), g.device())?))
    }
}

/// Differentiable interleaved rope (the GGUF llama convention).
pub fn rope_interleaved(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(RopeInterleaved {
        cos: cos.contiguous()?,
        sin: sin.contiguous()?,
    })
}

/// Scaled, causally masked softmax over the last dim of attention scores `[.., t, kv]`
/// where query `i` sits at position `offset + i` and may see keys `0..=offset + i`.
struct CausalSoftmax {
    scale: f32,
    offset: usize,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_input(storage, layout, self.name())?;
        let dims = layout.dims();
        let (t, kv) = (dims[dims.len() - 2], dims[dims.len() - 1]);
        use rayon::prelude::*;
        let mut y = vec![0f32; x.len()];
        x.par_chunks_exact(kv)
            .zip(y.par_chunks_exact_mut(kv))
            .enumerate()
            .for_each(|(row, (xr, yr))| {
                let visible = (self.offset + row % t + 1).min(kv);
                let max = xr[..visible]
                    .iter()
                    .fold(f32::NEG_INFINITY, |m, &v| m.max(v))
                    * self.scale;
                let mut sum = 0f32;
                for (yv, xv) in yr[..visible].iter_mut().zip(&xr[..visible]) {
                    *yv = (xv * self.scale - max).exp();
                    sum += *yv;
                }
                let inv = 1.0 / sum;
                yr[..visible].iter_mut().for_each(|v| *v *= inv);
            });
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, y: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        // dx = scale * y * (g - sum(g * y)); masked entries have y = 0.
        let s = (g * y)?.sum_keepdim(candle_core::D::Minus1)?;
        Ok(Some(
            (g.broadcast_sub(&s)? * y)?.affine(self.scale as f64, 0.0)?,
        ))
    }
}

/// `softmax(scale * scores + causal mask)` with a backward pass, without a mask tensor.
pub fn causal_softmax(scores: &Tensor, scale: f64, offset: usize) -> Result<Tensor> {
    scores.contiguous()?.apply_op1(CausalSoftmax {
        scale: scale as f32,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var, D};

    fn close(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Value and gradient of `sum(f(x) * w)` for a fixed random `w`.
    fn value_and_grad(
        x: &Var,
        w: &Tensor,
        f: &dyn Fn(&Tensor) -> Result<Tensor>,
    ) -> (Tensor, Tensor) {
        let y = f(x.as_tensor()).unwrap();
        let loss = (&y * w).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        (y, g.get(x.as_tensor()).unwrap().clone())
    }

    fn check(
        shape: (usize, usize, usize, usize),
        ours: &dyn Fn(&Tensor) -> Result<Tensor>,
        reference: &dyn Fn(&Tensor) -> Result<Tensor>,
    ) {
        let x = Var::randn(0f32, 1.0, shape, &Device::Cpu).unwrap();
        let w = Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap();
        let (y1, g1) = value_and_grad(&x, &w, ours);
        let (y2, g2) = value_and_grad(&x, &w, reference);
        assert!(
            close(&y1, &y2) < 1e-4,
            "values differ by {}",
            close(&y1, &y2)
        );
        assert!(
            close(&g1, &g2) < 1e-4,
            "gradients differ by {}",
            close(&g1, &g2)
        );
    }

    #[test]
    fn frozen_linear_matches_matmul_and_its_input_gradient() {
        let w = Tensor::randn(0f32, 1.0, (6, 8), &Device::Cpu).unwrap();
        let x = Var::randn(0f32, 1.0, (2, 3, 8), &Device::Cpu).unwrap();
        let wy = Tensor::randn(0f32, 1.0, (2, 3, 6), &Device::Cpu).unwrap();
        let f = |x: &Tensor| frozen_linear(x, &w);
        let r = |x: &Tensor| x.broadcast_matmul(&w.t()?);
        let (y1, g1) = value_and_grad(&x, &wy, &f);
        let (y2, g2) = value_and_grad(&x, &wy, &r);
        assert!(close(&y1, &y2) < 1e-4 && close(&g1, &g2) < 1e-4);
    }

    #[test]
    fn rms_norm_matches_candle_slow_version() {
        let alpha = Tensor::randn(0f32, 1.0, 16, &Device::Cpu).unwrap();
        check((2, 3, 5, 16), &|x| rms_norm_frozen(x, &alpha, 1e-5), &|x| {
            candle_nn::ops::rms_norm_slow(x, &alpha, 1e-5)
        });
    }

    #[test]
    fn rope_matches_candle_slow_version() {
        let cos = Tensor::randn(0f32, 1.0, (5, 8), &Device::Cpu).unwrap();
        let sin = Tensor::randn(0f32, 1.0, (5, 8), &Device::Cpu).unwrap();
        check((2, 3, 5, 16), &|x| rope_interleaved(x, &cos, &sin), &|x| {
            candle_nn::rotary_emb::rope_i_slow(x, &cos, &sin)
        });
    }

    #[test]
    fn causal_softmax_matches_masked_softmax() {
        for (t, kv, offset) in [(5usize, 5usize, 0usize), (3, 7, 4)] {
            let mask: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..kv).map(move |j| {
                        if j > i + offset {
                            f32::NEG_INFINITY
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            let mask = Tensor::from_vec(mask, (t, kv), &Device::Cpu).unwrap();
            let reference =
                |x: &Tensor| candle_nn::ops::softmax(&(x * 0.25)?.broadcast_add(&mask)?, D::Minus1);
            check(
                (2, 3, t, kv),
                &|x| causal_softmax(x, 0.25, offset),
                &reference,
            );
        }
    }
}
