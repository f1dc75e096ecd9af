//! The local model end to end: the real SmolLM2 GGUF (downloaded once into the cache by
//! `ensure_default_model`), our tokenizer and forward against references, LoRA training,
//! adapters in PEFT layout, checkpoints, and the CLI.

#[path = "model/hardening.rs"]
mod hardening;

use candle_core::quantized::GgmlDType;
use candle_core::{Device, IndexOp, Tensor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use voicetune::infer::local::{AdapterMode, LocalModel};
use voicetune::model::adapter::{self, peft_key, rows_gguf_to_hf, rows_hf_to_gguf};
use voicetune::model::generate::{generate, FinishReason, SamplingParams};
use voicetune::model::gguf::GgufFile;
use voicetune::model::llama::{load_model, Llama, LlamaConfig, LoraConfig, Mode};
use voicetune::model::pull::ensure_default_model;
use voicetune::model::tokenizer::{GgufTokenizer, Message};
use voicetune::train::local::config::LocalConfig;
use voicetune::train::local::data::{load_jsonl, Example};
use voicetune::train::local::trainer::{example_loss, train, TrainEvent, TrainStatus};

fn model_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        ensure_default_model().expect("default model downloads (needs python3 + pip)")
    })
    .clone()
}

fn tokenizer() -> GgufTokenizer {
    GgufTokenizer::from_gguf(&GgufFile::open(&model_path()).unwrap()).unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/model")
        .join(name)
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voicetune-model-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0
}

#[test]
fn tokenizer_ids_match_hugging_face_reference() {
    let tok = tokenizer();
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("tokenizer_reference.json")).unwrap(),
    )
    .unwrap();
    let samples = reference["samples"].as_array().unwrap();
    assert!(samples.len() >= 4);
    for s in samples {
        let text = s["text"].as_str().unwrap();
        let want: Vec<u32> = s["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tok.encode(text).unwrap();
        assert_eq!(got, want, "ids of {text:?}");
        assert_eq!(
            tok.decode(&got, true).unwrap(),
            text,
            "round trip of {text:?}"
        );
    }
    assert_eq!(tok.im_start, Some(1));
    assert_eq!(tok.im_end, Some(2));
    assert_eq!(tok.eos_id, 2);
}

#[test]
fn chat_template_masks_only_assistant_tokens() {
    let tok = tokenizer();
    let messages = vec![
        Message::new("system", "You write like me."),
        Message::new("user", "Say hi."),
        Message::new("assistant", "Hi there, 42 times!"),
    ];
    let (ids, mask) = tok.encode_chat_for_training(&messages).unwrap();
    // Same ids as tokenizing the whole templated conversation at once.
    let whole = tok
        .encode(&GgufTokenizer::chat_prompt(&messages, false))
        .unwrap();
    assert_eq!(ids, whole);
    let learned: Vec<u32> = ids
        .iter()
        .zip(&mask)
        .filter(|(_, &m)| m)
        .map(|(&i, _)| i)
        .collect();
    assert_eq!(
        tok.decode(&learned, true).unwrap(),
        "Hi there, 42 times!<|im_end|>"
    );
}

