//! Reading a llama-family GGUF file: hyper-parameters from the metadata, tensors on demand.

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::QTensor;
use candle_core::Device;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::llama::LlamaConfig;

/// An open GGUF file: its parsed header and a reader for the tensor data.
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    reader: BufReader<File>,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = File::open(path).with_context(|| {
            format!(
                "{}: cannot open the model file (run `voicetune model pull` for the default \
                 model, or fix `model` in the [local] section of voicetune.toml)",
                path.display()
            )
        })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader)
            .with_context(|| format!("{}: not a readable GGUF file", path.display()))?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            content,
            reader,
        })
    }

    pub fn metadata(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .with_context(|| format!("{}: GGUF metadata has no `{key}`", self.path.display()))
    }

    pub fn tensor(&mut self, name: &str) -> Result<QTensor> {
        self.content
            .tensor(&mut self.reader, name, &Device::Cpu)
            .with_context(|| format!("{}: cannot read tensor `{name}`", self.path.display()))
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The model's hyper-parameters; only llama-architecture files are accepted.
    pub fn llama_config(&self) -> Result<LlamaConfig> {
        let arch = self.metadata("general.architecture")?.to_string()?.clone();
        if arch != "llama" {
            bail!(
                "{}: architecture `{arch}` is not supported; use a llama-family GGUF",
                self.path.display()
            );
        }
        let u = |key: &str| -> Result<usize> {
            Ok(self
                .metadata(key)?
                .to_u32()
                .with_context(|| format!("{}: `{key}` is not a u32", self.path.display()))?
                as usize)
        };
        let hidden = u("llama.embedding_length")?;
        let n_head = u("llama.attention.head_count")?;
        let vocab = self
            .metadata("tokenizer.ggml.tokens")?
            .to_vec()
            .map_err(anyhow::Error::msg)?
            .len();
        Ok(LlamaConfig {
            n_layer: u("llama.block_count")?,
            hidden,
            n_head,
            n_kv_head: u("llama.attention.head_count_kv")?,
            head_dim: hidden / n_head,
            intermediate: u("llama.feed_forward_length")?,
            vocab,
            rope_base: self
                .metadata("llama.rope.freq_base")
                .and_then(|v| Ok(v.to_f32()?))
                .unwrap_or(10_000.0),
            rms_eps: self
                .metadata("llama.attention.layer_norm_rms_epsilon")?
                .to_f32()? as f64,
            context_length: u("llama.context_length").unwrap_or(2048),
        })
    }
}
