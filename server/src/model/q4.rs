//! Q4_1 matrix products for inference, vectorised with AVX2.
//!
//! The GGUF stores SmolLM2's projections as Q4_1: blocks of 32 weights `w = d * q + m` with a
//! 4-bit `q`, 20 bytes per block. candle 0.11 has only a scalar Q4_1 dot product, so the model
//! used to be requantized to Q8_0 (34 bytes per block) for candle's vectorised kernels. Decoding
//! reads every weight once per token and is bound by memory bandwidth, so this reads the file's
//! blocks as they are (exact: no requantization), with each activation row quantized to 8 bits
//! per block of 32, as llama.cpp does (its "Q8_1").

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use half::f16;

const BLOCK: usize = 32;
const BLOCK_BYTES: usize = 20;

/// A `[rows, cols]` Q4_1 weight matrix, each row one record of its `nb = cols / 32` blocks split
/// by field, so that the kernel converts eight block scales at once and still reads one stream:
/// `d` (nb f16), `m` (nb f16), then `qs` (nb x 16 bytes). Block `b` has the weights
/// `d[b] * q + m[b]`, where `q` is `qs[b][j] & 15` for weight `j < 16` and `qs[b][j - 16] >> 4`
/// after (ggml's order).
#[derive(Debug, Clone)]
pub struct Q4Matrix {
    rows: usize,
    cols: usize,
    /// The row records, in u16 units (f16 scales, then the nibbles two bytes at a time).
    data: Vec<u16>,
    /// LoRA adapters applied with the product, in f32: one per stacked part that has one.
    low_rank: Vec<LowRank>,
}

/// `+ B A` on rows `start..start + rows` of the matrix, with `A: [rank, cols]` and `B` kept
/// transposed, `bt: [rank, rows]`, the adapter's scale in it: adding `B (A x)` is then `rank`
/// runs over contiguous rows, which vectorise.
#[derive(Debug, Clone)]
struct LowRank {
    start: usize,
    rows: usize,
    a: Vec<f32>,
    bt: Vec<f32>,
}

impl Q4Matrix {
    /// The blocks of a Q4_1 `QTensor` `[rows, cols]`; `None` for any other type or shape.
    pub fn from_qtensor(q: &QTensor) -> Result<Option<Q4Matrix>> {
        if q.dtype() != GgmlDType::Q4_1 {
            return Ok(None);
        }
        let Ok((rows, cols)) = q.shape().dims2() else {
            return Ok(None);
        };
        if !cols.is_multiple_of(BLOCK) {
            return Ok(None);
        }
        let raw = q.data()?;
        let nb = cols / BLOCK;
        if raw.len() != rows * nb * BLOCK_BYTES {
            candle_core::bail!("Q4_1 tensor of {rows}x{cols} has {} bytes", raw.len());
        }
        let mut data = Vec::with_capacity(rows * nb * BLOCK_BYTES / 2);
        let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        for row in raw.chunks_exact(nb * BLOCK_BYTES) {
            let blocks = || row.chunks_exact(BLOCK_BYTES);
            data.extend(blocks().map(|b| u16_at(b, 0)));
            data.extend(blocks().map(|b| u16_at(b, 2)));
            // Byte order kept: the u16 units are only ever read back as bytes.
            data.extend(blocks().flat_map(|b| {
                b[4..]
                    .chunks_exact(2)
                    .map(|p| u16::from_ne_bytes([p[0], p[1]]))
            }));
        }
        Ok(Some(Q4Matrix {
            rows,
            cols,
            data,
            low_rank: Vec::new(),
        }))
    }

    /// Stacks matrices with the same column count, rows after rows (exact: rows are independent).
    pub fn stack(parts: &[&Q4Matrix]) -> Option<Q4Matrix> {
        let cols = parts.first()?.cols;
        if parts.iter().any(|p| p.cols != cols) {
            return None;
        }
        let mut low_rank = Vec::new();
        let mut start = 0;
        for p in parts {
            low_rank.extend(p.low_rank.iter().map(|l| LowRank {
                start: l.start + start,
                ..l.clone()
            }));
            start += p.rows;
        }
        Some(Q4Matrix {
            rows: parts.iter().map(|p| p.rows).sum(),
            cols,
            data: parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
            low_rank,
        })
    }

