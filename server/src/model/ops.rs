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

/// Inverted dropout whose mask comes from a seed: the mask is regenerated in the backward pass
/// instead of being stored, so a dropout costs one tensor (its output) instead of candle's four.
struct SeededDropout {
    p: f32,
    seed: u64,
}

fn dropout_mask_apply(x: &[f32], p: f32, seed: u64) -> Vec<f32> {
    use rayon::prelude::*;
    let scale = 1.0 / (1.0 - p);
    // Threshold on 24 random bits; blocks of 4096 get their own stream, so the result does not
    // depend on how rayon splits the work.
    let threshold = (p * (1u32 << 24) as f32) as u64;
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(4096)
        .zip(x.par_chunks(4096))
        .enumerate()
        .for_each(|(block, (yb, xb))| {
            let mut rng =
                super::rng::Rng::new(seed ^ (block as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            for (yv, xv) in yb.iter_mut().zip(xb) {
                let keep = (rng.next_u64() >> 40) >= threshold;
                *yv = if keep { xv * scale } else { 0.0 };
            }
        });
    y
}

impl CustomOp1 for SeededDropout {
    fn name(&self) -> &'static str {
        "seeded-dropout"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_input(storage, layout, self.name())?;
        Ok((
            CpuStorage::F32(dropout_mask_apply(x, self.p, self.seed)),
            layout.shape().clone(),
        ))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let g = g.contiguous()?;
        let gv: Vec<f32> = g.flatten_all()?.to_vec1()?;
        let dx = dropout_mask_apply(&gv, self.p, self.seed);
        Ok(Some(Tensor::from_vec(dx, g.shape(), g.device())?))
    }
}

/// Dropout with probability `p`, reproducible from `seed`.
pub fn seeded_dropout(x: &Tensor, p: f32, seed: u64) -> Result<Tensor> {
    x.contiguous()?.apply_op1(SeededDropout { p, seed })
}

/// A contiguous f32 copy of a custom op's input as a tensor, to reuse candle's kernels.
fn input_tensor(storage: &CpuStorage, layout: &Layout, op: &str) -> Result<Tensor> {
    Tensor::from_slice(
        f32_input(storage, layout, op)?,
        layout.shape(),
        &candle_core::Device::Cpu,
    )
}

/// Causal attention `softmax(scale * q k^T + mask) v` over `[b, h, t, d]` (k, v already repeated
/// for grouped-query attention). Only q, k, v and the output are kept for the backward pass,
/// which recomputes the attention weights: with a plain graph, the two `[b, h, t, t]` score
/// tensors per layer dominate training memory at 512 tokens.
struct CausalAttention {
    scale: f64,
    offset: usize,
}

impl CausalAttention {
    fn probs(&self, q: &Tensor, k: &Tensor) -> Result<Tensor> {
        let scores = q.matmul(&k.t()?)?;
        scores.apply_op1_no_bwd(&CausalSoftmax {
            scale: self.scale as f32,
            offset: self.offset,
        })
    }
}

impl candle_core::CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let q = input_tensor(s1, l1, self.name())?;
        let k = input_tensor(s2, l2, self.name())?;
        let v = input_tensor(s3, l3, self.name())?;
        let out = self.probs(&q, &k)?.matmul(&v)?;
        let shape = out.shape().clone();
        let data = out.flatten_all()?.to_vec1::<f32>()?;
        Ok((CpuStorage::F32(data), shape))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _out: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (q, k, v) = (q.detach(), k.detach(), v.detach());
        let p = self.probs(&q, &k)?;
        let g = g.contiguous()?;
        let dv = p.t()?.matmul(&g)?;
        let dp = g.matmul(&v.t()?)?;
        let ds = ((&dp
            - (&dp * &p)?
                .sum_keepdim(candle_core::D::Minus1)?
                .broadcast_as(dp.shape())?)?
            * &p)?
            .affine(self.scale, 0.0)?;
        let dq = ds.matmul(&k)?;
        let dk = ds.t()?.matmul(&q)?;
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

/// Causal attention with a memory-lean backward pass; query `i` sits at `offset + i`.
pub fn causal_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    offset: usize,
) -> Result<Tensor> {
    q.contiguous()?.apply_op3(
        &k.contiguous()?,
        &v.contiguous()?,
        CausalAttention { scale, offset },
    )
}

/// Cross-entropy of `h @ w^T` against `targets`, per row, computed over row chunks so the
/// `[rows, vocab]` logits never exist at once and are not kept for the backward pass (which
/// recomputes each chunk's softmax).
struct LinearCrossEntropy {
    /// `[vocab, hidden]`, frozen.
    w: Tensor,
    /// `[rows]` u32.
    targets: Tensor,
}

const CE_CHUNK: usize = 128;

