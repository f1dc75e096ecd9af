//! Local model speed on this machine: prompt and decode tokens/s of the quantized model, and
//! LoRA training tokens/s and peak RSS at 128 and 512 tokens per example.
//!
//! `cargo bench --bench model_speed` runs everything (each training size in a child process so
//! its peak RSS is its own); `-- infer`, `-- train 128` run one part.

use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use voicetune::infer::local::{AdapterMode, LocalModel};
use voicetune::model::generate::{generate, SamplingParams};
use voicetune::model::llama::{load_model, KvCache, Mode};
use voicetune::model::pull::ensure_default_model;
use voicetune::train::local::config::LocalConfig;
use voicetune::train::local::data::Example;
use voicetune::train::local::trainer::{train, TrainEvent};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn text_ids(lm: &LocalModel, n: usize) -> Vec<u32> {
    let blog = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/blog"
    ))
    .map(|d| {
        let mut files: Vec<_> = d.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        files
            .iter()
            .take(120)
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<String>()
    })
    .unwrap_or_else(|_| "The quick brown fox jumps over the lazy dog. ".repeat(400));
    let ids = lm.tokenizer.encode(&blog).unwrap();
    assert!(ids.len() >= n, "not enough text for {n} tokens");
    ids[..n].to_vec()
}