#[test]
fn our_forward_matches_candle_quantized_llama() {
    let path = model_path();
    let tok = tokenizer();
    let text = GgufTokenizer::chat_prompt(
        &[Message::new("user", "What is the capital of France?")],
        true,
    );
    let ids = tok.encode(&text).unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();

    let mut file = std::fs::File::open(&path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut reference = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
        content,
        &mut file,
        &Device::Cpu,
    )
    .unwrap();
    let want: Vec<f32> = reference
        .forward(&input, 0)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();

    // Dequantized f32, differentiable ops (the training path), logits at every position.
    let f32_model = load_model(&path, Mode::F32).unwrap();
    let hidden = f32_model.forward_hidden(&input, 0, None, true).unwrap();
    let all = f32_model.logits(&hidden).unwrap();
    assert_eq!(all.dims(), &[1, ids.len(), 49152]);
    let ours: Vec<f32> = all.i((0, ids.len() - 1)).unwrap().to_vec1().unwrap();
    let c = cosine(&ours, &want);
    assert!(c > 0.999, "cosine {c}");
    assert_eq!(argmax(&ours), argmax(&want));

    // Quantized weights with candle's kernels and attention, no cache: the reference's own
    // arithmetic.
    let q_model = load_model(&path, Mode::Quantized).unwrap();
    let n = ids.len();
    let hidden = q_model.forward_hidden(&input, 0, None, false).unwrap();
    let last = hidden.narrow(1, n - 1, 1).unwrap().squeeze(1).unwrap();
    let q: Vec<f32> = q_model
        .logits(&last)
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let c = cosine(&q, &want);
    assert!(c > 0.9999, "cosine quantized {c}");
    assert_eq!(argmax(&q), argmax(&want));

    // Inference paths with our own parts round differently from candle (the 8-bit activations
    // of the next product flip at other places), so they are held to the dequantized f32 model,
    // the exact product of these weights: their distance to it within twice the reference's
    // (whose cosine to it is ~0.99985, the noise of 4-bit weights). The prompt goes through the
    // KV cache in three parts: many tokens, one as in decoding, two.
    let reference_to_f32 = cosine(&want, &ours);
    let through_cache = |model: &Llama| -> Vec<f32> {
        let mut cache = voicetune::model::llama::KvCache::default();
        for (start, len) in [(0, n - 3), (n - 3, 1)] {
            let part = input.narrow(1, start, len).unwrap();
            model.forward_last(&part, &mut cache).unwrap();
        }
        let part = input.narrow(1, n - 2, 2).unwrap();
        let logits = model.forward_last(&part, &mut cache).unwrap();
        logits.squeeze(0).unwrap().to_vec1().unwrap()
    };
    // Our cached attention over candle's Q4_1 products.
    let cached = through_cache(&q_model);
    // The inference default: the GGUF's Q4_1 blocks with our kernel, q/k/v and gate/up stacked.
    let lm = LocalModel::load(&path, None, AdapterMode::Auto).unwrap();
    let q4 = through_cache(&lm.model);
    for (what, logits) in [("cached attention", &cached), ("our Q4_1 kernel", &q4)] {
        let c = cosine(logits, &want);
        assert!(c > 0.999, "{what}: cosine to candle's quantized llama {c}");
        let to_f32 = cosine(logits, &ours);
        assert!(
            1.0 - to_f32 < 2.0 * (1.0 - reference_to_f32),
            "{what}: cosine to the f32 model {to_f32}, the reference's {reference_to_f32}"
        );
        assert_eq!(argmax(logits), argmax(&want), "{what}");
    }

    // Requantized to Q8_0 (what a merged adapter runs on).
    let mut q8_model = load_model(&path, Mode::Quantized).unwrap();
    q8_model.requantize(GgmlDType::Q8_0).unwrap();
    q8_model.fuse_projections().unwrap();
    let q8: Vec<f32> = q8_model
        .forward_last(&input, &mut Default::default())
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec1()
        .unwrap();
    let c = cosine(&q8, &want);
    assert!(c > 0.999, "cosine Q8_0 {c}");
    assert_eq!(argmax(&q8), argmax(&want));
}

