//! The bake-off (`voicetune compare`, `voicetune.compare`): which voice writes most like the
//! author, and which leaks the junk its data had. Every voice answers the same held-out
//! prompts with the same sampling settings and seed; the answers are scored against the
//! author's real texts and written as an HTML report, its markdown twin and a JSON file.
//!
//! - [`heldout`]: held-out examples (prompt = everything before the last assistant turn,
//!   reference = the author's text) and the training texts.
//! - [`voices`]: resolving voice names, generation, held-out perplexity, price per token.
//! - [`stylometry`]: Burrows' Delta and Cosine Delta over the most frequent words.
//! - [`profile`]: function-word rates, sentence and paragraph lengths, MATTR, punctuation.
//! - [`leaks`]: lint findings, templates, copying, loops, empty and cut-off outputs.
//! - [`report`]: the HTML, markdown, JSON and terminal renderings.

pub mod heldout;
pub mod leaks;
pub mod profile;
pub mod report;
pub mod stylometry;
pub mod voices;
pub mod words;

use crate::model::generate::SamplingParams;
use crate::openai::RemoteConfig;
use anyhow::{Context, Result};
use heldout::HeldOut;
use leaks::{Leak, LeakKind, TrainingIndex};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use voices::{Output, VoiceSpec};

/// What to compare, and where the report goes.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    /// The folder whose `.voicetune/voices.json` and `voicetune.toml` are used.
    pub workspace: PathBuf,
    /// Voice names: `base` or registered voices.
    pub voices: Vec<String>,
    pub heldout: PathBuf,
    /// The training file, for the template and copying checks.
    pub train: Option<PathBuf>,
    /// Use the first N held-out examples (all when None).
    pub prompts: Option<usize>,
    pub sampling: SamplingParams,
    /// The HTML report; the markdown twin and the JSON go beside it (`.md`, `.json`).
    pub output: PathBuf,
    /// Most frequent words of the distance.
    pub mfw: usize,
    /// Tokens per window of the perplexity (as `voicetune eval --max-seq-len`).
    pub max_seq_len: usize,
}

impl CompareRequest {
    /// The defaults of `voicetune compare` (the sampling of `voicetune generate`).
    pub fn new(workspace: PathBuf, voices: Vec<String>, heldout: PathBuf, output: PathBuf) -> Self {
        CompareRequest {
            workspace,
            voices,
            heldout,
            train: None,
            prompts: None,
            sampling: default_sampling(),
            output,
            mfw: stylometry::DEFAULT_MFW,
            max_seq_len: 512,
        }
    }

    pub fn markdown_path(&self) -> PathBuf {
        self.output.with_extension("md")
    }

    pub fn json_path(&self) -> PathBuf {
        self.output.with_extension("json")
    }
}

/// The sampling of `voicetune generate`'s defaults, 200 tokens.
pub fn default_sampling() -> SamplingParams {
    SamplingParams {
        max_tokens: 200,
        temperature: 0.7,
        top_k: 40,
        top_p: 0.9,
        repetition_penalty: 1.05,
        no_repeat_ngram: 6,
        ..SamplingParams::default()
    }
}

/// Leak counts by kind name, and the total of those that count.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LeakCounts {
    pub by_kind: BTreeMap<String, usize>,
    /// All leaks except cut-off outputs.
    pub total: usize,
    /// Leaks per text.
    pub per_text: f64,
}

impl LeakCounts {
    fn of<'a>(lists: impl Iterator<Item = &'a Vec<Leak>>) -> LeakCounts {
        let mut counts = LeakCounts::default();
        let mut texts = 0;
        for list in lists {
            texts += 1;
            for leak in list {
                *counts
                    .by_kind
                    .entry(leak.kind.name().to_string())
                    .or_default() += 1;
                counts.total += usize::from(leak.kind.is_leak());
            }
        }
        counts.per_text = counts.total as f64 / texts.max(1) as f64;
        counts
    }

    pub fn count(&self, kind: LeakKind) -> usize {
        self.by_kind.get(kind.name()).copied().unwrap_or(0)
    }
}

