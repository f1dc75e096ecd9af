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
///
/// The work is split into units of (token, head, range of positions), each giving a partial
/// softmax (its maximum score, its sum of exponentials and its unnormalised weighted sum of
/// values) that are merged afterwards. A decoded token has only `n_head` units otherwise (9 for
/// SmolLM2), which two threads cannot share evenly.
pub fn attend(q: &[f32], kv: &LayerKv, heads: Heads, t: usize, offset: usize) -> Vec<f32> {
    let Heads {
        n_head,
        n_kv_head,
        head_dim: d,
    } = heads;
    let group = n_head / n_kv_head;
    let scale = 1.0 / (d as f32).sqrt();
    let splits = position_splits(t * n_head, offset + t);
    let units = t * n_head * splits;
    let mut partial_out = vec![0f32; units * d];
    let mut partial_max_sum = vec![(f32::NEG_INFINITY, 0f32); units];
    let out_ptr = partial_out.as_mut_ptr() as usize;
    let max_sum_ptr = partial_max_sum.as_mut_ptr() as usize;
    let avx2 = super::q4::has_avx2();
    candle_core::utils::barrier_pool().execute_chunked(units, |range| {
        let mut weights = Vec::new();
        for unit in range {
            let (row, split) = (unit / splits, unit % splits);
            let (i, h) = (row / n_head, row % n_head);
            let seen = offset + i + 1;
            let chunk = seen.div_ceil(splits);
            let positions = (split * chunk).min(seen)..((split + 1) * chunk).min(seen);
            let head = HeadCache {
                kv,
                stride: n_kv_head * d,
                start: (h / group) * d,
            };
            // SAFETY: unit `unit` alone writes its slot and `partial_out[unit * d..][..d]`,
            // both in bounds.
            let out =
                unsafe { std::slice::from_raw_parts_mut((out_ptr as *mut f32).add(unit * d), d) };
            let max_sum = attend_positions(
                &q[row * d..][..d],
                &head,
                positions,
                scale,
                avx2,
                &mut weights,
                out,
            );
            unsafe { *(max_sum_ptr as *mut (f32, f32)).add(unit) = max_sum };
        }
    });
    let mut out = vec![0f32; t * n_head * d];
    for (row, o) in out.chunks_exact_mut(d).enumerate() {
        let parts = row * splits..(row + 1) * splits;
        let max = partial_max_sum[parts.clone()]
            .iter()
            .fold(f32::NEG_INFINITY, |m, &(pm, _)| m.max(pm));
        let mut total = 0f32;
        for u in parts {
            let (pm, sum) = partial_max_sum[u];
            if sum == 0.0 {
                continue;
            }
            let w = (pm - max).exp();
            total += w * sum;
            let part = &partial_out[u * d..][..d];
            o.iter_mut().zip(part).for_each(|(o, p)| *o += w * p);
        }
        o.iter_mut().for_each(|o| *o /= total);
    }
    out
}

/// Into how many position ranges each (token, head) is split: enough units for two threads to
/// finish together (16 or more), with ranges of at least 64 positions.
fn position_splits(rows: usize, positions: usize) -> usize {
    16usize.div_ceil(rows).clamp(1, (positions / 64).max(1))
}

/// One key/value head's cached rows: position `j` of it starts at `j * stride + start`.
struct HeadCache<'a> {
    kv: &'a LayerKv,
    stride: usize,
    start: usize,
}

/// One query against `positions` of a cached head: writes `Σ exp(s_j - max) v_j` into `out`
/// and returns `(max, Σ exp(s_j - max))`, where `s_j` is the scaled score; `(-inf, 0)` for no
/// positions.
fn attend_positions(
    query: &[f32],
    head: &HeadCache,
    positions: std::ops::Range<usize>,
    scale: f32,
    avx2: bool,
    weights: &mut Vec<f32>,
    out: &mut [f32],
) -> (f32, f32) {
    out.fill(0.0);
    if positions.is_empty() {
        return (f32::NEG_INFINITY, 0.0);
    }
    weights.clear();
    weights.resize(positions.len(), 0.0);
    let HeadCache { kv, stride, start } = *head;
    let first = positions.start * stride + start;
    scores(query, &kv.k[first..], stride, avx2, weights);
    let max = weights
        .iter()
        .fold(f32::NEG_INFINITY, |m, &w| m.max(w * scale));
    let mut sum = 0f32;
    for w in weights.iter_mut() {
        *w = (*w * scale - max).exp();
        sum += *w;
    }
    weighted_sum(weights, &kv.v[first..], stride, avx2, out);
    (max, sum)
}

/// `scores[j] = q · rows[j * stride..][..q.len()]`.
#[allow(unused_variables)]
fn scores(q: &[f32], rows: &[f32], stride: usize, avx2: bool, scores: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 && q.len().is_multiple_of(8) {
        // SAFETY: `avx2` is true only where the CPU has AVX2 and FMA, and the rows are in
        // `rows` (the caller's positions are cached).
        return unsafe { scores_avx2(q, rows, stride, scores) };
    }
    scores_scalar(q, rows, stride, scores)
}

