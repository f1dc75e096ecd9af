//! Our llama forward, with LoRA adapters.
//!
//! One model serves two purposes:
//! - inference ([`Mode::Quantized`]): base weights stay in their GGUF quantization (candle's
//!   AVX2 kernels), fused rms-norm/rope/softmax, a KV cache, adapters applied on the fly or merged;
//! - training and exact scoring ([`Mode::F32`]): weights dequantized to f32 and frozen (see
//!   [`super::ops::frozen_linear`]), only differentiable ops (candle's fused ops have no
//!   backward, so gradients would silently stop), LoRA `A`/`B` as trainable [`Var`]s.
//!
//! GGUF stores the q/k projections with rows permuted for the interleaved rope. We keep that
//! order and use the interleaved rope in both modes, which is exactly the model; adapters are
//! converted to and from Hugging Face's (half-split rope) row order when saved and loaded
//! ([`super::adapter`]), so a PEFT user sees the layout they expect.

use anyhow::{bail, Context, Result};
use candle_core::quantized::{GgmlDType, QMatMul};
use candle_core::{DType, Device, Module, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::attend::{self, LayerKv};
use super::gguf::GgufFile;
use super::ops::frozen_linear;
use super::q4::Q4Matrix;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LlamaConfig {
    pub n_layer: usize,
    pub hidden: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub rope_base: f32,
    pub rms_eps: f64,
    pub context_length: usize,
}

/// The LoRA modules, in PEFT's names.
pub const ALL_TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    pub dropout: f32,
    /// Module names from [`ALL_TARGETS`].
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            dropout: 0.05,
            targets: ALL_TARGETS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl LoraConfig {
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            bail!("LoRA rank must be at least 1");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            bail!("LoRA dropout must be in [0, 1), got {}", self.dropout);
        }
        for t in &self.targets {
            if !ALL_TARGETS.contains(&t.as_str()) {
                bail!(
                    "unknown LoRA target module `{t}`; choose from {}",
                    ALL_TARGETS.join(", ")
                );
            }
        }
        if self.targets.is_empty() {
            bail!("LoRA needs at least one target module");
        }
        Ok(())
    }

    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quantized,
    F32,
}

/// A frozen base weight `[out, in]`.
#[derive(Debug, Clone)]
pub enum BaseWeight {
    Quant(QMatMul),
    /// The GGUF's Q4_1 blocks with our vectorised kernel (candle's Q4_1 product is scalar).
    Q4(Arc<Q4Matrix>),
    Dense(Tensor),
}

impl BaseWeight {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            BaseWeight::Quant(q) => q.forward(x),
            BaseWeight::Q4(q) => q.forward(x),
            BaseWeight::Dense(w) => frozen_linear(x, w),
        }
    }
}