    /// Adds a LoRA adapter to be applied inside the product: `y = x W^T + scale x A^T B^T`,
    /// with `a: [rank, cols]` and `b: [rows, rank]`, row-major.
    pub fn with_low_rank(mut self, a: Vec<f32>, b: Vec<f32>, scale: f32) -> Result<Q4Matrix> {
        let rank = a.len() / self.cols.max(1);
        if !self.low_rank.is_empty() || a.len() != rank * self.cols || b.len() != self.rows * rank {
            candle_core::bail!(
                "adapter of {} + {} values does not fit a {}x{} matrix",
                a.len(),
                b.len(),
                self.rows,
                self.cols
            );
        }
        let mut bt = vec![0f32; rank * self.rows];
        for (r, row) in b.chunks_exact(rank.max(1)).enumerate() {
            for (k, v) in row.iter().enumerate() {
                bt[k * self.rows + r] = v * scale;
            }
        }
        self.low_rank = vec![LowRank {
            start: 0,
            rows: self.rows,
            a,
            bt,
        }];
        Ok(self)
    }

    fn blocks_per_row(&self) -> usize {
        self.cols / BLOCK
    }

    /// Row `r`'s record: `d`, `m`, `qs`.
    fn row(&self, r: usize) -> (&[u16], &[u16], &[[u8; 16]]) {
        let nb = self.blocks_per_row();
        let rec = &self.data[r * nb * 10..(r + 1) * nb * 10];
        let (d, rest) = rec.split_at(nb);
        let (m, qs) = rest.split_at(nb);
        // SAFETY: `qs` is nb * 8 u16s = nb * 16 bytes, and [u8; 16] needs no alignment.
        let qs = unsafe { std::slice::from_raw_parts(qs.as_ptr() as *const [u8; 16], nb) };
        (d, m, qs)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `x @ self^T` for `x: [.., cols]`.
    pub fn forward(self: &std::sync::Arc<Self>, x: &Tensor) -> Result<Tensor> {
        x.apply_op1_no_bwd(&Q4MatMul(self.clone()))
    }

    /// The weights as f32 `[rows, cols]`, with the adapter if there is one (merging, tests).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for r in 0..self.rows {
            let (d, m, qs) = self.row(r);
            for ((qs, d), m) in qs.iter().zip(d).zip(m) {
                let (d, m) = (f16::from_bits(*d).to_f32(), f16::from_bits(*m).to_f32());
                out.extend(qs.iter().map(|q| d * (q & 15) as f32 + m));
                out.extend(qs.iter().map(|q| d * (q >> 4) as f32 + m));
            }
        }
        for l in &self.low_rank {
            for (a, bt) in l.a.chunks_exact(self.cols).zip(l.bt.chunks_exact(l.rows)) {
                for (i, b) in bt.iter().enumerate() {
                    let row = &mut out[(l.start + i) * self.cols..][..self.cols];
                    row.iter_mut().zip(a).for_each(|(w, a)| *w += b * a);
                }
            }
        }
        out
    }
}

/// An activation row quantized per block of 32: `x ≈ d * q`, and `s = d * Σq` (for `m`'s term).
/// `pairs` holds `q` again, per two blocks `b`, `b + 1`: their first halves, then their second
/// halves, the order in which the kernel unpacks two blocks of weights.
struct Q8Row {
    q: Vec<[i8; BLOCK]>,
    d: Vec<f32>,
    s: Vec<f32>,
    pairs: Vec<[i8; 2 * BLOCK]>,
}

