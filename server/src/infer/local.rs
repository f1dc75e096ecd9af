//! The local voice-model backend: a base GGUF plus an optional LoRA adapter, prompt text in,
//! streamed completion out (with stop sequences and cancellation). Used by `voicetune
//! generate` and by inline completion.

use anyhow::{bail, Context, Result};
use candle_core::quantized::GgmlDType;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::model::generate::{generate, Completion, SamplingParams};
use crate::model::llama::{load_model, Llama, Mode};
use crate::model::tokenizer::{GgufTokenizer, Message};
use crate::model::{adapter, gguf::GgufFile};
use crate::voices::{Registry, Voice};

/// How a LoRA adapter is used at inference time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterMode {
    /// On the fly where the base weight runs on our Q4_1 kernel (the adapter in f32 inside the
    /// product: exact, and as fast as the base model), merged elsewhere. The default.
    Auto,
    /// `W + scale * B A` folded once into the weights, requantized to Q8_0.
    Merged,
    /// Quantized base weights plus the low-rank product in f32 at every token (inside our Q4_1
    /// kernel where it can, as separate products elsewhere).
    OnTheFly,
}

pub struct LocalModel {
    pub model: Llama,
    pub tokenizer: GgufTokenizer,
    pub base_path: PathBuf,
    pub adapter_path: Option<PathBuf>,
}

impl LocalModel {
    /// Loads the base model (quantized) and, when given, its adapter.
    pub fn load(base: &Path, adapter_dir: Option<&Path>, mode: AdapterMode) -> Result<LocalModel> {
        let gguf = GgufFile::open(base)?;
        let tokenizer = GgufTokenizer::from_gguf(&gguf)?;
        drop(gguf);
        let mut model = load_model(base, Mode::Quantized)?;
        if let Some(dir) = adapter_dir {
            adapter::load_adapter(&mut model, dir)?;
            if mode == AdapterMode::Merged {
                model.merge_lora()?;
            }
        }
        // The GGUF's Q4_1 projections run with our own kernel (fewest bytes per token); anything
        // else, and weights an adapter was merged into, as Q8_0, for which candle has
        // vectorised kernels.
        model.use_q4_1_kernel()?;
        if mode != AdapterMode::Merged {
            model.fold_adapters_into_q4_kernel()?;
        }
        if mode == AdapterMode::Auto {
            // Adapters on weights our kernel does not run: separate products would be slow.
            model.merge_lora()?;
        }
        model.requantize(GgmlDType::Q8_0)?;
        // Modules that still carry an adapter of their own are left unstacked.
        model.fuse_projections()?;
        Ok(LocalModel {
            model,
            tokenizer,
            base_path: base.to_path_buf(),
            adapter_path: adapter_dir.map(Path::to_path_buf),
        })
    }

    /// Loads the voice `name` from the workspace registry, or the default base model when
    /// `name` is None.
    pub fn load_voice(
        workspace: &Path,
        name: Option<&str>,
        mode: AdapterMode,
    ) -> Result<LocalModel> {
        let Some(name) = name else {
            let base = crate::model::pull::ensure_default_model()?;
            return LocalModel::load(&base, None, mode);
        };
        let registry = Registry::load(workspace)?;
        match registry.get(name) {
            Some(Voice::Local {
                base_model,
                adapter,
                ..
            }) => LocalModel::load(base_model, adapter.as_deref(), mode),
            Some(Voice::Remote { .. }) => {
                bail!("voice `{name}` is a remote model; the local backend cannot run it")
            }
            None => bail!(
                "no voice named `{name}` in {} (train one with `voicetune train DATA.jsonl --name {name}`)",
                crate::voices::registry_path(workspace).display()
            ),
        }
    }

    /// Completes raw `prompt` text (no chat template).
    pub fn complete(
        &self,
        prompt: &str,
        params: &SamplingParams,
        cancel: Option<&AtomicBool>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Completion> {
        let ids = self.tokenizer.encode(prompt)?;
        generate(&self.model, &self.tokenizer, &ids, params, cancel, on_text)
    }

    /// Answers a conversation (ChatML template, open assistant turn).
    pub fn chat(
        &self,
        messages: &[Message],
        params: &SamplingParams,
        cancel: Option<&AtomicBool>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Completion> {
        let prompt = GgufTokenizer::chat_prompt(messages, true);
        self.complete(&prompt, params, cancel, on_text)
    }
}

/// `voicetune generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The prompt (a user message, unless --raw).
    pub prompt: String,
    /// A voice model registered in this workspace; the base model when omitted.
    #[arg(long)]
    pub model: Option<String>,
    /// Complete the prompt as raw text instead of answering it as a chat message.
    #[arg(long)]
    pub raw: bool,
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// 0 for greedy decoding.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f32,
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f32,
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// 1 means none; > 1 discourages repeating recent tokens (the default keeps the base
    /// model from looping; see `ghost::default_sampling` for how it was chosen).
    #[arg(long, default_value_t = 1.15)]
    pub repetition_penalty: f32,
    /// Forbid repeating any n-gram of this many tokens within the recent window (0: off).
    #[arg(long, default_value_t = 4)]
    pub no_repeat_ngram: usize,
    #[arg(long, default_value_t = 299792458)]
    pub seed: u64,
    /// Stop before this text (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Merge the adapter into the weights (Q8_0) instead of applying it with every product.
    #[arg(long, conflicts_with = "on_the_fly")]
    pub merged: bool,
    /// Apply the adapter with every product, even where that means separate slow products
    /// (the default does so only inside the Q4_1 kernel, and merges elsewhere).
    #[arg(long)]
    pub on_the_fly: bool,
    /// Print timing to stderr.
    #[arg(long)]
    pub verbose: bool,
}

pub fn cli_generate(args: &GenerateArgs) -> Result<()> {
    use std::io::Write;
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let mode = if args.on_the_fly {
        AdapterMode::OnTheFly
    } else if args.merged {
        AdapterMode::Merged
    } else {
        AdapterMode::Auto
    };
    let lm = LocalModel::load_voice(&workspace, args.model.as_deref(), mode)?;
    let params = SamplingParams {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        repetition_penalty: args.repetition_penalty,
        no_repeat_ngram: args.no_repeat_ngram,
        seed: args.seed,
        stop: args.stop.clone(),
        ..Default::default()
    };
    let mut stdout = std::io::stdout().lock();
    let mut on_text = |t: &str| {
        let _ = stdout.write_all(t.as_bytes());
        let _ = stdout.flush();
    };
    let c = if args.raw {
        lm.complete(&args.prompt, &params, None, &mut on_text)?
    } else {
        lm.chat(
            &[Message::new("user", &args.prompt)],
            &params,
            None,
            &mut on_text,
        )?
    };
    println!();
    if args.verbose {
        eprintln!(
            "{} prompt tokens in {:.3}s ({:.1} tok/s), {} tokens in {:.3}s ({:.1} tok/s), finish {:?}",
            c.prompt_tokens,
            c.prompt_secs,
            c.prompt_tokens as f64 / c.prompt_secs.max(1e-9),
            c.completion_tokens,
            c.decode_secs,
            c.completion_tokens.saturating_sub(1) as f64 / c.decode_secs.max(1e-9),
            c.finish
        );
    }
    Ok(())
}