impl LinearCrossEntropy {
    /// Logits and log-sum-exp of rows `start..start+n`.
    fn chunk(&self, h: &Tensor, start: usize, n: usize) -> Result<(Tensor, Tensor)> {
        let logits = h.narrow(0, start, n)?.matmul(&self.w.t()?)?;
        let max = logits.max_keepdim(1)?;
        let lse = (logits.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
        Ok((logits, lse))
    }
}

impl CustomOp1 for LinearCrossEntropy {
    fn name(&self) -> &'static str {
        "linear-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let h = input_tensor(storage, layout, self.name())?;
        let rows = h.dim(0)?;
        let mut out = Vec::with_capacity(rows);
        for start in (0..rows).step_by(CE_CHUNK) {
            let n = CE_CHUNK.min(rows - start);
            let (logits, lse) = self.chunk(&h, start, n)?;
            let t = self.targets.narrow(0, start, n)?.unsqueeze(1)?;
            let picked = logits.gather(&t, 1)?;
            out.extend((lse - picked)?.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok((CpuStorage::F32(out), Shape::from(rows)))
    }

    fn bwd(&self, h: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        let h = h.detach();
        let rows = h.dim(0)?;
        let mut parts = Vec::new();
        for start in (0..rows).step_by(CE_CHUNK) {
            let n = CE_CHUNK.min(rows - start);
            let (logits, lse) = self.chunk(&h, start, n)?;
            // d loss_i / d logits_i = softmax_i - onehot(target_i), times the row's gradient.
            let p = logits.broadcast_sub(&lse)?.exp()?;
            let t = self.targets.narrow(0, start, n)?.unsqueeze(1)?;
            let ones = Tensor::ones((n, 1), candle_core::DType::F32, h.device())?;
            let p = p.scatter_add(&t, &ones.neg()?, 1)?;
            let p = p.broadcast_mul(&g.narrow(0, start, n)?.unsqueeze(1)?)?;
            parts.push(p.matmul(&self.w)?);
        }
        Ok(Some(Tensor::cat(&parts, 0)?))
    }
}

/// Per-row cross-entropy `[rows]` of the logits `h @ w^T` (`h: [rows, hidden]`, `w` frozen).
pub fn linear_cross_entropy(h: &Tensor, w: &Tensor, targets: &Tensor) -> Result<Tensor> {
    h.contiguous()?.apply_op1(LinearCrossEntropy {
        w: w.clone(),
        targets: targets.clone(),
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
    fn seeded_dropout_is_reproducible_and_its_gradient_uses_the_same_mask() {
        let x = Var::ones((3, 5000), candle_core::DType::F32, &Device::Cpu).unwrap();
        let y = seeded_dropout(x.as_tensor(), 0.25, 9).unwrap();
        let y2 = seeded_dropout(x.as_tensor(), 0.25, 9).unwrap();
        assert_eq!(close(&y, &y2), 0.0);
        let v: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        let dropped = v.iter().filter(|&&a| a == 0.0).count() as f64 / v.len() as f64;
        assert!((dropped - 0.25).abs() < 0.02, "{dropped}");
        assert!(v.iter().all(|&a| a == 0.0 || (a - 1.0 / 0.75).abs() < 1e-6));
        // d(sum(y))/dx is the mask itself, scaled.
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(close(g.get(x.as_tensor()).unwrap(), &y), 0.0);
    }

    #[test]
    fn causal_attention_matches_the_plain_graph() {
        for (t, kv, offset) in [(6usize, 6usize, 0usize), (3, 7, 4)] {
            let q = Var::randn(0f32, 1.0, (1, 2, t, 8), &Device::Cpu).unwrap();
            let k = Var::randn(0f32, 1.0, (1, 2, kv, 8), &Device::Cpu).unwrap();
            let v = Var::randn(0f32, 1.0, (1, 2, kv, 8), &Device::Cpu).unwrap();
            let w = Tensor::randn(0f32, 1.0, (1, 2, t, 8), &Device::Cpu).unwrap();
            let ours =
                causal_attention(q.as_tensor(), k.as_tensor(), v.as_tensor(), 0.3, offset).unwrap();
            let plain = causal_softmax(
                &q.as_tensor().matmul(&k.as_tensor().t().unwrap()).unwrap(),
                0.3,
                offset,
            )
            .unwrap()
            .matmul(v.as_tensor())
            .unwrap();
            assert!(close(&ours, &plain) < 1e-5);
            let g1 = (&ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (&plain * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for var in [&q, &k, &v] {
                let d = close(
                    g1.get(var.as_tensor()).unwrap(),
                    g2.get(var.as_tensor()).unwrap(),
                );
                assert!(d < 1e-4, "gradient differs by {d}");
            }
        }
    }

    #[test]
    fn linear_cross_entropy_matches_candle_cross_entropy() {
        let rows = 300; // more than one chunk
        let h = Var::randn(0f32, 1.0, (rows, 16), &Device::Cpu).unwrap();
        let w = Tensor::randn(0f32, 1.0, (50, 16), &Device::Cpu).unwrap();
        let t: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % 50).collect();
        let t = Tensor::new(t.as_slice(), &Device::Cpu).unwrap();
        let ours = linear_cross_entropy(h.as_tensor(), &w, &t)
            .unwrap()
            .mean_all()
            .unwrap();
        let logits = h.as_tensor().matmul(&w.t().unwrap()).unwrap();
        let reference = candle_nn::loss::cross_entropy(&logits, &t).unwrap();
        assert!(close(&ours, &reference) < 1e-4);
        let g1 = ours.backward().unwrap();
        let g2 = reference.backward().unwrap();
        let d = close(
            g1.get(h.as_tensor()).unwrap(),
            g2.get(h.as_tensor()).unwrap(),
        );
        assert!(d < 1e-5, "gradient differs by {d}");
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