fn quantize_row(x: &[f32]) -> Q8Row {
    let n = x.len() / BLOCK;
    let mut row = Q8Row {
        q: vec![[0; BLOCK]; n],
        d: Vec::with_capacity(n),
        s: Vec::with_capacity(n),
        pairs: Vec::with_capacity(n / 2),
    };
    for (xs, qs) in x.chunks_exact(BLOCK).zip(row.q.iter_mut()) {
        let amax = xs.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, v) in qs.iter_mut().zip(xs) {
            *q = (v * id).round() as i8;
            sum += *q as i32;
        }
        row.d.push(d);
        row.s.push(d * sum as f32);
    }
    for two in row.q.chunks_exact(2) {
        let mut p = [0i8; 2 * BLOCK];
        p[..16].copy_from_slice(&two[0][..16]);
        p[16..32].copy_from_slice(&two[1][..16]);
        p[32..48].copy_from_slice(&two[0][16..]);
        p[48..].copy_from_slice(&two[1][16..]);
        row.pairs.push(p);
    }
    row
}

/// Row `r` of `w` times `x`: `Σ_blocks d_w d_x Σ q_w q_x + m_w s_x`.
fn dot_scalar(w: &Q4Matrix, r: usize, x: &Q8Row) -> f32 {
    let (d, m, qs) = w.row(r);
    let mut acc = 0f32;
    for b in 0..w.blocks_per_row() {
        let (qs, xq) = (&qs[b], &x.q[b]);
        let mut isum = 0i32;
        for (j, q) in qs.iter().enumerate() {
            isum += (q & 15) as i32 * xq[j] as i32 + (q >> 4) as i32 * xq[j + 16] as i32;
        }
        let (d, m) = (f16::from_bits(d[b]).to_f32(), f16::from_bits(m[b]).to_f32());
        acc += d * x.d[b] * isum as f32 + m * x.s[b];
    }
    acc
}

/// Row `r` of `w` times `T` activation rows at once (the weights are unpacked once for all),
/// into `out`. Two blocks per step, ~5 instructions per block and token: the 32 bytes of two
/// blocks hold their low nibbles (weights 0..16 of each) and high nibbles (16..32), which meet
/// the activations in [`Q8Row::pairs`] order. The row's block scales times the activation
/// scales are computed first, eight at a time, and laid out four lanes per block to match;
/// `m`'s term is a separate f32 dot product. Needs an even number of blocks per row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2<const T: usize>(
    w: &Q4Matrix,
    r: usize,
    xs: [&Q8Row; T],
    out: &mut [f32; T],
    scales: &mut Vec<f32>,
) {
    use std::arch::x86_64::*;
    let nb = w.blocks_per_row();
    let (wd, wm, wq) = w.row(r);
    // scales[(t * nb + b) * 4 ..][..4] = d_w[b] * d_x[t][b], four times.
    scales.resize(T * nb * 4, 0.0);
    let spread = [
        _mm256_set_epi32(1, 1, 1, 1, 0, 0, 0, 0),
        _mm256_set_epi32(3, 3, 3, 3, 2, 2, 2, 2),
        _mm256_set_epi32(5, 5, 5, 5, 4, 4, 4, 4),
        _mm256_set_epi32(7, 7, 7, 7, 6, 6, 6, 6),
    ];
    let mut m_acc = [_mm256_setzero_ps(); T];
    let mut b = 0;
    while b + 8 <= nb {
        let d = _mm256_cvtph_ps(_mm_loadu_si128(wd.as_ptr().add(b) as *const __m128i));
        let m = _mm256_cvtph_ps(_mm_loadu_si128(wm.as_ptr().add(b) as *const __m128i));
        for t in 0..T {
            let sc = _mm256_mul_ps(d, _mm256_loadu_ps(xs[t].d.as_ptr().add(b)));
            let dst = scales.as_mut_ptr().add((t * nb + b) * 4);
            for (k, idx) in spread.iter().enumerate() {
                _mm256_storeu_ps(dst.add(8 * k), _mm256_permutevar8x32_ps(sc, *idx));
            }
            m_acc[t] = _mm256_fmadd_ps(m, _mm256_loadu_ps(xs[t].s.as_ptr().add(b)), m_acc[t]);
        }
        b += 8;
    }
    let mut m_sum = [0f32; T];
    for t in 0..T {
        m_sum[t] = hsum(m_acc[t]);
        for b in b..nb {
            let sc = f16::from_bits(wd[b]).to_f32() * xs[t].d[b];
            scales[(t * nb + b) * 4..][..4].fill(sc);
            m_sum[t] += f16::from_bits(wm[b]).to_f32() * xs[t].s[b];
        }
    }
    let low = _mm256_set1_epi8(15);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); T];
    for p in 0..nb / 2 {
        let v = _mm256_loadu_si256(wq.as_ptr().add(2 * p) as *const __m256i);
        let lo = _mm256_and_si256(v, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        for t in 0..T {
            let x = xs[t].pairs.get_unchecked(p).as_ptr();
            let xa = _mm256_loadu_si256(x as *const __m256i);
            let xb = _mm256_loadu_si256(x.add(32) as *const __m256i);
            // u8 * i8 pairs summed to i16: at most 4 * 15 * 127, no overflow.
            let s16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xa), _mm256_maddubs_epi16(hi, xb));
            let s32 = _mm256_madd_epi16(s16, ones);
            let sc = _mm256_loadu_ps(scales.as_ptr().add((t * nb + 2 * p) * 4));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32), sc, acc[t]);
        }
    }
    for t in 0..T {
        out[t] = hsum(acc[t]) + m_sum[t];
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    let s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)))
}

