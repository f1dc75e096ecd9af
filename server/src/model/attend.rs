//! Attention of new tokens over the KV cache, in plain loops on slices (inference only).
//!
//! A decoding step attends one token per layer. Through candle that was ~15 small ops per layer
//! (layout copies, cache concatenation, `repeat_kv`, two matmuls that wake rayon's threads, a
//! softmax), which cost more than the arithmetic. Here the cache grows in place, position by
//! position, and each query head reads its key/value head directly (grouped-query attention
//! without copies).

/// Keys and values of every cached position of one layer, position-major:
/// `[position, kv_head, head_dim]`, so a new token is appended as one copy.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

/// Head counts and size.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
}

/// Rotates the pairs `(2i, 2i + 1)` of every head of `x` (`[t, heads, head_dim]`) by the angles of
/// their token's position (`cos`, `sin`: `[t, head_dim / 2]`): the interleaved rope, as candle's
/// `rope_i`, which matches the GGUF's row order.
pub fn rope_interleaved(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    let half = head_dim / 2;
    if x.is_empty() || half == 0 {
        return;
    }
    let per_token = x.len() / (cos.len() / half).max(1);
    for (i, token) in x.chunks_exact_mut(per_token).enumerate() {
        let (cos, sin) = (&cos[i * half..][..half], &sin[i * half..][..half]);
        for head in token.chunks_exact_mut(head_dim) {
            for (p, pair) in head.chunks_exact_mut(2).enumerate() {
                let (a, b) = (pair[0], pair[1]);
                pair[0] = a * cos[p] - b * sin[p];
                pair[1] = a * sin[p] + b * cos[p];
            }
        }
    }
}

/// `Σ a_i b_i`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight running sums, which the compiler turns into one vector register.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `softmax(q k^T / sqrt(head_dim)) v` for `t` queries (`q`: `[t, n_head, head_dim]`) at
/// positions `offset..offset + t`, each seeing the cached positions up to its own. The cache
/// must already hold those `t` positions. Returns `[t, n_head * head_dim]`.
pub fn attend(q: &[f32], kv: &LayerKv, heads: Heads, t: usize, offset: usize) -> Vec<f32> {
    let Heads {
        n_head,
        n_kv_head,
        head_dim: d,
    } = heads;
    let group = n_head / n_kv_head;
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; t * n_head * d];
    let out_ptr = out.as_mut_ptr() as usize;
    // One unit per (token, head), spread over candle's thread pool.
    candle_core::utils::barrier_pool().execute_chunked(t * n_head, |units| {
        let mut weights = Vec::new();
        for unit in units {
            let (i, h) = (unit / n_head, unit % n_head);
            let g = h / group;
            let query = &q[unit * d..][..d];
            let seen = offset + i + 1;
            weights.clear();
            weights.extend(
                (0..seen).map(|j| dot(query, &kv.k[(j * n_kv_head + g) * d..][..d]) * scale),
            );
            let max = weights.iter().fold(f32::NEG_INFINITY, |m, &w| m.max(w));
            let mut sum = 0f32;
            for w in weights.iter_mut() {
                *w = (*w - max).exp();
                sum += *w;
            }
            // SAFETY: unit `unit` alone writes `out[unit * d..][..d]`, which is in bounds.
            let o =
                unsafe { std::slice::from_raw_parts_mut((out_ptr as *mut f32).add(unit * d), d) };
            for (j, w) in weights.iter().enumerate() {
                let value = &kv.v[(j * n_kv_head + g) * d..][..d];
                let w = w / sum;
                for (o, v) in o.iter_mut().zip(value) {
                    *o += w * v;
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn matches_masked_softmax_attention_with_repeated_kv_heads() {
        // SmolLM2's heads.
        let heads = Heads {
            n_head: 9,
            n_kv_head: 3,
            head_dim: 64,
        };
        let (offset, t) = (5, 3);
        let n = offset + t;
        let dev = Device::Cpu;
        let mut rng = crate::model::rng::Rng::new(11);
        let mut draw =
            |len: usize| -> Vec<f32> { (0..len).map(|_| rng.next_f32() - 0.5).collect() };
        let q = draw(t * heads.n_head * heads.head_dim);
        let kv = LayerKv {
            k: draw(n * heads.n_kv_head * heads.head_dim),
            v: draw(n * heads.n_kv_head * heads.head_dim),
        };
        let ours = attend(&q, &kv, heads, t, offset);

        // The same with tensors: [head, pos, dim], kv heads repeated, causal mask.
        let qt = Tensor::from_vec(q, (t, 9, 64), &dev)
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        let as_heads = |v: &[f32]| {
            let x = Tensor::from_slice(v, (n, 3, 64), &dev)
                .unwrap()
                .transpose(0, 1)
                .unwrap();
            let x = x.unsqueeze(1).unwrap().repeat((1, 3, 1, 1)).unwrap();
            x.reshape((9, n, 64)).unwrap()
        };
        let (k, v) = (as_heads(&kv.k), as_heads(&kv.v));
        let scores =
            (qt.contiguous().unwrap().matmul(&k.t().unwrap()).unwrap() / 64f64.sqrt()).unwrap();
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| {
                (0..n).map(move |j| {
                    if j > offset + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let mask = Tensor::from_vec(mask, (t, n), &dev).unwrap();
        let probs =
            candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&mask).unwrap()).unwrap();
        let want = probs
            .matmul(&v)
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .flatten_all()
            .unwrap();
        let want: Vec<f32> = want.to_vec1().unwrap();
        assert_eq!(ours.len(), want.len());
        for (a, b) in ours.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn rope_matches_candles_interleaved_rope() {
        let dev = Device::Cpu;
        let (t, heads, d) = (3, 2, 8);
        let x: Vec<f32> = (0..t * heads * d)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let cos: Vec<f32> = (0..t * d / 2).map(|i| (i as f32 * 0.1).cos()).collect();
        let sin: Vec<f32> = (0..t * d / 2).map(|i| (i as f32 * 0.1).sin()).collect();
        let mut ours = x.clone();
        rope_interleaved(&mut ours, d, &cos, &sin);
        // candle wants [batch, heads, t, d].
        let xt = Tensor::from_vec(x, (1, t, heads, d), &dev)
            .unwrap()
            .transpose(1, 2)
            .unwrap();
        let c = Tensor::from_vec(cos, (t, d / 2), &dev).unwrap();
        let s = Tensor::from_vec(sin, (t, d / 2), &dev).unwrap();
        let want = candle_nn::rotary_emb::rope_i(&xt.contiguous().unwrap(), &c, &s).unwrap();
        let want: Vec<f32> = want
            .transpose(1, 2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in ours.iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
