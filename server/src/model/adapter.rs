//! LoRA adapters on disk, in Hugging Face PEFT's layout: `adapter_model.safetensors` with keys
//! `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` (`[r, in]`) and
//! `...lora_B.weight` (`[out, r]`), plus `adapter_config.json`. A PEFT user can load the folder
//! with `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), folder)`.
//!
//! Our q/k projections keep GGUF's row order (permuted for the interleaved rope); Hugging Face
//! checkpoints use the half-split order. `lora_B` of q/k is permuted on save and back on load;
//! `lora_A` acts on the input side, which is never permuted.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

use super::llama::{Llama, Lora, LoraConfig, ALL_TARGETS};

pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
pub const CONFIG_FILE: &str = "adapter_config.json";

/// The fields of PEFT's `adapter_config.json` that we write and read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeftConfig {
    pub peft_type: String,
    pub task_type: Option<String>,
    pub r: usize,
    pub lora_alpha: f64,
    #[serde(default)]
    pub lora_dropout: f32,
    pub target_modules: Vec<String>,
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
    #[serde(default = "none_bias")]
    pub bias: String,
    #[serde(default)]
    pub fan_in_fan_out: bool,
    #[serde(default)]
    pub inference_mode: bool,
    #[serde(default)]
    pub use_rslora: bool,
    #[serde(default)]
    pub use_dora: bool,
    #[serde(default)]
    pub modules_to_save: Option<Vec<String>>,
    #[serde(default)]
    pub layers_to_transform: Option<Vec<usize>>,
}

fn none_bias() -> String {
    "none".into()
}

/// PEFT's key for a LoRA matrix (`ab` is 'A' or 'B').
pub fn peft_key(layer: usize, module: &str, ab: char) -> String {
    let block = match module {
        "q_proj" | "k_proj" | "v_proj" | "o_proj" => "self_attn",
        _ => "mlp",
    };
    format!("base_model.model.model.layers.{layer}.{block}.{module}.lora_{ab}.weight")
}

/// Rows of a q/k output matrix `[out, cols]` from GGUF (interleaved rope) order to Hugging Face
/// (half-split) order, per head: GGUF row `2i + j` of a head is HF row `j * d/2 + i`.
pub fn rows_gguf_to_hf(m: &Tensor, n_heads: usize) -> candle_core::Result<Tensor> {
    let (out, cols) = m.dims2()?;
    let d = out / n_heads;
    m.reshape((n_heads, d / 2, 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, cols))
}