/// Whether this CPU runs [`dot_avx2`] (asked once per product).
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Row `r` of `w` times each of `xs` (up to four), into `out`.
#[allow(unused_variables)]
fn dot_rows(
    w: &Q4Matrix,
    r: usize,
    xs: &[Q8Row],
    avx2: bool,
    scales: &mut Vec<f32>,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if avx2 && w.blocks_per_row().is_multiple_of(2) {
        // SAFETY: `avx2` is only true where `has_avx2` detected every feature the kernel needs.
        unsafe {
            match xs {
                [a] => return dot_avx2(w, r, [a], (&mut out[..1]).try_into().unwrap(), scales),
                [a, b] => {
                    return dot_avx2(w, r, [a, b], (&mut out[..2]).try_into().unwrap(), scales)
                }
                [a, b, c] => {
                    return dot_avx2(w, r, [a, b, c], (&mut out[..3]).try_into().unwrap(), scales)
                }
                [a, b, c, d] => {
                    return dot_avx2(
                        w,
                        r,
                        [a, b, c, d],
                        (&mut out[..4]).try_into().unwrap(),
                        scales,
                    )
                }
                _ => {}
            }
        }
    }
    for (o, x) in out.iter_mut().zip(xs) {
        *o = dot_scalar(w, r, x);
    }
}

/// `x @ W^T` as a candle op (inference only: no gradient).
struct Q4MatMul(std::sync::Arc<Q4Matrix>);