#[test]
fn merged_adapter_matches_the_adapter_applied_on_the_fly() {
    let path = model_path();
    let mut model = load_model(&path, Mode::F32).unwrap();
    let lora = LoraConfig::default();
    model.add_lora(&lora).unwrap();
    // A deterministic adapter, much stronger than a trained one.
    for (k, (_, v)) in model.lora_vars().iter().enumerate() {
        let n = v.elem_count();
        let vals: Vec<f32> = (0..n)
            .map(|i| 0.05 * ((i * 7919 + k * 104729) as f32).sin())
            .collect();
        v.set(&Tensor::from_vec(vals, v.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    let dir = tempdir("merge");
    adapter::save_adapter(&model, &lora, &dir, "test").unwrap();
    let ids = tokenizer()
        .encode("The garden was quiet after the rain, and")
        .unwrap();
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let last = |m: &Llama| -> Vec<f32> {
        m.forward_last(&input, &mut Default::default())
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let exact = last(&model);
    let base = last(&load_model(&path, Mode::F32).unwrap());
    let fly = LocalModel::load(&path, Some(&dir), AdapterMode::OnTheFly).unwrap();
    let merged = LocalModel::load(&path, Some(&dir), AdapterMode::Merged).unwrap();
    let (cf, cm, cb) = (
        cosine(&last(&fly.model), &exact),
        cosine(&last(&merged.model), &exact),
        cosine(&base, &exact),
    );
    assert!(cf > 0.998 && cm > 0.998, "on the fly {cf}, merged {cm}");
    assert!(
        cb < cm && cb < cf,
        "the adapter must matter: base {cb} vs merged {cm}, on the fly {cf}"
    );
    // On the fly, the adapters run inside our Q4_1 kernel, so q/k/v and gate/up stay stacked.
    let layer = &fly.model.layers[0];
    assert!(layer.qkv.is_some() && layer.gate_up.is_some());
    assert!(layer.q_proj.lora.is_none(), "folded into the kernel");
    // The default: every SmolLM2 projection is Q4_1, so the same as on the fly.
    let auto = LocalModel::load(&path, Some(&dir), AdapterMode::Auto).unwrap();
    assert_eq!(last(&auto.model), last(&fly.model));
}

#[test]
fn generation_streams_stops_and_cancels() {
    let path = model_path();
    let tok = tokenizer();
    let model = load_model(&path, Mode::Quantized).unwrap();
    let prompt = tok
        .encode(&GgufTokenizer::chat_prompt(
            &[Message::new("user", "List three colours, one per line.")],
            true,
        ))
        .unwrap();
    let greedy = SamplingParams {
        temperature: 0.0,
        max_tokens: 40,
        ..Default::default()
    };
    let mut pieces = Vec::new();
    let c = generate(&model, &tok, &prompt, &greedy, None, &mut |t| {
        pieces.push(t.to_string())
    })
    .unwrap();
    assert!(c.completion_tokens > 0 && !c.text.is_empty());
    assert_eq!(
        pieces.concat(),
        c.text,
        "streamed pieces add up to the completion"
    );
    assert!(pieces.len() > 1, "text is streamed, not returned at once");

    // A stop sequence from the greedy text: the completion ends right before it.
    let first_newline = c.text.find('\n').expect("greedy answer has several lines");
    let stopped = SamplingParams {
        stop: vec!["\n".into()],
        ..greedy.clone()
    };
    let mut streamed = String::new();
    let s = generate(&model, &tok, &prompt, &stopped, None, &mut |t| {
        streamed.push_str(t)
    })
    .unwrap();
    assert_eq!(s.finish, FinishReason::Stop);
    assert_eq!(s.text, c.text[..first_newline]);
    assert_eq!(streamed, s.text);

    // Sampling is reproducible with a seed.
    let sampled = SamplingParams {
        temperature: 0.9,
        max_tokens: 20,
        seed: 7,
        ..Default::default()
    };
    let a = generate(&model, &tok, &prompt, &sampled, None, &mut |_| {}).unwrap();
    let b = generate(&model, &tok, &prompt, &sampled, None, &mut |_| {}).unwrap();
    assert_eq!(a.text, b.text);

    // Cancelled between tokens.
    let cancel = AtomicBool::new(false);
    let mut n = 0;
    let r = generate(&model, &tok, &prompt, &greedy, Some(&cancel), &mut |_| {
        n += 1;
        if n == 2 {
            cancel.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert_eq!(r.finish, FinishReason::Cancelled);
    assert!(r.completion_tokens < c.completion_tokens);
}

fn tiny_config() -> LlamaConfig {
    LlamaConfig {
        n_layer: 2,
        hidden: 64,
        n_head: 4,
        n_kv_head: 2,
        head_dim: 16,
        intermediate: 128,
        vocab: 256,
        rope_base: 10_000.0,
        rms_eps: 1e-5,
        context_length: 128,
    }
}

/// Byte-level "sentences" for the tiny model: the loss is on every byte after the first.
fn byte_examples(texts: &[&str]) -> Vec<Example> {
    texts
        .iter()
        .map(|t| {
            let ids: Vec<u32> = t.bytes().map(u32::from).collect();
            let mask = vec![true; ids.len()];
            Example { ids, mask }
        })
        .collect()
}

fn tiny_train_config() -> LocalConfig {
    LocalConfig {
        rank: 16,
        alpha: 32.0,
        dropout: 0.0,
        lr: 1e-2,
        warmup_steps: 5,
        epochs: 60,
        grad_accum: 2,
        max_grad_norm: 1.0,
        eval_every: 0,
        save_every: 0,
        ..Default::default()
    }
}

fn greedy_bytes(model: &Llama, prefix: &[u32], n: usize) -> Vec<u32> {
    let mut ids = prefix.to_vec();
    for _ in 0..n {
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let h = model.forward_hidden(&input, 0, None, false).unwrap();
        let logits: Vec<f32> = model
            .logits(&h.i((0, ids.len() - 1)).unwrap())
            .unwrap()
            .to_vec1()
            .unwrap();
        ids.push(argmax(&logits) as u32);
    }
    ids
}

#[test]
fn tiny_random_llama_memorises_sentences_with_lora() {
    let texts = [
        "the cat sat on the mat.",
        "rust is fast and safe!",
        "voices come from data.",
    ];
    let examples = byte_examples(&texts);
    let mut model = Llama::random(tiny_config(), 1).unwrap();
    let cfg = tiny_train_config();
    model.add_lora(&cfg.lora()).unwrap();
    let before = voicetune::train::local::trainer::mean_loss(&model, &examples)
        .unwrap()
        .0;
    let dir = tempdir("memorise");
    let out = train(
        &model,
        &examples,
        &[],
        &cfg,
        &dir,
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(out.status, TrainStatus::Finished);
    let after = voicetune::train::local::trainer::mean_loss(&model, &examples)
        .unwrap()
        .0;
    assert!(
        after < 0.05 && after < before / 20.0,
        "loss {before} -> {after}"
    );
    for (t, ex) in texts.iter().zip(&examples) {
        let got = greedy_bytes(&model, &ex.ids[..4], ex.ids.len() - 4);
        assert_eq!(
            String::from_utf8(got.iter().map(|&b| b as u8).collect()).unwrap(),
            *t
        );
    }
}

#[test]
fn adapter_save_load_round_trip_in_peft_layout() {
    let cfg = tiny_config();
    let mut model = Llama::random(cfg, 3).unwrap();
    let lora = LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.0,
        targets: vec![
            "q_proj".into(),
            "k_proj".into(),
            "v_proj".into(),
            "down_proj".into(),
        ],
    };
    model.add_lora(&lora).unwrap();
    // B starts at zero; give it values so the adapter changes the output.
    for (_, v) in model.lora_vars() {
        v.set(&Tensor::randn(0f32, 0.1, v.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    let ids = Tensor::new(&[5u32, 17, 99, 200, 3, 42], &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let logits = |m: &Llama| -> Vec<f32> {
        let h = m.forward_hidden(&ids, 0, None, false).unwrap();
        m.logits(&h)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    };
    let want = logits(&model);
    let base = Llama::random(cfg, 3).unwrap();
    assert_ne!(logits(&base), want, "the adapter changes the output");

    let dir = tempdir("adapter");
    adapter::save_adapter(&model, &lora, &dir, "HuggingFaceTB/SmolLM2-135M-Instruct").unwrap();
    // PEFT names, shapes and config.
    let saved = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu)
        .unwrap();
    assert_eq!(saved.len(), 2 * 4 * 2);
    assert_eq!(saved[&peft_key(1, "q_proj", 'A')].dims(), &[4, 64]);
    assert_eq!(saved[&peft_key(1, "k_proj", 'B')].dims(), &[32, 4]);
    assert_eq!(saved[&peft_key(0, "down_proj", 'A')].dims(), &[4, 128]);
    assert!(saved.contains_key("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"));
    assert!(saved.contains_key("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "CAUSAL_LM");
    assert_eq!(config["r"], 4);
    assert_eq!(config["lora_alpha"], 8.0);
    assert_eq!(config["target_modules"].as_array().unwrap().len(), 4);
    // q/k B rows are saved in Hugging Face (half-split rope) order.
    let q_b_ours = model.layers[0]
        .q_proj
        .lora
        .as_ref()
        .unwrap()
        .b
        .as_tensor()
        .clone();
    let q_b_saved = &saved[&peft_key(0, "q_proj", 'B')];
    let diff = (rows_gguf_to_hf(&q_b_ours, 4).unwrap() - q_b_saved)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap();
    assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
    assert_ne!(
        q_b_ours.to_vec2::<f32>().unwrap(),
        q_b_saved.to_vec2::<f32>().unwrap()
    );

    let mut loaded = Llama::random(cfg, 3).unwrap();
    let got_cfg = adapter::load_adapter(&mut loaded, &dir).unwrap();
    assert_eq!(got_cfg, lora);
    assert_eq!(
        logits(&loaded),
        want,
        "identical logits after save and load"
    );
    // Merged into the weights: same function up to float rounding.
    loaded.merge_lora().unwrap();
    let merged = logits(&loaded);
    let max_diff = merged
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-3, "merged differs by {max_diff}");
}

#[test]
fn rope_row_permutation_inverts_and_matches_half_split_rope() {
    // rows_hf_to_gguf(rows_gguf_to_hf(x)) == x
    let x = Tensor::arange(0f32, 64.0 * 3.0, &Device::Cpu)
        .unwrap()
        .reshape((64, 3))
        .unwrap();
    let back = rows_hf_to_gguf(&rows_gguf_to_hf(&x, 4).unwrap(), 4).unwrap();
    assert_eq!(back.to_vec2::<f32>().unwrap(), x.to_vec2::<f32>().unwrap());
    // Interleaved rope on GGUF order == half-split rope on HF order, for a whole head block.
    let (t, d) = (5usize, 16usize);
    let q = Tensor::randn(0f32, 1.0, (1, 2, t, d), &Device::Cpu).unwrap();
    let cos = Tensor::randn(0f32, 1.0, (t, d / 2), &Device::Cpu).unwrap();
    let sin = Tensor::randn(0f32, 1.0, (t, d / 2), &Device::Cpu).unwrap();
    let inter = candle_nn::rotary_emb::rope_i_slow(&q, &cos, &sin).unwrap();
    // Permute features gguf -> hf per head: treat the feature axis as rows.
    let to_hf = |x: &Tensor| -> Tensor {
        let rows = x
            .reshape((2 * t, d))
            .unwrap()
            .t()
            .unwrap()
            .contiguous()
            .unwrap(); // [d, 2t]
        rows_gguf_to_hf(&rows, 1)
            .unwrap()
            .t()
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((1, 2, t, d))
            .unwrap()
    };
    let half = candle_nn::rotary_emb::rope_slow(&to_hf(&q), &cos, &sin).unwrap();
    let diff = (to_hf(&inter) - half)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-5, "{diff}");
}

#[test]
fn real_lora_steps_on_smollm2_lower_the_loss() {
    let path = model_path();
    let tok = tokenizer();
    let mut model = load_model(&path, Mode::F32).unwrap();
    let cfg = LocalConfig {
        lr: 1e-3,
        warmup_steps: 0,
        epochs: 6,
        grad_accum: 1,
        dropout: 0.0,
        eval_every: 0,
        save_every: 0,
        ..Default::default()
    };
    model.add_lora(&cfg.lora()).unwrap();
    let messages = [
        Message::new("user", "Write a sentence about my garden."),
        Message::new(
            "assistant",
            "Zucchini towers lean on the crooked fence while the plum tree hums with wasps.",
        ),
    ];
    let (ids, mask) = tok.encode_chat_for_training(&messages).unwrap();
    let ex = Example { ids, mask };
    let (before, _) = example_loss(&model, &ex, false).unwrap();
    let before = before.to_scalar::<f32>().unwrap();
    let mut losses = Vec::new();
    let out = train(
        &model,
        std::slice::from_ref(&ex),
        &[],
        &cfg,
        &tempdir("real"),
        false,
        &AtomicBool::new(false),
        &mut |e| {
            if let TrainEvent::Step {
                loss,
                tokens_per_sec,
                ..
            } = e
            {
                assert!(*tokens_per_sec > 0.0);
                losses.push(*loss)
            }
        },
    )
    .unwrap();
    assert_eq!(out.steps_done, 6);
    let (after, _) = example_loss(&model, &ex, false).unwrap();
    let after = after.to_scalar::<f32>().unwrap();
    assert!(
        (losses[0] - before as f64).abs() < 1e-3,
        "first step's loss is the base model's"
    );
    assert!(
        after < before * 0.7,
        "loss {before} -> {after} ({losses:?})"
    );
}

#[test]
fn cancel_then_resume_continues_from_the_checkpoint() {
    let texts = [
        "alpha beta gamma",
        "delta epsilon",
        "zeta eta theta",
        "iota kappa",
        "lambda mu nu",
    ];
    let examples = byte_examples(&texts);
    // With dropout: its masks are seeded by (step, example), so the replay is exact.
    let cfg = LocalConfig {
        epochs: 4,
        grad_accum: 2,
        save_every: 3,
        dropout: 0.1,
        ..tiny_train_config()
    };
    let fresh = || {
        let mut m = Llama::random(tiny_config(), 5).unwrap();
        m.add_lora(&cfg.lora()).unwrap();
        m
    };
    let weights = |m: &Llama| -> Vec<Vec<f32>> {
        m.lora_vars()
            .iter()
            .map(|(_, v)| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
            .collect()
    };
    // Uninterrupted run.
    let full = fresh();
    let initial = weights(&full);
    let out = train(
        &full,
        &examples,
        &[],
        &cfg,
        &tempdir("full"),
        false,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let total = out.total_steps;
    assert_eq!(total, 12);

    // Cancelled after step 5 (checkpoint at 3 and at cancel), then resumed by a new process
    // whose adapter starts from other random values: the checkpoint must overwrite them.
    let dir = tempdir("resume");
    let first = fresh();
    for ((_, v), w) in first.lora_vars().iter().zip(&initial) {
        v.set(&Tensor::from_vec(w.clone(), v.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }
    let cancel = AtomicBool::new(false);
    let out = train(
        &first,
        &examples,
        &[],
        &cfg,
        &dir,
        false,
        &cancel,
        &mut |e| {
            if let TrainEvent::Step { step: 5, .. } = e {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    )
    .unwrap();
    assert_eq!(out.status, TrainStatus::Cancelled);
    assert_eq!(out.steps_done, 5);
    assert!(dir.join("checkpoint/state.json").exists());

    let second = fresh();
    let mut started_at = None;
    let out = train(
        &second,
        &examples,
        &[],
        &cfg,
        &dir,
        true,
        &AtomicBool::new(false),
        &mut |e| {
            if let TrainEvent::Started { start_step, .. } = e {
                started_at = Some(*start_step);
            }
        },
    )
    .unwrap();
    assert_eq!(started_at, Some(5));
    assert_eq!(out.status, TrainStatus::Finished);
    assert_eq!(out.steps_done, total);
    for (a, b) in weights(&full).iter().zip(&weights(&second)) {
        let max = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            max < 1e-5,
            "resumed run differs from the uninterrupted one by {max}"
        );
    }
}

#[test]
fn bad_dataset_lines_name_file_and_line() {
    let tok = tokenizer();
    let dir = tempdir("bad");
    let file = dir.join("data.jsonl");
    std::fs::write(&file, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n{\"nope\": 1}\n").unwrap();
    let err = load_jsonl(
        &file,
        &tok,
        512,
        voicetune::train::local::config::LongExamples::Split,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("data.jsonl:2:") && err.contains("expected `messages`"),
        "{err}"
    );
    std::fs::write(&file, "{\"messages\": [\n").unwrap();
    let err = load_jsonl(
        &file,
        &tok,
        512,
        voicetune::train::local::config::LongExamples::Split,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("data.jsonl:1: invalid JSON"), "{err}");
}

#[test]
fn long_examples_are_split_or_skipped_and_reported() {
    use voicetune::train::local::config::LongExamples;
    let tok = tokenizer();
    let dir = tempdir("long");
    let file = dir.join("data.jsonl");
    let long = "word ".repeat(100);
    let line = serde_json::json!({"messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": long}]});
    let short = serde_json::json!({"prompt": "a", "completion": "b c"});
    std::fs::write(&file, format!("{line}\n{short}\n")).unwrap();
    let (ex, rep) = load_jsonl(&file, &tok, 32, LongExamples::Split).unwrap();
    assert_eq!(rep.split_long, 1);
    assert!(ex.len() >= 4 && ex.iter().all(|e| e.ids.len() <= 32));
    let (ex, rep) = load_jsonl(&file, &tok, 32, LongExamples::Skip).unwrap();
    assert_eq!((rep.skipped_long, ex.len()), (1, 1));
    assert!(rep.to_string().contains("1 long examples skipped"));
}

#[test]
fn pull_without_python_says_what_to_do() {
    let cache = tempdir("nopython");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["model", "pull"])
        .env("VOICETUNE_CACHE_DIR", &cache)
        .env("PATH", "")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Python 3 with pip is needed"), "{err}");
}

fn chat_line(q: &str, a: &str) -> String {
    serde_json::json!({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}).to_string()
}

/// Three pirate-voiced chat examples in `train.jsonl`.
fn write_pirate_dataset(ws: &Path) {
    let data = [
        chat_line("Greet me.", "Ahoy, matey! The tide is kind today."),
        chat_line("Say goodbye.", "Fair winds, matey! Mind the barnacles."),
        chat_line("How are you?", "Shipshape, matey, and ready to sail."),
    ]
    .join("\n");
    std::fs::write(ws.join("train.jsonl"), data).unwrap();
}

#[test]
fn cli_train_generate_eval_register_a_voice() {
    let _ = model_path();
    let ws = tempdir("cli");
    write_pirate_dataset(&ws);
    std::fs::write(
        ws.join("heldout.jsonl"),
        chat_line(
            "Welcome me aboard.",
            "Ahoy, matey! Welcome aboard, the tide is kind.",
        ),
    )
    .unwrap();
    std::fs::write(ws.join("voicetune.toml"), "[local]\nepochs = 3\ngrad_accum = 1\nlr = 0.002\nwarmup_steps = 1\nval_fraction = 0.0\nmax_seq_len = 64\n").unwrap();
    let bin = env!("CARGO_BIN_EXE_voicetune");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .current_dir(&ws)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let trained = run(&["train", "train.jsonl", "--name", "pirate"]);
    assert!(trained.contains("voice `pirate` registered"), "{trained}");
    assert!(ws
        .join(".voicetune/voices/pirate/adapter_model.safetensors")
        .exists());
    let registry = voicetune::voices::Registry::load(&ws).unwrap();
    let Some(voicetune::voices::Voice::Local {
        adapter: Some(adapter),
        job_id: Some(job_id),
        ..
    }) = registry.get("pirate")
    else {
        panic!("pirate is not a local voice with an adapter and a job")
    };
    // The run is a job like a remote fine-tune, finished, with its progress and result.
    let job = voicetune::train::jobs::JobStore::new(&ws)
        .load(job_id)
        .unwrap();
    assert_eq!(job.kind, voicetune::train::jobs::JobKind::Local);
    assert_eq!(job.status, voicetune::train::jobs::JobStatus::Succeeded);
    assert_eq!(job.voice.as_deref(), Some("pirate"));
    assert_eq!(job.progress.percent(), Some(100));
    assert!(job.progress.train_loss.is_some());
    assert_eq!(
        job.result_model.as_deref(),
        Some(adapter.display().to_string().as_str())
    );
    let listed = run(&["jobs"]);
    assert!(
        listed.contains(job_id.as_str()) && listed.contains("local\tsucceeded"),
        "{listed}"
    );

    let text = run(&[
        "generate",
        "--model",
        "pirate",
        "--temperature",
        "0",
        "--max-tokens",
        "12",
        "Greet me.",
    ]);
    assert!(!text.trim().is_empty());
    let base = run(&[
        "generate",
        "--temperature",
        "0",
        "--max-tokens",
        "12",
        "Greet me.",
    ]);
    assert!(!base.trim().is_empty());

    let eval = run(&["eval", "--model", "pirate", "heldout.jsonl"]);
    let ppl = |name: &str| -> f64 {
        eval.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(ppl("pirate") < ppl("base"), "{eval}");
}

/// Starts `voicetune train` on the pirate set in `ws` for far more steps than can pass before
/// a test acts, and returns once it says "training on" (after its Ctrl-C handler is in place;
/// without a terminal the progress lines go to stderr), with the stderr read so far.
// The caller waits on the child it gets back (clippy cannot follow it out of the function).
#[allow(clippy::zombie_processes)]
fn start_long_training(
    ws: &Path,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    String,
) {
    use std::io::BufRead;
    let _ = model_path();
    write_pirate_dataset(ws);
    std::fs::write(
        ws.join("voicetune.toml"),
        "[local]\ngrad_accum = 1\nwarmup_steps = 1\nval_fraction = 0.0\nmax_seq_len = 64\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args([
            "train",
            "train.jsonl",
            "--name",
            "pirate",
            "--epochs",
            "200",
        ])
        .current_dir(ws)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        if stderr.read_line(&mut l).unwrap() == 0 {
            let _ = child.wait();
            panic!("training ended before it started: {seen}");
        }
        seen.push_str(&l);
        if l.starts_with("training on") {
            return (child, stderr, seen);
        }
    }
}

/// Waits for the training `start_long_training` began in `ws` to end after it was asked to
/// stop, and checks that it stopped as a cancel should: status 130, a checkpoint, the command
/// that resumes, no voice registered, the job cancelled early. Returns its stderr.
fn assert_stopped_with_a_checkpoint(
    ws: &Path,
    mut child: std::process::Child,
    mut stderr: std::io::BufReader<std::process::ChildStderr>,
    mut seen: String,
) -> String {
    use std::io::Read;
    stderr.read_to_string(&mut seen).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stdout}\n{seen}");
    assert!(stdout.contains("cancelled at step "), "{stdout}");
    assert!(
        stdout.contains(
            "resume with: voicetune train train.jsonl --name pirate --epochs 200 --resume"
        ),
        "{stdout}"
    );
    assert!(ws
        .join(".voicetune/voices/pirate/checkpoint/state.json")
        .exists());
    assert!(voicetune::voices::Registry::load(ws)
        .unwrap()
        .get("pirate")
        .is_none());
    let jobs = voicetune::train::jobs::JobStore::new(ws).list().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].status, voicetune::train::jobs::JobStatus::Cancelled);
    // Cancelled right after it started: at step 0 or a few steps in, of many.
    assert!(jobs[0].progress.step.is_some());
    assert!(jobs[0].progress.total_steps.is_some_and(|t| t > 100));
    seen
}

#[test]
fn cli_train_stops_on_ctrl_c_with_a_checkpoint_and_a_resume_hint() {
    let ws = tempdir("ctrlc");
    let (child, stderr, seen) = start_long_training(&ws);
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let seen = assert_stopped_with_a_checkpoint(&ws, child, stderr, seen);
    assert!(seen.contains("Ctrl-C again to quit now"), "{seen}");
}

#[test]
fn jobs_cancel_from_another_process_stops_a_cli_training_with_a_checkpoint() {
    let ws = tempdir("jobs-cancel");
    let (child, stderr, seen) = start_long_training(&ws);
    let store = voicetune::train::jobs::JobStore::new(&ws);
    let id = store.list().unwrap()[0].id.clone();
    let voicetune = env!("CARGO_BIN_EXE_voicetune");
    let cancel = |id: &str| {
        std::process::Command::new(voicetune)
            .args(["jobs", "cancel", id])
            .current_dir(&ws)
            .output()
            .unwrap()
    };
    let answer = cancel(&id);
    let said = String::from_utf8_lossy(&answer.stdout).to_string();
    let complained = String::from_utf8_lossy(&answer.stderr).to_string();
    assert!(answer.status.success(), "{said}\n{complained}");
    // It waits for the trainer in the other process, so its last word is the final state.
    assert!(said.contains(&format!("job {id}: cancelling")), "{said}");
    assert!(
        said.trim_end().ends_with(&format!("job {id}: cancelled")),
        "{said}"
    );
    // The training process stopped exactly as on Ctrl-C.
    assert_stopped_with_a_checkpoint(&ws, child, stderr, seen);
    let job = store.load(&id).unwrap();
    assert!(
        job.log.iter().any(|l| l.message.contains("checkpoint in")),
        "{:?}",
        job.log
    );
    // The request is answered: no marker is left to stop a later run.
    assert!(!store.cancel_requested(&id));

    // Cancelling it again says so, and leaves it as it was.
    let again = cancel(&id);
    assert!(again.status.success());
    let said = String::from_utf8_lossy(&again.stdout).to_string();
    assert_eq!(said.trim_end(), format!("job {id}: already cancelled"));
    assert_eq!(store.load(&id).unwrap(), job);
    assert!(!store.cancel_requested(&id));
}

#[test]
fn cli_train_killed_outright_leaves_a_failed_job_not_a_running_one() {
    let ws = tempdir("sigkill");
    let (mut child, _stderr, _) = start_long_training(&ws);
    let voicetune = env!("CARGO_BIN_EXE_voicetune");
    // The job is running while its process lives.
    let list = || {
        let out = std::process::Command::new(voicetune)
            .args(["jobs", "list"])
            .current_dir(&ws)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(list().contains("\tlocal\trunning"), "{}", list());
    child.kill().unwrap(); // SIGKILL: no handler runs, nothing is saved on the way out.
    child.wait().unwrap();
    let listed = list();
    assert!(listed.contains("\tlocal\tfailed"), "{listed}");
    let jobs = voicetune::train::jobs::JobStore::new(&ws).list().unwrap();
    let error = jobs[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("killed or crashed"), "{error}");
    // A failed job cannot be cancelled, and `jobs cancel` says why.
    let cancel = std::process::Command::new(voicetune)
        .args(["jobs", "cancel", &jobs[0].id])
        .current_dir(&ws)
        .output()
        .unwrap();
    assert!(!cancel.status.success());
    let complained = String::from_utf8_lossy(&cancel.stderr);
    assert!(
        complained.contains("already failed; there is nothing to cancel"),
        "{complained}"
    );
}

#[test]
fn local_config_reads_the_local_table_and_rejects_bad_values() {
    let ws = tempdir("config");
    assert_eq!(
        LocalConfig::from_workspace(&ws).unwrap(),
        LocalConfig::default()
    );
    std::fs::write(
        ws.join("voicetune.toml"),
        "[local]\nmodel = \"models/my.gguf\"\nrank = 4\nalpha = 8\ntargets = [\"q_proj\", \"v_proj\"]\nlong_examples = \"skip\"\n",
    )
    .unwrap();
    let cfg = LocalConfig::from_workspace(&ws).unwrap();
    assert_eq!(cfg.model, Some(ws.join("models/my.gguf")));
    assert_eq!((cfg.rank, cfg.lora().scale()), (4, 2.0));
    assert_eq!(cfg.lora().targets, vec!["q_proj", "v_proj"]);
    std::fs::write(
        ws.join("voicetune.toml"),
        "[local]\ntargets = [\"lm_head\"]\n",
    )
    .unwrap();
    let err = format!("{:#}", LocalConfig::from_workspace(&ws).unwrap_err());
    assert!(
        err.contains("voicetune.toml") && err.contains("unknown LoRA target module `lm_head`"),
        "{err}"
    );
    std::fs::write(ws.join("voicetune.toml"), "[local]\nrnak = 4\n").unwrap();
    let err = format!("{:#}", LocalConfig::from_workspace(&ws).unwrap_err());
    assert!(err.contains("rnak"), "{err}");
}

// Ghostwriting with the real model.
#[path = "model_ghost.rs"]
mod ghost;

// The bake-off's scores and report on fixtures.
#[path = "model_compare.rs"]
mod compare;
