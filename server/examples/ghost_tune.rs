//! Chooses ghostwriting's sampling defaults on held-out markdown posts (not part of any test:
//! the posts are the user's, passed on the command line, and never vendored).
//!
//! `cargo run --release --example ghost_tune -- DIR [POSTS]`: for each post, the first 150
//! body tokens are the draft; each setting continues it by 40 tokens. Reported per setting:
//! generations with a repeated 8-gram (a loop), distinct bigrams, and the mean log-likelihood of
//! the post's real next 40 tokens under the setting's penalised distribution (how far the
//! setting pushes the model from what the writer wrote).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use candle_core::{Device, IndexOp, Tensor};
use voicetune::ghost::local::LocalBackend;
use voicetune::ghost::stats::Stats;
use voicetune::infer::local::{AdapterMode, LocalModel};
use voicetune::model::generate::{ban_repeated_ngrams, SamplingParams};
use voicetune::model::tokenizer::Message;

const DRAFT: usize = 150;
const CONTINUE: usize = 40;

fn main() -> anyhow::Result<()> {
    voicetune::model::settle_thread_count();
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: ghost_tune DIR [POSTS]");
    let posts: usize = args.next().map_or(16, |n| n.parse().expect("a number"));
    let base = voicetune::model::pull::ensure_default_model()?;
    let lm = Arc::new(LocalModel::load(&base, None, AdapterMode::Auto)?);
    let backend = LocalBackend::new(lm.clone());
    let shape = voicetune::dataset::prompt_shape::PromptShape::default();
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    // Every fourth post, from the end: spread over the years, no tuning on neighbours.
    let mut cases = Vec::new();
    for path in files.iter().rev().step_by(4) {
        let text = std::fs::read_to_string(path)?;
        let doc = voicetune::dataset::markdown::parse(&text);
        let title = voicetune::ghost::prompt::title(&text).unwrap_or_default();
        let body = lm.tokenizer.encode(&text[doc.body.clone()])?;
        if body.len() < DRAFT + CONTINUE {
            continue;
        }
        let messages = vec![
            Message::new("system", &shape.system),
            Message::new("user", &shape.user_prompt(&title)),
        ];
        let draft = lm.tokenizer.decode(&body[..DRAFT], false)?;
        let (header, draft_ids) = backend.prompt_ids(&messages, &draft, 512)?;
        cases.push((header, draft_ids, body[DRAFT..DRAFT + CONTINUE].to_vec()));
        if cases.len() == posts {
            break;
        }
    }
    println!("{} held-out posts from {dir}", cases.len());
    let settings: Vec<(&str, SamplingParams)> = vec![
        ("greedy, none", params(0.0, 1.0, 0)),
        ("greedy, penalty 1.1", params(0.0, 1.1, 0)),
        ("greedy, penalty 1.15", params(0.0, 1.15, 0)),
        ("greedy, penalty 1.3", params(0.0, 1.3, 0)),
        ("greedy, no-repeat 4", params(0.0, 1.0, 4)),
        ("greedy, penalty 1.15 + no-repeat 4", params(0.0, 1.15, 4)),
        ("greedy, penalty 1.15 + no-repeat 3", params(0.0, 1.15, 3)),
        ("T 0.7, penalty 1.15 + no-repeat 4", params(0.7, 1.15, 4)),
    ];
    // Logits of every real next token, once per post (they do not depend on the setting).
    let mut reference_logits = Vec::new();
    for (header, draft, reference) in &cases {
        let ids: Vec<u32> = header
            .iter()
            .chain(draft)
            .chain(reference)
            .copied()
            .collect();
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
        let mut cache = voicetune::model::llama::KvCache::default();
        let hidden = lm
            .model
            .forward_hidden(&input, 0, Some(&mut cache), false)?;
        let from = header.len() + draft.len() - 1;
        let hidden = hidden.i((0, from..from + reference.len()))?;
        let logits: Vec<Vec<f32>> = lm.model.logits(&hidden)?.to_vec2()?;
        reference_logits.push(logits);
    }
    for (name, p) in &settings {
        let (mut loops, mut bigrams, mut total_bigrams, mut loglik, mut n) = (0, 0, 0, 0.0, 0);
        for ((header, draft, reference), logits) in cases.iter().zip(&reference_logits) {
            let stats = Stats::default();
            let g = backend.generate(header, draft, p, &AtomicBool::new(false), &stats, &|_| {
                false
            })?;
            let ids = lm.tokenizer.encode(&g.text)?;
            if has_repeated_ngram(&ids, 8) {
                loops += 1;
            }
            let mut pairs: Vec<_> = ids.windows(2).collect();
            total_bigrams += pairs.len();
            pairs.sort();
            pairs.dedup();
            bigrams += pairs.len();
            let mut history = draft.clone();
            for (row, &target) in logits.iter().zip(reference) {
                let mut row = row.clone();
                penalise(&mut row, &history, p);
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = row.iter().map(|l| (l - max).exp()).sum();
                let lp = (row[target as usize] - max) - sum.ln();
                loglik += lp.max(-20.0) as f64;
                n += 1;
                history.push(target);
            }
        }
        println!(
            "{name:38} loops {loops:2}/{}  distinct-2 {:.3}  ref log-lik/token {:.3}",
            cases.len(),
            bigrams as f64 / total_bigrams.max(1) as f64,
            loglik / n.max(1) as f64
        );
    }
    Ok(())
}

fn params(temperature: f32, penalty: f32, ngram: usize) -> SamplingParams {
    SamplingParams {
        max_tokens: CONTINUE,
        temperature,
        repetition_penalty: penalty,
        repeat_last_n: 64,
        no_repeat_ngram: ngram,
        ..SamplingParams::default()
    }
}

/// The setting's changes to the logits, as `sample` makes them.
fn penalise(logits: &mut [f32], history: &[u32], p: &SamplingParams) {
    ban_repeated_ngrams(logits, history, p.no_repeat_ngram, p.repeat_last_n);
    let start = history.len().saturating_sub(p.repeat_last_n);
    let mut seen = history[start..].to_vec();
    seen.sort_unstable();
    seen.dedup();
    for t in seen {
        let l = &mut logits[t as usize];
        *l = if *l >= 0.0 {
            *l / p.repetition_penalty
        } else {
            *l * p.repetition_penalty
        };
    }
}

fn has_repeated_ngram(ids: &[u32], n: usize) -> bool {
    let mut seen = std::collections::HashSet::new();
    ids.windows(n).any(|w| !seen.insert(w))
}