/// The inverse of [`rows_gguf_to_hf`].
pub fn rows_hf_to_gguf(m: &Tensor, n_heads: usize) -> candle_core::Result<Tensor> {
    let (out, cols) = m.dims2()?;
    let d = out / n_heads;
    m.reshape((n_heads, 2, d / 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((out, cols))
}

fn heads_of(model: &Llama, module: &str) -> Option<usize> {
    match module {
        "q_proj" => Some(model.cfg.n_head),
        "k_proj" => Some(model.cfg.n_kv_head),
        _ => None,
    }
}

/// The adapter's tensors under PEFT names, in Hugging Face row order.
pub fn peft_tensors(model: &Llama) -> Result<Vec<(String, Tensor)>> {
    let mut out = Vec::new();
    for (i, layer) in model.layers.iter().enumerate() {
        for name in ALL_TARGETS {
            let Some(lora) = &layer.module(name).expect("known module").lora else {
                continue;
            };
            let b = lora.b.as_tensor().clone();
            let b = match heads_of(model, name) {
                Some(h) => rows_gguf_to_hf(&b, h)?,
                None => b,
            };
            out.push((peft_key(i, name, 'A'), lora.a.as_tensor().clone()));
            out.push((peft_key(i, name, 'B'), b));
        }
    }
    Ok(out)
}

/// Writes `adapter_model.safetensors` and `adapter_config.json` into `dir`.
pub fn save_adapter(model: &Llama, lora: &LoraConfig, dir: &Path, base_model: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let tensors = peft_tensors(model)?;
    if tensors.is_empty() {
        bail!("the model has no LoRA adapter to save");
    }
    write_safetensors(&dir.join(WEIGHTS_FILE), &tensors)?;
    let config = PeftConfig {
        peft_type: "LORA".into(),
        task_type: Some("CAUSAL_LM".into()),
        r: lora.rank,
        lora_alpha: lora.alpha,
        lora_dropout: lora.dropout,
        target_modules: lora.targets.clone(),
        base_model_name_or_path: Some(base_model.to_string()),
        bias: "none".into(),
        fan_in_fan_out: false,
        inference_mode: true,
        use_rslora: false,
        use_dora: false,
        modules_to_save: None,
        layers_to_transform: None,
    };
    let json = serde_json::to_vec_pretty(&config)?;
    crate::fsutil::write_atomic(&dir.join(CONFIG_FILE), &json)?;
    Ok(())
}

/// Saves f32 tensors as safetensors with PyTorch's `format: pt` metadata.
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let mut bufs = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let data: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        bufs.push((name.clone(), t.dims().to_vec(), bytes));
    }
    let views = bufs
        .iter()
        .map(|(n, shape, bytes)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    bytes,
                )?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(meta))?;
    crate::fsutil::write_atomic(path, &bytes)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// Reads a PEFT adapter folder and attaches it to `model` (any previous adapter is replaced).
pub fn load_adapter(model: &mut Llama, dir: &Path) -> Result<LoraConfig> {
    let cfg_path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("{}: cannot read the adapter config", cfg_path.display()))?;
    let peft: PeftConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a PEFT adapter config", cfg_path.display()))?;
    if peft.peft_type != "LORA" || peft.use_dora || peft.fan_in_fan_out {
        bail!(
            "{}: only plain LoRA adapters are supported (peft_type LORA, no DoRA, no fan_in_fan_out)",
            cfg_path.display()
        );
    }
    let lora = LoraConfig {
        rank: peft.r,
        alpha: peft.lora_alpha,
        dropout: peft.lora_dropout,
        targets: peft.target_modules.clone(),
    };
    lora.validate()
        .with_context(|| format!("{}: unsupported adapter", cfg_path.display()))?;
    let w_path = dir.join(WEIGHTS_FILE);
    let tensors = candle_core::safetensors::load(&w_path, &Device::Cpu)
        .with_context(|| format!("{}: cannot read the adapter weights", w_path.display()))?;
    let n_layer = model.layers.len();
    for i in 0..n_layer {
        for name in &lora.targets {
            let get = |ab: char| -> Result<Tensor> {
                let key = peft_key(i, name, ab);
                let t = tensors
                    .get(&key)
                    .with_context(|| format!("{}: missing tensor `{key}`", w_path.display()))?;
                Ok(t.to_dtype(DType::F32)?)
            };
            let a = get('A')?;
            let b = get('B')?;
            let heads = heads_of(model, name);
            let lin = model.layers[i].module_mut(name).expect("validated target");
            if a.dims() != [lora.rank, lin.in_dim] || b.dims() != [lin.out_dim, lora.rank] {
                bail!(
                    "{}: layer {i} {name}: adapter shapes {:?}/{:?} do not fit the model ({}x{}, rank {})",
                    w_path.display(),
                    a.dims(),
                    b.dims(),
                    lin.out_dim,
                    lin.in_dim,
                    lora.rank
                );
            }
            let b = match heads {
                Some(h) => rows_hf_to_gguf(&b, h)?,
                None => b,
            };
            lin.lora = Some(Lora {
                a: Var::from_tensor(&a)?,
                b: Var::from_tensor(&b)?,
                scale: lora.scale(),
                dropout: lora.dropout,
            });
        }
    }
    Ok(lora)
}