impl CustomOp1 for Q4MatMul {
    fn name(&self) -> &'static str {
        "q4_1-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let w = &self.0;
        let x = match storage {
            CpuStorage::F32(v) => match layout.contiguous_offsets() {
                Some((a, b)) => &v[a..b],
                None => candle_core::bail!("q4_1-matmul needs a contiguous input"),
            },
            _ => candle_core::bail!("q4_1-matmul needs f32 input"),
        };
        let dims = layout.shape().dims();
        if dims.last() != Some(&w.cols) {
            candle_core::bail!("q4_1-matmul: input {:?} against {} columns", dims, w.cols);
        }
        let tokens = x.len() / w.cols;
        let xq: Vec<Q8Row> = x.chunks_exact(w.cols).map(quantize_row).collect();
        // The adapters' `u = A x` of every token, `[part][token * rank + k]`; the units add
        // `B u` to their own rows below.
        let u: Vec<Vec<f32>> = w
            .low_rank
            .iter()
            .map(|l| {
                x.chunks_exact(w.cols)
                    .flat_map(|xt| {
                        l.a.chunks_exact(w.cols)
                            .map(|a| crate::model::attend::dot(a, xt))
                    })
                    .collect()
            })
            .collect();
        let mut y = vec![0f32; tokens * w.rows];
        let y_ptr = y.as_mut_ptr() as usize;
        // Rows in units of 16 spread over candle's thread pool; each output element is written
        // by exactly one unit.
        const UNIT: usize = 16;
        let avx2 = has_avx2();
        candle_core::utils::barrier_pool().execute_chunked(w.rows.div_ceil(UNIT), |units| {
            let y_ptr = y_ptr as *mut f32;
            let mut scales = Vec::new();
            let mut dots = [0f32; 4];
            let rows = units.start * UNIT..(units.end * UNIT).min(w.rows);
            for r in rows.clone() {
                // Up to four tokens per pass over the row's weights.
                for (g, group) in xq.chunks(4).enumerate() {
                    let out = &mut dots[..group.len()];
                    dot_rows(w, r, group, avx2, &mut scales, out);
                    for (i, v) in out.iter().enumerate() {
                        // SAFETY: in bounds, and only this unit writes row `r`'s outputs.
                        unsafe { *y_ptr.add((4 * g + i) * w.rows + r) = *v };
                    }
                }
            }
            // The adapters on these rows: `y += B u`, in f32, a run over rows per rank.
            for (l, u) in w.low_rank.iter().zip(&u) {
                let (lo, hi) = (rows.start.max(l.start), rows.end.min(l.start + l.rows));
                if lo >= hi {
                    continue;
                }
                let rank = l.a.len() / w.cols;
                for t in 0..tokens {
                    // SAFETY: rows `lo..hi` of token `t` are in bounds and this unit's alone.
                    let yt = unsafe {
                        std::slice::from_raw_parts_mut(y_ptr.add(t * w.rows + lo), hi - lo)
                    };
                    for (k, bt) in l.bt.chunks_exact(l.rows).enumerate() {
                        let uk = u[t * rank + k];
                        let bt = &bt[lo - l.start..hi - l.start];
                        yt.iter_mut().zip(bt).for_each(|(y, b)| *y += uk * b);
                    }
                }
            }
        });
        let mut out = dims.to_vec();
        *out.last_mut().expect("a dimension") = w.rows;
        Ok((CpuStorage::F32(y), Shape::from(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module};

    fn random(rows: usize, cols: usize, seed: u64) -> Tensor {
        let mut rng = crate::model::rng::Rng::new(seed);
        let v: Vec<f32> = (0..rows * cols).map(|_| rng.next_f32() - 0.5).collect();
        Tensor::from_vec(v, (rows, cols), &Device::Cpu).unwrap()
    }

    #[test]
    fn matches_candles_q4_1_matmul_and_the_dequantized_weights() {
        let (rows, cols) = (70, 576);
        let q = QTensor::quantize(&random(rows, cols, 1), GgmlDType::Q4_1).unwrap();
        let ours = std::sync::Arc::new(Q4Matrix::from_qtensor(&q).unwrap().unwrap());
        let dense = Tensor::from_vec(ours.dequantize(), (rows, cols), &Device::Cpu).unwrap();
        let candle_dense = q.dequantize(&Device::Cpu).unwrap();
        let diff = (&dense - &candle_dense).unwrap().abs().unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);

        // Five tokens: a group of four and a single one.
        let x = random(5, cols, 2).unsqueeze(0).unwrap();
        let y = ours.forward(&x).unwrap();
        assert_eq!(y.dims(), &[1, 5, rows]);
        let reference = QMatMul::from_qtensor(q).unwrap().forward(&x).unwrap();
        let exact = x.broadcast_matmul(&candle_dense.t().unwrap()).unwrap();
        let scale = exact
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // Largest difference relative to the largest output.
        let err = |a: &Tensor| {
            let d = (&y - a).unwrap().abs().unwrap().max_all().unwrap();
            d.to_scalar::<f32>().unwrap() / scale
        };
        // Both quantize the activations to 8 bits (candle keeps `s` in f16); the f32 product
        // is the truth.
        assert!(err(&reference) < 1e-3, "vs candle {}", err(&reference));
        assert!(err(&exact) < 0.02, "vs f32 {}", err(&exact));
        // The vectorised and the scalar dot agree, for one to four tokens at once, with 18
        // blocks per row (SmolLM2's 576 columns: 16 eight at a time, 2 in the tail) and 3 (odd:
        // the scalar path).
        for cols in [576, 96] {
            let q = QTensor::quantize(&random(4, cols, 7), GgmlDType::Q4_1).unwrap();
            let w = Q4Matrix::from_qtensor(&q).unwrap().unwrap();
            let x = random(4, cols, 8)
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let rows: Vec<Q8Row> = x.chunks(cols).map(quantize_row).collect();
            for n in 1..=4 {
                for r in 0..4 {
                    let mut out = vec![0f32; n];
                    dot_rows(&w, r, &rows[..n], has_avx2(), &mut Vec::new(), &mut out);
                    for (t, v) in out.iter().enumerate() {
                        let want = dot_scalar(&w, r, &rows[t]);
                        assert!((v - want).abs() < 1e-3, "{cols} cols, row {r}, token {t}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_adapter_inside_the_product_matches_the_dense_sum_and_stacks() {
        let cols = 128;
        let (wq, wk) = (random(6, cols, 21), random(4, cols, 22));
        let q4 = |w: &Tensor| {
            let q = QTensor::quantize(w, GgmlDType::Q4_1).unwrap();
            Q4Matrix::from_qtensor(&q).unwrap().unwrap()
        };
        let vec = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (a, b) = (random(2, cols, 23), random(6, 2, 24));
        let with = q4(&wq)
            .with_low_rank(vec(a.clone()), vec(b.clone()), 0.5)
            .unwrap();
        // Dequantized: W + 0.5 B A.
        let plain = Tensor::from_vec(q4(&wq).dequantize(), (6, cols), &Device::Cpu).unwrap();
        let want = (plain + (b.matmul(&a).unwrap() * 0.5).unwrap()).unwrap();
        let got = Tensor::from_vec(with.dequantize(), (6, cols), &Device::Cpu).unwrap();
        let diff = (&got - &want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
        // The product: the Q4_1 product plus the adapter's, for five tokens.
        let x = random(5, cols, 25);
        let fused = std::sync::Arc::new(with.clone()).forward(&x).unwrap();
        let base = std::sync::Arc::new(q4(&wq)).forward(&x).unwrap();
        let lora = (x
            .matmul(&a.t().unwrap())
            .unwrap()
            .matmul(&b.t().unwrap())
            .unwrap()
            * 0.5)
            .unwrap();
        let diff = (&fused - (base + lora).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
        // Stacked with a matrix without adapter, and another with one: same rows as apart.
        let (a2, b2) = (random(3, cols, 26), random(4, 3, 27));
        let other = q4(&wk).with_low_rank(vec(a2), vec(b2), 2.0).unwrap();
        let plain_k = q4(&wk);
        let stacked = Q4Matrix::stack(&[&with, &plain_k, &other]).unwrap();
        let y = std::sync::Arc::new(stacked).forward(&x).unwrap();
        let apart = Tensor::cat(
            &[
                fused,
                std::sync::Arc::new(plain_k).forward(&x).unwrap(),
                std::sync::Arc::new(other).forward(&x).unwrap(),
            ],
            1,
        )
        .unwrap();
        let diff = (&y - &apart).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }

    #[test]
    fn stacking_keeps_rows_in_order() {
        let a = QTensor::quantize(&random(4, 64, 3), GgmlDType::Q4_1).unwrap();
        let b = QTensor::quantize(&random(2, 64, 4), GgmlDType::Q4_1).unwrap();
        let (a, b) = (
            Q4Matrix::from_qtensor(&a).unwrap().unwrap(),
            Q4Matrix::from_qtensor(&b).unwrap().unwrap(),
        );
        let s = Q4Matrix::stack(&[&a, &b]).unwrap();
        assert_eq!(s.rows(), 6);
        assert_eq!(s.dequantize(), [a.dequantize(), b.dequantize()].concat());
        let c = QTensor::quantize(&random(2, 32, 5), GgmlDType::Q4_1).unwrap();
        let c = Q4Matrix::from_qtensor(&c).unwrap().unwrap();
        assert!(Q4Matrix::stack(&[&a, &c]).is_none());
    }
}
