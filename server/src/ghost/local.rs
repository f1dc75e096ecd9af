//! The local backend: one loaded model per voice and the KV cache of the last sequence it ran.
//! A new request shares most of its tokens with the last one (the user typed a few characters),
//! so only the tokens after the common prefix are run through the model.

use anyhow::Result;
use candle_core::{Device, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::infer::local::LocalModel;
use crate::model::generate::{sample, Rng, SamplingParams};
use crate::model::llama::KvCache;
use crate::model::tokenizer::{GgufTokenizer, Message};

use super::stats::Stats;

/// The model's keys and values for `ids` (the prompt and any tokens generated after it).
#[derive(Default)]
struct Session {
    cache: KvCache,
    ids: Vec<u32>,
}

pub struct LocalBackend {
    pub model: Arc<LocalModel>,
    session: Mutex<Session>,
}

/// The model's raw text for one request, with its timing.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub text: String,
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values came from the cache.
    pub reused_tokens: usize,
    pub tokens: usize,
    pub first_token_ms: f64,
    pub cancelled: bool,
}

/// How many leading tokens of `prompt` the cache of `cached` can serve: their common prefix,
/// leaving at least the prompt's last token to run (its logits give the first new token).
pub fn reusable_prefix(cached: &[u32], prompt: &[u32]) -> usize {
    let common = cached
        .iter()
        .zip(prompt)
        .take_while(|(a, b)| a == b)
        .count();
    common.min(prompt.len().saturating_sub(1))
}

/// Where the kept window of `n` body tokens starts so that at most `budget` are kept. The start
/// moves in steps of a quarter budget, so while the user types on it stays put and the cached
/// prefix stays valid (a start that moved with every token would invalidate the whole cache).
pub fn window_start(n: usize, budget: usize) -> usize {
    if n <= budget {
        return 0;
    }
    let step = (budget / 4).max(1);
    (n - budget).div_ceil(step) * step
}

impl LocalBackend {
    pub fn new(model: Arc<LocalModel>) -> LocalBackend {
        LocalBackend {
            model,
            session: Mutex::new(Session::default()),
        }
    }

    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.model.tokenizer
    }

    /// Token ids of `messages` and the open assistant turn (as in training: each part encoded
    /// alone), and of `before` cut to its last `budget` tokens.
    pub fn prompt_ids(
        &self,
        messages: &[Message],
        before: &str,
        budget: usize,
    ) -> Result<(Vec<u32>, Vec<u32>)> {
        let tok = self.tokenizer();
        let mut header = Vec::new();
        for m in messages {
            header.extend(tok.encode(&format!("<|im_start|>{}\n", m.role))?);
            header.extend(tok.encode(&m.content)?);
            header.extend(tok.encode("<|im_end|>\n")?);
        }
        header.extend(tok.encode("<|im_start|>assistant\n")?);
        let body = tok.encode(before)?;
        let start = window_start(body.len(), budget);
        Ok((header, body[start..].to_vec()))
    }

    /// Continues `header + body`. `should_stop` sees the text so far after each token.
    pub fn generate(
        &self,
        header: &[u32],
        body: &[u32],
        params: &SamplingParams,
        cancel: &AtomicBool,
        stats: &Stats,
        should_stop: &dyn Fn(&str) -> bool,
    ) -> Result<Generated> {
        let model = &self.model.model;
        let tok = self.tokenizer();
        let ctx = model.cfg.context_length;
        let mut prompt: Vec<u32> = header.to_vec();
        // Room for the completion: cut the body's start if the context is short.
        let room = ctx.saturating_sub(params.max_tokens + header.len() + 1);
        prompt.extend_from_slice(&body[body.len().saturating_sub(room)..]);
        anyhow::ensure!(!prompt.is_empty(), "empty prompt");

        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let session = &mut *session;
        let reuse = reusable_prefix(&session.ids, &prompt);
        session.cache.truncate(reuse);
        session.ids.truncate(reuse);
        stats.add(&stats.prompt_tokens_reused, reuse);
        stats.add(&stats.prompt_tokens_run, prompt.len() - reuse);

        let start = Instant::now();
        let mut out = Generated {
            prompt_tokens: prompt.len(),
            reused_tokens: reuse,
            ..Default::default()
        };
        let stop_ids = tok.stop_ids();
        let mut rng = Rng::new(params.seed);
        let mut history: Vec<u32> = body.to_vec();
        let mut out_ids: Vec<u32> = Vec::new();
        let mut input: Vec<u32> = prompt[reuse..].to_vec();
        for step in 0..params.max_tokens {
            if cancel.load(Ordering::Relaxed) {
                out.cancelled = true;
                break;
            }
            let ids = Tensor::new(input.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
            let logits = match model.forward_last(&ids, &mut session.cache) {
                Ok(l) => l,
                Err(e) => {
                    // The cache may hold part of `input`: start afresh next time.
                    *session = Session::default();
                    return Err(e.into());
                }
            };
            session.ids.extend_from_slice(&input);
            let mut logits: Vec<f32> = logits.squeeze(0)?.to_vec1()?;
            let next = sample(&mut logits, &history, params, &mut rng);
            if step == 0 {
                out.first_token_ms = start.elapsed().as_secs_f64() * 1e3;
            }
            stats.add(&stats.tokens_generated, 1);
            if cancel.load(Ordering::Relaxed) {
                // A token finished after the cancellation was raised: the cost of one step.
                stats.add(&stats.tokens_after_cancel, 1);
            }
            if stop_ids.contains(&next) {
                break;
            }
            history.push(next);
            out_ids.push(next);
            out.tokens = out_ids.len();
            input = vec![next];
            let text = tok.decode(&out_ids, false)?;
            // A character split over tokens decodes to U+FFFD until it is whole.
            if !text.ends_with('\u{FFFD}') && should_stop(&text) {
                out.text = text;
                return Ok(out);
            }
            out.text = text;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_leaves_one_token_to_run() {
        assert_eq!(reusable_prefix(&[1, 2, 3, 4], &[1, 2, 3, 9, 9]), 3);
        // The new prompt is a prefix of the cached sequence (text deleted, or the cache holds
        // the generated tokens): its last token is run again for fresh logits.
        assert_eq!(reusable_prefix(&[1, 2, 3, 4, 5], &[1, 2, 3]), 2);
        assert_eq!(reusable_prefix(&[], &[1, 2]), 0);
        assert_eq!(reusable_prefix(&[7], &[1, 2]), 0);
    }

    #[test]
    fn window_start_is_stable_while_typing() {
        assert_eq!(window_start(100, 512), 0);
        assert_eq!(window_start(512, 512), 0);
        let first = window_start(513, 512);
        assert_eq!(first, 128);
        // The next 127 tokens keep the same start, and at most `budget` tokens are kept.
        for n in 513..=640 {
            assert_eq!(window_start(n, 512), first, "n = {n}");
            assert!(n - window_start(n, 512) <= 512);
        }
        assert_eq!(window_start(641, 512), 256);
    }
}