/// A LoRA pair: `y += scale * dropout(x) @ A^T @ B^T`, `A: [r, in]`, `B: [out, r]`.
impl BaseWeight {
    /// The weight as f32 `[out, in]`.
    fn dequantize(&self) -> candle_core::Result<Tensor> {
        match self {
            BaseWeight::Quant(QMatMul::QTensor(q)) => q.dequantize(&Device::Cpu),
            BaseWeight::Quant(QMatMul::Tensor(w)) | BaseWeight::Dense(w) => Ok(w.clone()),
            BaseWeight::Quant(QMatMul::TensorF16(w)) => w.to_dtype(DType::F32),
            BaseWeight::Q4(q) => {
                Tensor::from_vec(q.dequantize(), (q.rows(), q.cols()), &Device::Cpu)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Lora {
    pub a: Var,
    pub b: Var,
    pub scale: f64,
    pub dropout: f32,
}

#[derive(Debug, Clone)]
pub struct Linear {
    pub base: BaseWeight,
    pub lora: Option<Lora>,
    pub in_dim: usize,
    pub out_dim: usize,
}

impl Linear {
    /// `seed` drives the adapter's dropout when training (`Some`); None means inference.
    fn forward(&self, x: &Tensor, seed: Option<u64>) -> candle_core::Result<Tensor> {
        let y = self.base.forward(x)?;
        let Some(lora) = &self.lora else {
            return Ok(y);
        };
        let x = match seed {
            Some(seed) if lora.dropout > 0.0 => super::ops::seeded_dropout(x, lora.dropout, seed)?,
            _ => x.clone(),
        };
        let h = x
            .broadcast_matmul(&lora.a.as_tensor().t()?)?
            .broadcast_matmul(&lora.b.as_tensor().t()?)?;
        y + (h * lora.scale)?
    }

    /// Folds the adapter into a dense base weight (`W + scale * B @ A`), for faster inference.
    fn merge(&mut self) -> Result<()> {
        let Some(lora) = self.lora.take() else {
            return Ok(());
        };
        let delta = (lora.b.as_tensor().matmul(lora.a.as_tensor())? * lora.scale)?;
        self.base = match &self.base {
            BaseWeight::Dense(w) => BaseWeight::Dense((w + delta)?),
            BaseWeight::Quant(QMatMul::QTensor(_)) | BaseWeight::Q4(_) => {
                // Back to a quantized weight, so decoding stays fast. Q8_0's rounding step
                // (a block's max / 127) is far below a trained adapter's delta; Q4_1's is not.
                let w = (self.base.dequantize()? + delta)?;
                if self.in_dim.is_multiple_of(32) {
                    let q = candle_core::quantized::QTensor::quantize(&w, GgmlDType::Q8_0)?;
                    BaseWeight::Quant(QMatMul::from_qtensor(q)?)
                } else {
                    BaseWeight::Quant(QMatMul::Tensor(w))
                }
            }
            BaseWeight::Quant(QMatMul::Tensor(w)) => {
                BaseWeight::Quant(QMatMul::Tensor((w + delta)?))
            }
            BaseWeight::Quant(QMatMul::TensorF16(w)) => {
                BaseWeight::Quant(QMatMul::Tensor((w.to_dtype(DType::F32)? + delta)?))
            }
        };
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub attn_norm: Tensor,
    pub ffn_norm: Tensor,
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
    /// q, k and v stacked into one quantized matrix (inference without live adapters):
    /// one matrix-vector product per token instead of three.
    pub qkv: Option<BaseWeight>,
    /// gate and up stacked the same way.
    pub gate_up: Option<BaseWeight>,
}

impl Layer {
    pub fn module(&self, name: &str) -> Option<&Linear> {
        Some(match name {
            "q_proj" => &self.q_proj,
            "k_proj" => &self.k_proj,
            "v_proj" => &self.v_proj,
            "o_proj" => &self.o_proj,
            "gate_proj" => &self.gate_proj,
            "up_proj" => &self.up_proj,
            "down_proj" => &self.down_proj,
            _ => return None,
        })
    }

    pub fn module_mut(&mut self, name: &str) -> Option<&mut Linear> {
        Some(match name {
            "q_proj" => &mut self.q_proj,
            "k_proj" => &mut self.k_proj,
            "v_proj" => &mut self.v_proj,
            "o_proj" => &mut self.o_proj,
            "gate_proj" => &mut self.gate_proj,
            "up_proj" => &mut self.up_proj,
            "down_proj" => &mut self.down_proj,
            _ => return None,
        })
    }
}

/// Per-layer keys and values of the positions seen so far (one sequence).
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    len: usize,
}

impl KvCache {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every position from `len` on (no-op when it holds fewer), so a sequence that
    /// shares a prefix with the cached one only processes its new tokens.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        for layer in &mut self.layers {
            let per_position = layer.k.len() / self.len;
            layer.k.truncate(len * per_position);
            layer.v.truncate(len * per_position);
        }
        self.len = len;
    }
}

/// The rope angles of the positions a forward pass adds to the cache, `[t, head_dim / 2]`.
struct RopeRows {
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// The token embedding table. Training reads it as f32 `[vocab, hidden]`; inference keeps the
/// GGUF's quantized rows and dequantizes the looked-up ones (SmolLM2's table is 113 MB in f32,
/// 30 MB as its Q8_0 rows, which the tied output layer holds anyway).
#[derive(Debug, Clone)]
pub enum TokenEmbedding {
    Dense(Tensor),
    Quantized(Arc<candle_core::quantized::QTensor>),
}

impl TokenEmbedding {
    /// The rows of `ids` (`[n]`) as f32 `[n, hidden]`.
    fn lookup(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let q = match self {
            TokenEmbedding::Dense(t) => return t.embedding(ids),
            TokenEmbedding::Quantized(q) => q,
        };
        let (vocab, hidden) = q.shape().dims2()?;
        let dtype = q.dtype();
        let row_bytes = hidden / dtype.block_size() * dtype.type_size();
        let data = q.data()?;
        let rows = ids
            .to_vec1::<u32>()?
            .into_iter()
            .map(|id| {
                let id = id as usize;
                if id >= vocab {
                    candle_core::bail!("token id {id} is outside the vocabulary of {vocab}");
                }
                let bytes = std::borrow::Cow::Borrowed(&data[id * row_bytes..][..row_bytes]);
                let storage =
                    candle_core::quantized::QStorage::from_data(bytes, &Device::Cpu, dtype)?;
                candle_core::quantized::QTensor::new(storage, (1, hidden))?.dequantize(&Device::Cpu)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Tensor::cat(&rows, 0)
    }
}

#[derive(Debug, Clone)]
pub struct Llama {
    pub cfg: LlamaConfig,
    pub mode: Mode,
    pub embed: TokenEmbedding,
    pub layers: Vec<Layer>,
    pub norm: Tensor,
    pub output: BaseWeight,
    cos: Tensor,
    sin: Tensor,
    /// Seeds adapter dropout; advanced by every training forward.
    pub dropout_seed: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

fn rope_tables(cfg: &LlamaConfig) -> candle_core::Result<(Tensor, Tensor)> {
    let theta: Vec<f32> = (0..cfg.head_dim)
        .step_by(2)
        .map(|i| 1f32 / cfg.rope_base.powf(i as f32 / cfg.head_dim as f32))
        .collect();
    let n = theta.len();
    let theta = Tensor::from_vec(theta, (1, n), &Device::Cpu)?;
    let pos = Tensor::arange(0, cfg.context_length as u32, &Device::Cpu)?
        .to_dtype(DType::F32)?
        .reshape((cfg.context_length, 1))?;
    let freqs = pos.matmul(&theta)?;
    Ok((freqs.cos()?, freqs.sin()?))
}

impl Llama {
    /// Loads a llama GGUF. `Mode::Quantized` keeps the quantized weights (inference);
    /// `Mode::F32` dequantizes them (training, exact scoring).
    pub fn load(gguf: &mut GgufFile, mode: Mode) -> Result<Llama> {
        let cfg = gguf.llama_config()?;
        let dev = Device::Cpu;
        let embed_q = Arc::new(gguf.tensor("token_embd.weight")?);
        let dense =
            |q: candle_core::quantized::QTensor| -> Result<Tensor> { Ok(q.dequantize(&dev)?) };
        let output_q = if gguf.has_tensor("output.weight") {
            Some(gguf.tensor("output.weight")?)
        } else {
            None
        };
        let (embed, output) = match mode {
            Mode::Quantized => {
                let output = match output_q {
                    Some(q) => QMatMul::from_qtensor(q)?,
                    // Tied: the same quantized rows serve the lookups and the output layer.
                    None => QMatMul::from_arc(embed_q.clone())?,
                };
                (
                    TokenEmbedding::Quantized(embed_q),
                    BaseWeight::Quant(output),
                )
            }
            Mode::F32 => {
                let table = embed_q.dequantize(&dev)?;
                let output = match output_q {
                    Some(q) => dense(q)?,
                    None => table.clone(),
                };
                (TokenEmbedding::Dense(table), BaseWeight::Dense(output))
            }
        };
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let mut lin = |name: &str| -> Result<Linear> {
                let q = gguf.tensor(&format!("blk.{i}.{name}.weight"))?;
                let (out_dim, in_dim) = q.shape().dims2()?;
                let base = match mode {
                    Mode::Quantized => BaseWeight::Quant(QMatMul::from_qtensor(q)?),
                    Mode::F32 => BaseWeight::Dense(q.dequantize(&Device::Cpu)?),
                };
                Ok(Linear {
                    base,
                    lora: None,
                    in_dim,
                    out_dim,
                })
            };
            let q_proj = lin("attn_q")?;
            let k_proj = lin("attn_k")?;
            let v_proj = lin("attn_v")?;
            let o_proj = lin("attn_output")?;
            let gate_proj = lin("ffn_gate")?;
            let up_proj = lin("ffn_up")?;
            let down_proj = lin("ffn_down")?;
            layers.push(Layer {
                attn_norm: gguf
                    .tensor(&format!("blk.{i}.attn_norm.weight"))?
                    .dequantize(&dev)?,
                ffn_norm: gguf
                    .tensor(&format!("blk.{i}.ffn_norm.weight"))?
                    .dequantize(&dev)?,
                q_proj,
                k_proj,
                v_proj,
                o_proj,
                gate_proj,
                up_proj,
                down_proj,
                qkv: None,
                gate_up: None,
            });
        }
        let norm = gguf.tensor("output_norm.weight")?.dequantize(&dev)?;
        let (cos, sin) = rope_tables(&cfg)?;
        Ok(Llama {
            cfg,
            mode,
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
            dropout_seed: Default::default(),
        })
    }

    /// A llama with random f32 weights (tests, the memorisation check). The output layer is
    /// tied to the embedding, as in SmolLM2.
    pub fn random(cfg: LlamaConfig, seed: u64) -> Result<Llama> {
        let dev = Device::Cpu;
        // candle cannot seed its CPU generator: draw from our own seeded one.
        let rng = std::cell::RefCell::new(super::rng::Rng::new(seed));
        let randn = |shape: (usize, usize), std: f32| -> Result<Tensor> {
            let mut rng = rng.borrow_mut();
            let data: Vec<f32> = (0..shape.0 * shape.1)
                .map(|_| {
                    // Box-Muller.
                    let u1 = rng.next_f32().max(1e-7);
                    let u2 = rng.next_f32();
                    std * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
                })
                .collect();
            Ok(Tensor::from_vec(data, shape, &dev)?)
        };
        let rand = |out: usize, inp: usize| randn((out, inp), (1.0 / inp as f64).sqrt() as f32);
        let lin = |out: usize, inp: usize| -> Result<Linear> {
            Ok(Linear {
                base: BaseWeight::Dense(rand(out, inp)?),
                lora: None,
                in_dim: inp,
                out_dim: out,
            })
        };
        let (h, kv) = (cfg.hidden, cfg.n_kv_head * cfg.head_dim);
        let mut layers = Vec::new();
        for _ in 0..cfg.n_layer {
            layers.push(Layer {
                attn_norm: Tensor::ones(h, DType::F32, &dev)?,
                ffn_norm: Tensor::ones(h, DType::F32, &dev)?,
                q_proj: lin(h, h)?,
                k_proj: lin(kv, h)?,
                v_proj: lin(kv, h)?,
                o_proj: lin(h, h)?,
                gate_proj: lin(cfg.intermediate, h)?,
                up_proj: lin(cfg.intermediate, h)?,
                down_proj: lin(h, cfg.intermediate)?,
                qkv: None,
                gate_up: None,
            });
        }
        let embed = randn((cfg.vocab, h), 1.0)?;
        let (cos, sin) = rope_tables(&cfg)?;
        Ok(Llama {
            cfg,
            mode: Mode::F32,
            output: BaseWeight::Dense(embed.clone()),
            embed: TokenEmbedding::Dense(embed),
            layers,
            norm: Tensor::ones(h, DType::F32, &dev)?,
            cos,
            sin,
            dropout_seed: Default::default(),
        })
    }

    /// Adds fresh LoRA adapters (A: PEFT's kaiming-uniform init, B: zeros, so the model starts
    /// unchanged) to the configured modules; returns the trainable variables.
    pub fn add_lora(&mut self, lora: &LoraConfig) -> Result<Vec<Var>> {
        self.add_lora_seeded(lora, 0)
    }

    /// [`Llama::add_lora`] with a seeded initialisation, so a training run is reproducible.
    pub fn add_lora_seeded(&mut self, lora: &LoraConfig, seed: u64) -> Result<Vec<Var>> {
        lora.validate()?;
        let mut vars = Vec::new();
        let mut rng = super::rng::Rng::new(seed ^ 0x10A_A1A5);
        for layer in &mut self.layers {
            for name in &lora.targets {
                let lin = layer.module_mut(name).expect("validated target");
                let bound = 1.0 / (lin.in_dim as f64).sqrt() as f32;
                let init: Vec<f32> = (0..lora.rank * lin.in_dim)
                    .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                    .collect();
                let a = Var::from_tensor(&Tensor::from_vec(
                    init,
                    (lora.rank, lin.in_dim),
                    &Device::Cpu,
                )?)?;
                let b = Var::zeros((lin.out_dim, lora.rank), DType::F32, &Device::Cpu)?;
                vars.push(a.clone());
                vars.push(b.clone());
                lin.lora = Some(Lora {
                    a,
                    b,
                    scale: lora.scale(),
                    dropout: lora.dropout,
                });
            }
        }
        Ok(vars)
    }

    /// The trainable variables, in a stable order (layer, module, A then B).
    pub fn lora_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            for name in ALL_TARGETS {
                if let Some(l) = &layer.module(name).expect("known module").lora {
                    out.push((format!("{i}.{name}.A"), l.a.clone()));
                    out.push((format!("{i}.{name}.B"), l.b.clone()));
                }
            }
        }
        out
    }

    /// Re-quantizes every quantized projection (and the output layer) to `dtype`. Q4_1 has no
    /// repacked AVX-512 kernel in candle while Q8_0 does; Q8_0 holds Q4_1's 16 levels per block
    /// almost exactly.
    pub fn requantize(&mut self, dtype: GgmlDType) -> Result<()> {
        let convert = |w: &mut BaseWeight| -> Result<()> {
            if let BaseWeight::Quant(QMatMul::QTensor(q)) = w {
                if q.dtype() != dtype {
                    let dense = q.dequantize(&Device::Cpu)?;
                    let q = candle_core::quantized::QTensor::quantize(&dense, dtype)?;
                    *w = BaseWeight::Quant(QMatMul::from_qtensor(q)?);
                }
            }
            Ok(())
        };
        for layer in &mut self.layers {
            for name in ALL_TARGETS {
                convert(&mut layer.module_mut(name).expect("known module").base)?;
            }
        }
        convert(&mut self.output)
    }

    /// Stacks q/k/v and gate/up into single Q8_0 matrices where none of them carries a live
    /// adapter (call after [`Llama::merge_lora`] or without adapters): fewer, larger products
    /// per token, which is what decoding speed depends on.
    pub fn fuse_projections(&mut self) -> Result<()> {
        let stack = |parts: &[&Linear]| -> Result<Option<BaseWeight>> {
            if parts.iter().any(|l| l.lora.is_some() || l.in_dim % 32 != 0) {
                return Ok(None);
            }
            let q4: Vec<&Q4Matrix> = parts
                .iter()
                .filter_map(|l| match &l.base {
                    BaseWeight::Q4(q) => Some(q.as_ref()),
                    _ => None,
                })
                .collect();
            if q4.len() == parts.len() {
                // Exact: Q4_1 rows are independent blocks.
                return Ok(Q4Matrix::stack(&q4).map(|m| BaseWeight::Q4(Arc::new(m))));
            }
            let dense = parts
                .iter()
                .map(|l| l.base.dequantize())
                .collect::<candle_core::Result<Vec<_>>>()?;
            let w = Tensor::cat(&dense, 0)?;
            let q = candle_core::quantized::QTensor::quantize(&w, GgmlDType::Q8_0)?;
            Ok(Some(BaseWeight::Quant(QMatMul::from_qtensor(q)?)))
        };
        for layer in &mut self.layers {
            layer.qkv = stack(&[&layer.q_proj, &layer.k_proj, &layer.v_proj])?;
            layer.gate_up = stack(&[&layer.gate_proj, &layer.up_proj])?;
        }
        Ok(())
    }

    /// Runs every Q4_1 projection with our vectorised kernel on the GGUF's own blocks, which
    /// decodes faster than Q8_0 with candle's kernels (fewer bytes per token) and is exact.
    pub fn use_q4_1_kernel(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            for name in ALL_TARGETS {
                let base = &mut layer.module_mut(name).expect("known module").base;
                if let BaseWeight::Quant(QMatMul::QTensor(q)) = base {
                    if let Some(m) = Q4Matrix::from_qtensor(q)? {
                        *base = BaseWeight::Q4(Arc::new(m));
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves every adapter whose base weight runs on our Q4_1 kernel into that kernel, which
    /// applies it in f32 inside the product (inference; exact, unlike merging into 4 bits, and
    /// the stacked q/k/v and gate/up products keep working).
    pub fn fold_adapters_into_q4_kernel(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            for name in ALL_TARGETS {
                let lin = layer.module_mut(name).expect("known module");
                let (BaseWeight::Q4(q), Some(lora)) = (&lin.base, &lin.lora) else {
                    continue;
                };
                let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
                let with = q.as_ref().clone().with_low_rank(
                    values(lora.a.as_tensor())?,
                    values(lora.b.as_tensor())?,
                    lora.scale as f32,
                )?;
                lin.base = BaseWeight::Q4(Arc::new(with));
                lin.lora = None;
            }
        }
        Ok(())
    }

    /// Folds every adapter into its base weight (quantized weights become dense f32 there).
    pub fn merge_lora(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            for name in ALL_TARGETS {
                layer.module_mut(name).expect("known module").merge()?;
            }
        }
        Ok(())
    }

    fn mask(&self, t: usize, offset: usize) -> candle_core::Result<Tensor> {
        let total = t + offset;
        let data: Vec<f32> = (0..t)
            .flat_map(|i| {
                (0..total).map(move |j| {
                    if j > i + offset {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        Tensor::from_vec(data, (t, total), &Device::Cpu)
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if train {
            super::ops::rms_norm_frozen(x, w, self.cfg.rms_eps as f32)
        } else {
            candle_nn::ops::rms_norm(x, w, self.cfg.rms_eps as f32)
        }
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        offset: usize,
        // With a cache (inference): the rope angles of the new positions, `[t, head_dim / 2]`.
        cache: Option<(&mut LayerKv, &RopeRows)>,
        mask: Option<&Tensor>,
        // Some(layer's dropout seed) when training.
        train_seed: Option<u64>,
    ) -> candle_core::Result<Tensor> {
        let c = &self.cfg;
        let train = train_seed.is_some();
        let (b, t, _) = x.dims3()?;
        let seed = |m: u64| train_seed.map(|s| s.wrapping_add(m));
        let (q, k, v) = match &layer.qkv {
            Some(qkv) if !train => {
                let y = qkv.forward(x)?;
                let (nq, nk) = (c.n_head * c.head_dim, c.n_kv_head * c.head_dim);
                (
                    y.narrow(2, 0, nq)?,
                    y.narrow(2, nq, nk)?,
                    y.narrow(2, nq + nk, nk)?,
                )
            }
            _ => (
                layer.q_proj.forward(x, seed(1))?,
                layer.k_proj.forward(x, seed(2))?,
                layer.v_proj.forward(x, seed(3))?,
            ),
        };
        if let (false, Some((kv, rope))) = (train, cache) {
            if b != 1 {
                candle_core::bail!("the KV cache holds one sequence, not {b}");
            }
            let mut q = q.flatten_all()?.to_vec1::<f32>()?;
            let mut k = k.flatten_all()?.to_vec1::<f32>()?;
            attend::rope_interleaved(&mut q, c.head_dim, &rope.cos, &rope.sin);
            attend::rope_interleaved(&mut k, c.head_dim, &rope.cos, &rope.sin);
            kv.push(&k, &v.flatten_all()?.to_vec1::<f32>()?);
            let heads = attend::Heads {
                n_head: c.n_head,
                n_kv_head: c.n_kv_head,
                head_dim: c.head_dim,
            };
            let y = attend::attend(&q, kv, heads, t, offset);
            let y = Tensor::from_vec(y, (1, t, c.n_head * c.head_dim), &Device::Cpu)?;
            return layer.o_proj.forward(&y, None);
        }
        let q = q
            .reshape((b, t, c.n_head, c.head_dim))?
            .transpose(1, 2)?
            .contiguous()?;
        let k = k
            .reshape((b, t, c.n_kv_head, c.head_dim))?
            .transpose(1, 2)?
            .contiguous()?;
        let v = v
            .reshape((b, t, c.n_kv_head, c.head_dim))?
            .transpose(1, 2)?
            .contiguous()?;
        let cos = self.cos.narrow(0, offset, t)?;
        let sin = self.sin.narrow(0, offset, t)?;
        let (q, k) = if train {
            (
                super::ops::rope_interleaved(&q, &cos, &sin)?,
                super::ops::rope_interleaved(&k, &cos, &sin)?,
            )
        } else {
            (
                candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?,
                candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?,
            )
        };
        let n_rep = c.n_head / c.n_kv_head;
        let k = candle_transformers::utils::repeat_kv(k, n_rep)?;
        let v = candle_transformers::utils::repeat_kv(v, n_rep)?;
        let scale = 1.0 / (c.head_dim as f64).sqrt();
        let y = if train {
            // Scores, mask, softmax and weighted sum in one op that keeps no [t, t] tensor.
            super::ops::causal_attention(&q, &k, &v, scale, offset)?
        } else {
            let att = (q.matmul(&k.t()?)? * scale)?;
            let att = match mask {
                Some(m) => att.broadcast_add(m)?,
                None => att,
            };
            candle_nn::ops::softmax_last_dim(&att)?.matmul(&v.contiguous()?)?
        };
        let y = y.transpose(1, 2)?.reshape((b, t, c.n_head * c.head_dim))?;
        layer.o_proj.forward(&y, seed(4))
    }

    /// The final-norm hidden states `[b, t, hidden]` of `ids` (`[b, t]`) at positions
    /// `offset..offset+t`. With `train`, only differentiable ops and adapter dropout are used.
    pub fn forward_hidden(
        &self,
        ids: &Tensor,
        offset: usize,
        mut cache: Option<&mut KvCache>,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        let (_, t) = ids.dims2()?;
        if offset + t > self.cfg.context_length {
            candle_core::bail!(
                "sequence of {} tokens exceeds the model's context of {}",
                offset + t,
                self.cfg.context_length
            );
        }
        let rope = match cache.as_deref_mut() {
            Some(c) if !train => {
                if c.len != offset {
                    candle_core::bail!("the KV cache holds {} positions, not {offset}", c.len);
                }
                c.layers.resize_with(self.layers.len(), LayerKv::default);
                let rows = |table: &Tensor| table.narrow(0, offset, t)?.flatten_all()?.to_vec1();
                Some(RopeRows {
                    cos: rows(&self.cos)?,
                    sin: rows(&self.sin)?,
                })
            }
            _ => None,
        };
        // The cached path masks as it goes.
        let mask = if t > 1 && rope.is_none() {
            Some(self.mask(t, offset)?)
        } else {
            None
        };
        let mut x =
            self.embed
                .lookup(&ids.flatten_all()?)?
                .reshape((ids.dim(0)?, t, self.cfg.hidden))?;
        let step_seed = self.dropout_seed.load(std::sync::atomic::Ordering::Relaxed);
        for (i, layer) in self.layers.iter().enumerate() {
            let layer_seed = step_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((i as u64) << 8);
            let seed = |m: u64| train.then(|| layer_seed.wrapping_add(m));
            let h = self.rms_norm(&x, &layer.attn_norm, train)?;
            let slot = match (cache.as_deref_mut(), &rope) {
                (Some(c), Some(rope)) => Some((&mut c.layers[i], rope)),
                _ => None,
            };
            let h = self.attention(
                layer,
                &h,
                offset,
                slot,
                mask.as_ref(),
                train.then_some(layer_seed),
            )?;
            x = (x + h)?;
            let h = self.rms_norm(&x, &layer.ffn_norm, train)?;
            let (gate, up) = match &layer.gate_up {
                Some(gu) if !train => {
                    let y = gu.forward(&h)?;
                    let n = self.cfg.intermediate;
                    (y.narrow(2, 0, n)?, y.narrow(2, n, n)?)
                }
                _ => (
                    layer.gate_proj.forward(&h, seed(5))?,
                    layer.up_proj.forward(&h, seed(6))?,
                ),
            };
            let h = layer.down_proj.forward(&(gate.silu()? * up)?, seed(7))?;
            x = (x + h)?;
        }
        if let (Some(c), Some(_)) = (cache, &rope) {
            c.len = offset + t;
        }
        if train {
            // A fresh dropout pattern for the next training forward.
            self.dropout_seed.store(
                step_seed.wrapping_add(1),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        self.rms_norm(&x, &self.norm, train)
    }

    /// Logits `[.., vocab]` of hidden states `[.., hidden]`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.output.forward(hidden)
    }

    /// Logits of the last position `[b, vocab]`, extending `cache` (inference).
    pub fn forward_last(&self, ids: &Tensor, cache: &mut KvCache) -> candle_core::Result<Tensor> {
        let offset = cache.len();
        let t = ids.dim(1)?;
        let h = self.forward_hidden(ids, offset, Some(cache), false)?;
        self.logits(&h.narrow(1, t - 1, 1)?.squeeze(1)?)
    }
}

/// Loads a GGUF file in the given mode, with a clear error naming the file.
pub fn load_model(path: &std::path::Path, mode: Mode) -> Result<Llama> {
    let mut gguf = GgufFile::open(path)?;
    Llama::load(&mut gguf, mode)
        .with_context(|| format!("{}: cannot load the model", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_embedding_rows_match_the_dequantized_table() {
        let mut rng = super::super::rng::Rng::new(3);
        let values: Vec<f32> = (0..10 * 64).map(|_| rng.next_f32() - 0.5).collect();
        let table = Tensor::from_vec(values, (10, 64), &Device::Cpu).unwrap();
        let q = candle_core::quantized::QTensor::quantize(&table, GgmlDType::Q8_0).unwrap();
        let dense = TokenEmbedding::Dense(q.dequantize(&Device::Cpu).unwrap());
        let quantized = TokenEmbedding::Quantized(Arc::new(q));
        let ids = Tensor::new(&[7u32, 0, 7, 9], &Device::Cpu).unwrap();
        let rows = |e: &TokenEmbedding| e.lookup(&ids).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(rows(&quantized), rows(&dense));
        let outside = Tensor::new(&[10u32], &Device::Cpu).unwrap();
        assert!(quantized.lookup(&outside).is_err());
    }
}