/// `out += Σ_j w[j] rows[j * stride..][..out.len()]`.
#[allow(unused_variables)]
fn weighted_sum(w: &[f32], rows: &[f32], stride: usize, avx2: bool, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 && out.len().is_multiple_of(8) {
        // SAFETY: as in [`scores`].
        return unsafe { weighted_sum_avx2(w, rows, stride, out) };
    }
    for (j, w) in w.iter().enumerate() {
        let value = &rows[j * stride..][..out.len()];
        out.iter_mut().zip(value).for_each(|(o, v)| *o += w * v);
    }
}

fn scores_scalar(q: &[f32], rows: &[f32], stride: usize, scores: &mut [f32]) {
    for (j, s) in scores.iter_mut().enumerate() {
        *s = dot(q, &rows[j * stride..][..q.len()]);
    }
}

/// [`scores`] with the query held in registers and eight rows per step, whose eight
/// products are summed across lanes together (one horizontal sum per eight rows instead of one
/// per row). Needs `q.len()` a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn scores_avx2(q: &[f32], rows: &[f32], stride: usize, scores: &mut [f32]) {
    use std::arch::x86_64::*;
    let d = q.len();
    let n = scores.len();
    let mut j = 0;
    while j + 8 <= n {
        let mut acc = [_mm256_setzero_ps(); 8];
        for c in (0..d).step_by(8) {
            let qc = _mm256_loadu_ps(q.as_ptr().add(c));
            for (r, acc) in acc.iter_mut().enumerate() {
                let k = _mm256_loadu_ps(rows.as_ptr().add((j + r) * stride + c));
                *acc = _mm256_fmadd_ps(qc, k, *acc);
            }
        }
        // Lane sums of the eight accumulators, in row order.
        let h01 = _mm256_hadd_ps(acc[0], acc[1]);
        let h23 = _mm256_hadd_ps(acc[2], acc[3]);
        let h45 = _mm256_hadd_ps(acc[4], acc[5]);
        let h67 = _mm256_hadd_ps(acc[6], acc[7]);
        let h0123 = _mm256_hadd_ps(h01, h23);
        let h4567 = _mm256_hadd_ps(h45, h67);
        let lo = _mm256_permute2f128_ps(h0123, h4567, 0x20);
        let hi = _mm256_permute2f128_ps(h0123, h4567, 0x31);
        _mm256_storeu_ps(scores.as_mut_ptr().add(j), _mm256_add_ps(lo, hi));
        j += 8;
    }
    if j < n {
        scores_scalar(q, &rows[j * stride..], stride, &mut scores[j..]);
    }
}

/// [`weighted_sum`] eight outputs at a time, held in four registers over all rows. Needs `out.len()` a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_sum_avx2(w: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = w.len();
    for c in (0..out.len()).step_by(8) {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut j = 0;
        while j + 4 <= n {
            for (r, acc) in acc.iter_mut().enumerate() {
                let v = _mm256_loadu_ps(rows.as_ptr().add((j + r) * stride + c));
                *acc = _mm256_fmadd_ps(_mm256_set1_ps(w[j + r]), v, *acc);
            }
            j += 4;
        }
        for (r, &wr) in w.iter().enumerate().skip(j) {
            let v = _mm256_loadu_ps(rows.as_ptr().add(r * stride + c));
            acc[0] = _mm256_fmadd_ps(_mm256_set1_ps(wr), v, acc[0]);
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let o = out.as_mut_ptr().add(c);
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), sum));
    }
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
        // One range per (token, head), and a decoded token split into ranges (not multiples of 8).
        for (offset, t) in [(5, 3), (300, 1), (129, 2)] {
            check_against_candle(heads, offset, t);
        }
    }

    fn check_against_candle(heads: Heads, offset: usize, t: usize) {
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
    fn vector_and_scalar_kernels_agree() {
        let (d, stride, n) = (64, 192, 19);
        let mut rng = crate::model::rng::Rng::new(5);
        let mut draw =
            |len: usize| -> Vec<f32> { (0..len).map(|_| rng.next_f32() - 0.5).collect() };
        let (q, rows, w) = (draw(d), draw(n * stride), draw(n));
        // Scores and weighted sums, vectorised (where the CPU has it) and scalar.
        let run = |avx2: bool| {
            let mut out = vec![0f32; n];
            scores(&q, &rows[64..], stride, avx2, &mut out);
            let mut sum = vec![1f32; d];
            weighted_sum(&w, &rows[64..], stride, avx2, &mut sum);
            out.extend(sum);
            out
        };
        let (fast, plain) = (run(crate::model::q4::has_avx2()), run(false));
        for (a, b) in fast.iter().zip(&plain) {
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