/// Held-out perplexity of a voice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Perplexity {
    pub nll: f64,
    pub perplexity: f64,
    pub tokens: usize,
}

/// Every score of one voice.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VoiceScores {
    pub name: String,
    pub source: voices::VoiceSource,
    /// None: not available (a remote voice).
    pub perplexity: Option<Perplexity>,
    pub delta: stylometry::Delta,
    pub profile: profile::Profile,
    pub leaks: LeakCounts,
    /// Longest run of words copied from the training file, over all outputs.
    pub longest_copy_words: usize,
    pub generated_tokens: usize,
    /// USD per 1,000 generated tokens (None: unknown price).
    pub usd_per_1000_tokens: Option<f64>,
    /// Median over the outputs.
    pub first_token_secs: f64,
    /// Generated tokens / decoding time, over all outputs.
    pub tokens_per_sec: f64,
}

/// One voice's answer in the side-by-side table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Answer {
    pub voice: String,
    #[serde(flatten)]
    pub output: Output,
    pub leaks: Vec<Leak>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub example: HeldOut,
    /// Leak checks on the author's own text: the baseline of what the data holds.
    pub reference_leaks: Vec<Leak>,
    pub answers: Vec<Answer>,
}

/// The settings a report was made with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    pub heldout: PathBuf,
    pub train: Option<PathBuf>,
    pub prompts: usize,
    pub max_tokens: usize,
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: usize,
    pub repetition_penalty: f32,
    pub no_repeat_ngram: usize,
    pub seed: u64,
    pub mfw: usize,
}

/// Everything the report shows, as written to the JSON file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub settings: Settings,
    /// The author's held-out texts scored as if they were a voice (distance 0): the baseline.
    pub author: AuthorScores,
    pub voices: Vec<VoiceScores>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuthorScores {
    pub profile: profile::Profile,
    pub leaks: LeakCounts,
}

/// What the work is doing, for progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub message: String,
    pub percent: u32,
}

/// Runs the bake-off and writes the report (HTML, markdown, JSON). Stops with an error
/// reading "cancelled" when `cancel` is set.
pub fn compare(
    request: &CompareRequest,
    cancel: &AtomicBool,
    on_step: &mut dyn FnMut(Step),
) -> Result<Report> {
    anyhow::ensure!(
        !request.voices.is_empty(),
        "name at least one voice to compare (`base` is the base model)"
    );
    let (config, _) =
        crate::lint::config_for_file(&request.workspace.join(crate::config::CONFIG_FILE))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let remote = RemoteConfig::from_config(&config)?;
    let lint_options = crate::lint::LintOptions::new(&config);
    let examples = heldout::load_heldout(&request.heldout, request.prompts)?;
    let training = request
        .train
        .as_deref()
        .map(|p| heldout::load_author_texts(p).map(|t| TrainingIndex::build(&t)))
        .transpose()?;
    let specs = voices::resolve(&request.workspace, &request.voices, &remote)?;
    let work = (specs.len() * (examples.len() + 1)).max(1);
    let mut done = 0usize;
    let mut outputs: Vec<Vec<Output>> = Vec::new();
    let mut perplexities = Vec::new();
    for spec in &specs {
        let mut step = |done: usize, message: String| {
            on_step(Step {
                message,
                percent: (done * 100 / work) as u32,
            })
        };
        step(
            done,
            format!("{}: perplexity of the held-out texts", spec.name),
        );
        perplexities.push(
            voices::perplexity(&spec.source, &examples, request.max_seq_len)
                .with_context(|| format!("perplexity under voice `{}`", spec.name))?
                .map(|(nll, tokens)| Perplexity {
                    nll,
                    perplexity: nll.exp(),
                    tokens,
                }),
        );
        done += 1;
        let name = spec.name.clone();
        let n = examples.len();
        let base = done;
        outputs.push(voices::generate_all(
            spec,
            &examples,
            &request.sampling,
            &remote,
            cancel,
            &mut |i| step(base + i + 1, format!("{name}: wrote {}/{n}", i + 1)),
        )?);
        done += n;
    }
    let report = score(
        request,
        &examples,
        &specs,
        outputs,
        perplexities,
        training.as_ref(),
        &lint_options,
    );
    report::write_all(&report, request)?;
    Ok(report)
}

