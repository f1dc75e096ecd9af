//! Text generation: sampling (temperature, top-k, top-p, repetition penalty), eos and stop
//! sequences, streaming text as it is produced, cancellation between tokens.

use anyhow::Result;
use candle_core::{Device, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::llama::{KvCache, Llama};
use super::rng::Rng;
use super::tokenizer::GgufTokenizer;

#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    pub max_tokens: usize,
    /// 0 means greedy.
    pub temperature: f32,
    /// 0 means no top-k cut.
    pub top_k: usize,
    /// 1 means no nucleus cut.
    pub top_p: f32,
    /// 1 means none; > 1 discourages tokens seen in the last `repeat_last_n`.
    pub repetition_penalty: f32,
    pub repeat_last_n: usize,
    /// 0 means none; n > 1 forbids a token that would repeat an n-gram already in the last
    /// `repeat_last_n` tokens (the loop breaker: a penalty alone lets a sentence recur).
    pub no_repeat_ngram: usize,
    pub seed: u64,
    /// The completion ends before the first of these (which is not part of the text).
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            max_tokens: 128,
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            no_repeat_ngram: 0,
            seed: 299792458,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Checks every setting, naming the flag of `voicetune generate` that sets it: a NaN
    /// temperature or a negative top-p would sample garbage silently, an empty stop string
    /// would end every completion before it starts.
    pub fn validate(&self) -> anyhow::Result<()> {
        let p = self;
        anyhow::ensure!(
            p.max_tokens >= 1,
            "max tokens {} (--max-tokens): use 1 or more",
            p.max_tokens
        );
        anyhow::ensure!(
            p.temperature.is_finite() && p.temperature >= 0.0,
            "temperature {} (--temperature): use 0 (greedy) or more, e.g. 0.7",
            p.temperature
        );
        anyhow::ensure!(
            p.top_p > 0.0 && p.top_p <= 1.0,
            "top-p {} (--top-p): use a probability above 0 and at most 1, e.g. 0.9",
            p.top_p
        );
        anyhow::ensure!(
            p.repetition_penalty.is_finite() && p.repetition_penalty > 0.0,
            "repetition penalty {} (--repetition-penalty): use a number above 0 (1 is none)",
            p.repetition_penalty
        );
        anyhow::ensure!(
            p.stop.iter().all(|s| !s.is_empty()),
            "an empty stop sequence (--stop \"\") would end every completion at once: give text"
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End of sequence token or a stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    pub finish: FinishReason,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Time to process the prompt (to the first sampled token).
    pub prompt_secs: f64,
    /// Time spent on the following tokens.
    pub decode_secs: f64,
}

/// Picks the next token from `logits` (modified in place).
pub fn sample(logits: &mut [f32], history: &[u32], p: &SamplingParams, rng: &mut Rng) -> u32 {
    ban_repeated_ngrams(logits, history, p.no_repeat_ngram, p.repeat_last_n);
    if p.repetition_penalty != 1.0 {
        let start = history.len().saturating_sub(p.repeat_last_n);
        let mut seen = history[start..].to_vec();
        seen.sort_unstable();
        seen.dedup();
        for &t in &seen {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = if *l >= 0.0 {
                    *l / p.repetition_penalty
                } else {
                    *l * p.repetition_penalty
                };
            }
        }
    }
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |best, (i, &l)| {
                if l > best.1 {
                    (i, l)
                } else {
                    best
                }
            })
            .0 as u32
    };
    if p.temperature <= 0.0 {
        return argmax();
    }
    // Candidates: the top-k (a partial selection, so top-p never sorts the whole vocabulary).
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    let k = if p.top_k == 0 {
        logits.len()
    } else {
        p.top_k.min(logits.len())
    };
    let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, by_logit);
        idx.truncate(k);
    }
    idx.sort_unstable_by(by_logit);
    let max = logits[idx[0] as usize];
    let mut probs: Vec<f32> = idx
        .iter()
        .map(|&i| ((logits[i as usize] - max) / p.temperature).exp())
        .collect();
    let sum: f32 = probs.iter().sum();
    probs.iter_mut().for_each(|x| *x /= sum);
    let mut keep = probs.len();
    if p.top_p < 1.0 {
        let mut acc = 0.0;
        for (i, &pr) in probs.iter().enumerate() {
            acc += pr;
            if acc >= p.top_p {
                keep = i + 1;
                break;
            }
        }
    }
    let total: f32 = probs[..keep].iter().sum();
    let mut r = rng.next_f32() * total;
    for i in 0..keep {
        r -= probs[i];
        if r <= 0.0 {
            return idx[i];
        }
    }
    idx[keep - 1]
}