/// A rank-8 adapter on all seven modules with small random `B` (a trained adapter's shape).
fn synthetic_adapter(base: &std::path::Path) -> std::path::PathBuf {
    let mut model = load_model(base, Mode::F32).unwrap();
    let lora = voicetune::model::LoraConfig::default();
    model.add_lora(&lora).unwrap();
    for (_, v) in model.lora_vars() {
        v.set(&Tensor::randn(0f32, 0.01, v.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("voicetune-bench-adapter-{}", std::process::id()));
    voicetune::model::adapter::save_adapter(&model, &lora, &dir, "bench").unwrap();
    dir
}

fn infer() {
    let base = ensure_default_model().unwrap();
    let adapter = synthetic_adapter(&base);
    let variants = [
        ("base, Q4_1 with candle's kernels", None, None),
        ("base, requantized Q8_0 with candle's kernels", None, None),
        (
            "base, Q4_1 with our kernel (default)",
            None,
            Some(AdapterMode::Auto),
        ),
        (
            "voice, adapter merged (Q8_0)",
            Some(&adapter),
            Some(AdapterMode::Merged),
        ),
        (
            "voice, adapter in our Q4_1 kernel (f32, default)",
            Some(&adapter),
            Some(AdapterMode::Auto),
        ),
    ];
    for (what, adapter, mode) in variants {
        let t = Instant::now();
        let lm = match mode {
            Some(mode) => LocalModel::load(&base, adapter.map(|p| p.as_path()), mode).unwrap(),
            None => {
                let mut lm = LocalModel::load(&base, None, AdapterMode::Merged).unwrap();
                lm.model = load_model(&base, Mode::Quantized).unwrap();
                if what.contains("Q8_0") {
                    lm.model.requantize(GgmlDType::Q8_0).unwrap();
                    lm.model.fuse_projections().unwrap();
                }
                lm
            }
        };
        let load = t.elapsed().as_secs_f64();
        println!("[{what}] load {load:.2}s");
        for n in [40usize, 128, 512] {
            let ids = text_ids(&lm, n);
            let input = Tensor::new(ids.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            // Best of 3 (the machine is shared).
            let mut best = f64::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                lm.model
                    .forward_last(&input, &mut KvCache::default())
                    .unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "[{what}] prompt {n:>3} tokens: {:.3}s = {:.0} tok/s",
                best,
                n as f64 / best
            );
        }
        let prompt = text_ids(&lm, 40);
        for (name, params) in [
            (
                "greedy",
                SamplingParams {
                    temperature: 0.0,
                    max_tokens: 128,
                    stop: vec![],
                    ..Default::default()
                },
            ),
            (
                "top-p 0.9 top-k 40 T 0.7",
                SamplingParams {
                    max_tokens: 128,
                    ..Default::default()
                },
            ),
        ] {
            let mut best = 0f64;
            for _ in 0..2 {
                // Never stop early: eos is rare in the middle of a blog post, but check.
                let (rate, tokens) = decode(&lm, &prompt, &params);
                if tokens > 20 {
                    best = best.max(rate);
                }
            }
            println!("[{what}] decode ({name}): {best:.0} tok/s");
        }
    }
}

/// The projections of one decoding step (SmolLM2's 30 layers, random weights) as Q4_1 with our
/// kernel and as Q8_0 with candle's, without anything else (`-- kernel`).
fn kernel_only() {
    use candle_core::quantized::{QMatMul, QTensor};
    use candle_core::Module;
    use voicetune::model::q4::Q4Matrix;
    let shapes = [(960, 576), (576, 576), (3072, 576), (576, 1536)];
    let mut q4 = Vec::new();
    let mut q8 = Vec::new();
    let mut bytes = (0usize, 0usize);
    // VT_KERNEL_LAYERS=1: one layer's weights (in cache) for every layer: compute, not memory.
    let layers = std::env::var("VT_KERNEL_LAYERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize);
    for _ in 0..layers {
        for (r, c) in shapes {
            let w = Tensor::randn(0f32, 0.05, (r, c), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
            bytes.0 += q.storage_size_in_bytes();
            q4.push(std::sync::Arc::new(
                Q4Matrix::from_qtensor(&q).unwrap().unwrap(),
            ));
            let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
            bytes.1 += q.storage_size_in_bytes();
            q8.push(QMatMul::from_qtensor(q).unwrap());
        }
    }
    let xs: Vec<Tensor> = [576, 1536]
        .iter()
        .map(|&c| Tensor::randn(0f32, 1.0, (1, 1, c), &Device::Cpu).unwrap())
        .collect();
    let x_for = |c: usize| if c == 576 { &xs[0] } else { &xs[1] };
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..50 {
            for (i, m) in q4.iter().cycle().take(120).enumerate() {
                m.forward(x_for(shapes[i % 4].1)).unwrap();
            }
        }
        let a = t.elapsed().as_secs_f64() / 50.0;
        let t = Instant::now();
        for _ in 0..50 {
            for (i, m) in q8.iter().cycle().take(120).enumerate() {
                m.forward(x_for(shapes[i % 4].1)).unwrap();
            }
        }
        let b = t.elapsed().as_secs_f64() / 50.0;
        println!(
            "Q4_1 ours: {:.2} ms/step, {:.1} GB/s; Q8_0 candle: {:.2} ms/step, {:.1} GB/s",
            a * 1e3,
            bytes.0 as f64 * 30.0 / layers as f64 / a / 1e9,
            b * 1e3,
            bytes.1 as f64 * 30.0 / layers as f64 / b / 1e9
        );
    }
}

/// Decoding speed after `prompt` (tokens after the first over their time) and the tokens made.
fn decode(lm: &LocalModel, prompt: &[u32], params: &SamplingParams) -> (f64, usize) {
    let c = generate(&lm.model, &lm.tokenizer, prompt, params, None, &mut |_| {}).unwrap();
    let rate = c.completion_tokens.saturating_sub(1) as f64 / c.decode_secs;
    (rate, c.completion_tokens)
}

/// Greedy decoding of the default model only, for profiling (`-- decode`).
fn decode_only() {
    let base = ensure_default_model().unwrap();
    let lm = LocalModel::load(&base, None, AdapterMode::Auto).unwrap();
    let prompt = text_ids(&lm, 40);
    let params = SamplingParams {
        temperature: 0.0,
        max_tokens: 128,
        stop: vec![],
        ..Default::default()
    };
    for _ in 0..5 {
        let (rate, tokens) = decode(&lm, &prompt, &params);
        println!("decode (greedy): {rate:.0} tok/s over {tokens} tokens");
    }
}

fn train_speed(seq: usize) {
    // As `voicetune train` does.
    voicetune::train::local::keep_freed_memory_for_reuse();
    let base = ensure_default_model().unwrap();
    let lm = LocalModel::load(&base, None, AdapterMode::Merged).unwrap();
    // 16 steps of one example each: this shared machine's speed wanders by +-15% from step to
    // step, so the steady figure is a mean over 15 steps.
    let ids = text_ids(&lm, seq * 16);
    drop(lm);
    let t = Instant::now();
    let mut model = load_model(&base, Mode::F32).unwrap();
    let load = t.elapsed().as_secs_f64();
    let cfg = LocalConfig {
        epochs: 1,
        grad_accum: 1,
        warmup_steps: 0,
        eval_every: 0,
        save_every: 0,
        ..Default::default()
    };
    model.add_lora(&cfg.lora()).unwrap();
    let examples: Vec<Example> = ids
        .chunks(seq)
        .map(|c| {
            // Loss on the second half, like a prompt + completion.
            let mask = (0..c.len()).map(|i| i >= c.len() / 2).collect();
            Example {
                ids: c.to_vec(),
                mask,
            }
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("voicetune-bench-train-{}", std::process::id()));
    let mut rates = Vec::new();
    train(
        &model,
        &examples,
        &[],
        &cfg,
        &dir,
        false,
        &AtomicBool::new(false),
        &mut |e| {
            if let TrainEvent::Step { tokens_per_sec, .. } = e {
                rates.push(*tokens_per_sec);
            }
        },
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // The first step warms up allocations; report the rest.
    let steady = &rates[1..];
    let mean = steady.iter().sum::<f64>() / steady.len() as f64;
    let mut sorted = steady.to_vec();
    sorted.sort_by(f64::total_cmp);
    println!(
        "[train {seq} tokens/example] load {load:.2}s, {:.0} tok/s mean, {:.0} median (steps: {}), peak RSS {:.0} MB",
        mean,
        sorted[sorted.len() / 2],
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" "),
        peak_rss_mb()
    );
}

fn main() {
    voicetune::model::settle_thread_count();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("infer") => infer(),
        Some("decode") => decode_only(),
        Some("kernel") => kernel_only(),
        Some("train") => {
            voicetune::model::prefer_f32_matmul_threads();
            train_speed(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(128))
        }
        _ => {
            infer();
            let exe = std::env::current_exe().unwrap();
            for seq in ["128", "512"] {
                let status = std::process::Command::new(&exe)
                    .args(["train", seq])
                    .status()
                    .unwrap();
                assert!(status.success());
            }
        }
    }
}