/// Scores the outputs (everything after generation; pure, so tests run it on fixtures).
pub fn score(
    request: &CompareRequest,
    examples: &[HeldOut],
    specs: &[VoiceSpec],
    outputs: Vec<Vec<Output>>,
    perplexities: Vec<Option<Perplexity>>,
    training: Option<&TrainingIndex>,
    lint_options: &crate::lint::LintOptions,
) -> Report {
    let references: Vec<&str> = examples.iter().map(|e| e.reference.as_str()).collect();
    let groups: Vec<Vec<&str>> = outputs
        .iter()
        .map(|o| o.iter().map(|o| o.text.as_str()).collect())
        .collect();
    let deltas = stylometry::delta(&references, &groups, request.mfw);
    let reference_leaks: Vec<Vec<Leak>> = examples
        .iter()
        .map(|e| leaks::find_leaks(&e.reference, "stop", training, lint_options))
        .collect();
    let output_leaks: Vec<Vec<Vec<Leak>>> = outputs
        .iter()
        .map(|o| {
            o.iter()
                .map(|o| leaks::find_leaks(&o.text, &o.finish, training, lint_options))
                .collect()
        })
        .collect();
    let voices = specs
        .iter()
        .enumerate()
        .map(|(v, spec)| {
            let outs = &outputs[v];
            let mut first: Vec<f64> = outs.iter().map(|o| o.first_token_secs).collect();
            first.sort_by(f64::total_cmp);
            let decode_secs: f64 = outs
                .iter()
                .filter(|o| o.tokens_per_sec > 0.0)
                .map(|o| o.tokens.saturating_sub(1) as f64 / o.tokens_per_sec)
                .sum();
            let decoded: usize = outs.iter().map(|o| o.tokens.saturating_sub(1)).sum();
            VoiceScores {
                name: spec.name.clone(),
                source: spec.source.clone(),
                perplexity: perplexities.get(v).cloned().flatten(),
                delta: deltas[v],
                profile: profile::profile(&groups[v]),
                leaks: LeakCounts::of(output_leaks[v].iter()),
                longest_copy_words: training.map_or(0, |t| {
                    outs.iter()
                        .filter_map(|o| t.longest_copy(&o.text).map(|(_, n)| n))
                        .max()
                        .unwrap_or(0)
                }),
                generated_tokens: outs.iter().map(|o| o.tokens).sum(),
                usd_per_1000_tokens: voices::cost_per_1000(&spec.source),
                first_token_secs: first.get(first.len() / 2).copied().unwrap_or(0.0),
                tokens_per_sec: if decode_secs > 0.0 {
                    decoded as f64 / decode_secs
                } else {
                    0.0
                },
            }
        })
        .collect();
    let rows = examples
        .iter()
        .enumerate()
        .map(|(i, example)| Row {
            example: example.clone(),
            reference_leaks: reference_leaks[i].clone(),
            answers: specs
                .iter()
                .enumerate()
                .map(|(v, spec)| Answer {
                    voice: spec.name.clone(),
                    output: outputs[v][i].clone(),
                    leaks: output_leaks[v][i].clone(),
                })
                .collect(),
        })
        .collect();
    let s = &request.sampling;
    Report {
        settings: Settings {
            heldout: request.heldout.clone(),
            train: request.train.clone(),
            prompts: examples.len(),
            max_tokens: s.max_tokens,
            temperature: s.temperature,
            top_p: s.top_p,
            top_k: s.top_k,
            repetition_penalty: s.repetition_penalty,
            no_repeat_ngram: s.no_repeat_ngram,
            seed: s.seed,
            mfw: request.mfw,
        },
        author: AuthorScores {
            profile: profile::profile(&references),
            leaks: LeakCounts::of(reference_leaks.iter()),
        },
        voices,
        rows,
    }
}