/// Sets to -inf every token that would complete an `n`-gram already present in the last
/// `window` tokens of `history`.
pub fn ban_repeated_ngrams(logits: &mut [f32], history: &[u32], n: usize, window: usize) {
    if n < 2 || history.len() < n {
        return;
    }
    let recent = &history[history.len().saturating_sub(window.max(n))..];
    let tail = &history[history.len() - (n - 1)..];
    for gram in recent.windows(n) {
        if &gram[..n - 1] == tail {
            if let Some(l) = logits.get_mut(gram[n - 1] as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
    }
}

/// The longest suffix of `text` that is a proper prefix of a stop sequence: held back from the
/// stream until we know whether the stop sequence completes.
fn pending_stop_prefix(text: &str, stops: &[String]) -> usize {
    let mut best = 0;
    for s in stops {
        for (i, _) in s.char_indices().skip(1) {
            if i > best && text.ends_with(&s[..i]) {
                best = i;
            }
        }
    }
    best
}

/// Generates a completion of `prompt_ids`, calling `on_text` with each new piece of text.
/// `cancel` is checked between tokens.
pub fn generate(
    model: &Llama,
    tok: &GgufTokenizer,
    prompt_ids: &[u32],
    params: &SamplingParams,
    cancel: Option<&AtomicBool>,
    on_text: &mut dyn FnMut(&str),
) -> Result<Completion> {
    anyhow::ensure!(!prompt_ids.is_empty(), "empty prompt");
    params.validate()?;
    let ctx = model.cfg.context_length;
    let max_tokens = params.max_tokens.min(ctx.saturating_sub(1));
    // Keep the end of a prompt that would not leave room for the completion.
    let keep = (ctx - max_tokens).min(prompt_ids.len());
    let prompt = &prompt_ids[prompt_ids.len() - keep..];
    let stop_ids = tok.stop_ids();
    let mut rng = Rng::new(params.seed);
    let mut cache = KvCache::default();
    let mut history: Vec<u32> = prompt.to_vec();
    let mut out_ids: Vec<u32> = Vec::new();
    let mut emitted = 0usize; // bytes of `text` already streamed
    let mut text = String::new();
    let start = Instant::now();
    let mut prompt_secs = 0.0;
    let mut input = Tensor::new(prompt, &Device::Cpu)?.unsqueeze(0)?;
    let mut finish = FinishReason::Length;
    for step in 0..max_tokens {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            finish = FinishReason::Cancelled;
            break;
        }
        let logits = model.forward_last(&input, &mut cache)?;
        let mut logits: Vec<f32> = logits.squeeze(0)?.to_vec1()?;
        let next = sample(&mut logits, &history, params, &mut rng);
        if step == 0 {
            prompt_secs = start.elapsed().as_secs_f64();
        }
        if stop_ids.contains(&next) {
            finish = FinishReason::Stop;
            break;
        }
        history.push(next);
        out_ids.push(next);
        text = tok.decode(&out_ids, false)?;
        // A multi-byte character split over tokens decodes to U+FFFD until it is complete.
        if text.ends_with('\u{FFFD}') {
            input = Tensor::new(&[next], &Device::Cpu)?.unsqueeze(0)?;
            continue;
        }
        if let Some(pos) = params
            .stop
            .iter()
            .filter_map(|s| text.find(s.as_str()))
            .min()
        {
            text.truncate(pos);
            if pos > emitted {
                on_text(&text[emitted..pos]);
            }
            emitted = text.len();
            finish = FinishReason::Stop;
            break;
        }
        let safe = text.len() - pending_stop_prefix(&text, &params.stop);
        if safe > emitted && text.is_char_boundary(safe) {
            on_text(&text[emitted..safe]);
            emitted = safe;
        }
        input = Tensor::new(&[next], &Device::Cpu)?.unsqueeze(0)?;
    }
    // Flush what was held back for a stop sequence that never completed.
    let clean = text.trim_end_matches('\u{FFFD}').len();
    text.truncate(clean);
    if text.len() > emitted && text.is_char_boundary(emitted) {
        on_text(&text[emitted..]);
    }
    let total = start.elapsed().as_secs_f64();
    Ok(Completion {
        text,
        finish,
        prompt_tokens: prompt.len(),
        completion_tokens: out_ids.len(),
        prompt_secs,
        decode_secs: total - prompt_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_argmax_and_penalty_applies() {
        let p = SamplingParams {
            temperature: 0.0,
            repetition_penalty: 1.0,
            ..Default::default()
        };
        let mut rng = Rng::new(1);
        assert_eq!(sample(&mut [0.1, 3.0, 2.9], &[], &p, &mut rng), 1);
        let p = SamplingParams {
            repetition_penalty: 2.0,
            ..p
        };
        assert_eq!(sample(&mut [0.1, 3.0, 2.9], &[1], &p, &mut rng), 2);
    }

    #[test]
    fn top_k_one_is_greedy_and_top_p_limits_choices() {
        let mut rng = Rng::new(7);
        let p = SamplingParams {
            temperature: 1.0,
            top_k: 1,
            repetition_penalty: 1.0,
            ..Default::default()
        };
        for _ in 0..20 {
            assert_eq!(sample(&mut [0.0, 1.0, 0.5, 0.9], &[], &p, &mut rng), 1);
        }
        let p = SamplingParams {
            top_k: 0,
            top_p: 0.5,
            ..p
        };
        // probabilities ~[0.9, 0.05, 0.05]: top-p 0.5 keeps only the first.
        for _ in 0..20 {
            assert_eq!(sample(&mut [5.0, 2.0, 2.0], &[], &p, &mut rng), 0);
        }
    }

    #[test]
    fn no_repeat_ngram_bans_the_completing_token() {
        // History "1 2 3 1 2": with 3-grams, 3 would repeat "1 2 3".
        let mut logits = [0.0, 1.0, 1.0, 5.0];
        ban_repeated_ngrams(&mut logits, &[1, 2, 3, 1, 2], 3, 64);
        assert_eq!(logits[3], f32::NEG_INFINITY);
        assert_eq!(logits[1], 1.0);
        // Outside the window it is allowed again.
        let mut logits = [0.0, 1.0, 1.0, 5.0];
        ban_repeated_ngrams(&mut logits, &[1, 2, 3, 0, 0, 0, 1, 2], 3, 4);
        assert_eq!(logits[3], 5.0);
    }

    #[test]
    fn held_back_stop_prefix() {
        let stops = vec!["\n\n".to_string(), "END".to_string()];
        assert_eq!(pending_stop_prefix("hello\n", &stops), 1);
        assert_eq!(pending_stop_prefix("hello EN", &stops), 2);
        assert_eq!(pending_stop_prefix("hello", &stops), 0);
    }
}
