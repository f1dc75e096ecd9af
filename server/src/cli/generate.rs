//! `voicetune generate`: a completion streamed to stdout, with timings on request.

use anyhow::{Context, Result};
use std::io::Write;
use voicetune::infer::local::{AdapterMode, LocalModel};
use voicetune::model::generate::SamplingParams;
use voicetune::model::tokenizer::Message;

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
    #[arg(long, default_value_t = 1.05)]
    pub repetition_penalty: f32,
    /// Forbid repeating any n-gram of this many tokens within the recent window (0: off).
    #[arg(long, default_value_t = 6)]
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

pub(crate) fn run(args: &GenerateArgs) -> Result<()> {
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let mode = if args.on_the_fly {
        AdapterMode::OnTheFly
    } else if args.merged {
        AdapterMode::Merged
    } else {
        AdapterMode::Auto
    };
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
    // Before the model loads (seconds), so a bad flag fails at once.
    params.validate()?;
    let lm = LocalModel::load_voice(&workspace, args.model.as_deref(), mode)?;
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
