//! Ghostwriting with the real SmolLM2 model: a draft is continued, a cancelled request stops
//! the model between tokens, typing reuses the cache and the last suggestion, and the default
//! sampling does not loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use candle_core::quantized::GgmlDType;
use voicetune::ghost::{DocKind, GhostConfig, Ghostwriter, SuggestRequest};
use voicetune::infer::local::LocalModel;
use voicetune::model::llama::{load_model, Mode};

/// The real model with candle's kernels (Q8_0): ours are unoptimised in test builds, where
/// they run many times slower than in a release build.
fn model() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = super::model_path();
            let mut model = load_model(&path, Mode::Quantized).unwrap();
            model.requantize(GgmlDType::Q8_0).unwrap();
            model.fuse_projections().unwrap();
            Arc::new(LocalModel {
                model,
                tokenizer: super::tokenizer(),
                base_path: path,
                adapter_path: None,
            })
        })
        .clone()
}

fn ghostwriter(tag: &str, config: GhostConfig) -> Ghostwriter {
    let ghost = Ghostwriter::new(&super::tempdir(tag), config);
    let base = voicetune::model::pull::default_model_path().unwrap();
    assert_eq!(
        base,
        super::model_path(),
        "the default model is the cached one"
    );
    ghost.share_local_model(&base, None, model());
    ghost
}

fn request(text: &str) -> SuggestRequest {
    SuggestRequest {
        voice: None,
        text: text.to_string(),
        kind: DocKind::Markdown,
        cursor: text.len(),
    }
}

const DRAFT: &str = "---\ntitle: Why I keep a notebook\n---\n\nI have kept a paper notebook for ten years. Every morning I write down what I plan to do, and every evening I cross out what I did. The habit started";

#[test]
fn ghost_continues_a_draft_reusing_cache_and_suggestion() {
    let ghost = ghostwriter("ghost-draft", GhostConfig::default());
    let no = AtomicBool::new(false);
    let first = ghost
        .suggest(&request(DRAFT), &no)
        .unwrap()
        .expect("a suggestion");
    assert!(!first.from_previous);
    let words: Vec<&str> = first.text.split_whitespace().collect();
    assert!(!words.is_empty(), "{first:?}");
    assert!(
        first.text.len() < 400 && !first.text.contains('<'),
        "{first:?}"
    );
    assert!(
        !DRAFT.contains(first.text.trim()),
        "the suggestion continues, it does not repeat: {first:?}"
    );

    // Typing the suggestion's first word: its rest, without the model.
    let typed_len = first.text.find(words[0]).unwrap() + words[0].len();
    let typed = format!("{DRAFT}{}", &first.text[..typed_len]);
    let before = ghost.stats().tokens_generated;
    if first.text.len() > typed_len && !first.text[typed_len..].trim().is_empty() {
        let rest = ghost.suggest(&request(&typed), &no).unwrap().unwrap();
        assert!(rest.from_previous);
        assert_eq!(rest.text, first.text[typed_len..]);
        assert_eq!(
            ghost.stats().tokens_generated,
            before,
            "the model did not run"
        );
    }

    // Typing something else: the model runs again on the cached prefix.
    let other = format!("{DRAFT} after a long");
    let s = ghost.suggest(&request(&other), &no).unwrap();
    let stats = ghost.stats();
    assert!(stats.prompt_tokens_reused > 30, "{stats:?}");
    if let Some(s) = s {
        assert!(!s.from_previous);
        assert!(s.timing.reused_tokens > 30, "{s:?}");
        assert!(
            s.timing.prompt_tokens - s.timing.reused_tokens < 10,
            "only the new tokens ran: {s:?}"
        );
    }
}

#[test]
fn ghost_cancel_stops_the_model_between_tokens() {
    let mut config = GhostConfig::default();
    config.sampling.max_tokens = 400;
    config.stop_at_sentence = false;
    let ghost = Arc::new(ghostwriter("ghost-cancel", config));
    ghost.preload(None).unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let worker = {
        let (ghost, cancel) = (ghost.clone(), cancel.clone());
        std::thread::spawn(move || ghost.suggest(&request(DRAFT), &cancel))
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while ghost.stats().tokens_generated < 3 {
        assert!(Instant::now() < deadline, "no tokens generated");
        std::thread::sleep(Duration::from_millis(5));
    }
    cancel.store(true, Ordering::Relaxed);
    let at_cancel = ghost.stats().tokens_generated;
    let result = worker.join().unwrap().unwrap();
    let stats = ghost.stats();
    assert_eq!(result, None, "a cancelled request suggests nothing");
    assert!(
        stats.tokens_generated - at_cancel <= 1,
        "at most the token in flight: {at_cancel} -> {stats:?}"
    );
    assert!(stats.tokens_after_cancel <= 1, "{stats:?}");
    assert_eq!(stats.cancelled, 1);
    assert!(
        stats.tokens_generated < 50,
        "stopped long before max_tokens"
    );
}

/// Word 8-grams that occur more than once in `text`.
fn repeated_8grams(text: &str) -> usize {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.to_lowercase()
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_string()
        })
        .collect();
    let mut seen = std::collections::HashMap::new();
    for w in words.windows(8) {
        *seen.entry(w.to_vec()).or_insert(0) += 1;
    }
    seen.values().filter(|&&n| n > 1).count()
}

/// Twenty drafts on varied topics: a title and an opening the model continues.
const DRAFTS: [(&str, &str); 20] = [
    ("Why I keep a notebook", "I keep a notebook because"),
    (
        "Getting started with tmux",
        "Tmux is a terminal multiplexer. It lets you",
    ),
    (
        "My first marathon",
        "The alarm went off at five. I had trained for months, and",
    ),
    (
        "Baking sourdough at home",
        "Sourdough needs three things: flour, water and",
    ),
    (
        "What I learned from failing",
        "Last year my startup failed. Looking back,",
    ),
    (
        "A week without my phone",
        "On Monday I put my phone in a drawer.",
    ),
    (
        "How we moved to Rust",
        "Our backend was written in Python until",
    ),
    (
        "Notes from a rainy city",
        "It rained for eleven days straight. The streets",
    ),
    ("On reading slowly", "I used to read fifty books a year."),
    (
        "Fixing my bike",
        "The chain slipped every time I climbed a hill, so",
    ),
    ("Learning the piano at forty", "My hands did not want to"),
    (
        "Why tests matter",
        "Every bug I shipped last year had one thing in common:",
    ),
    (
        "The garden in spring",
        "The tulips came up early this year, and",
    ),
    (
        "Working from home",
        "When the office closed, I set up a desk in",
    ),
    (
        "A letter to my younger self",
        "Dear me, you will worry about",
    ),
    ("Cooking for friends", "Nothing makes a kitchen warmer than"),
    (
        "Why I quit social media",
        "I deleted my accounts on a Tuesday.",
    ),
    ("Travelling by train", "The night train to Vienna leaves at"),
    (
        "Debugging a memory leak",
        "The service used more memory every hour, until",
    ),
    (
        "Lessons from my grandmother",
        "My grandmother never owned a car. She",
    ),
];

/// Continues every draft of [`DRAFTS`] with `voice` (32 tokens, no sentence stop) and fails on a
/// continuation that repeats a word 8-gram more often than the opening itself does.
fn assert_no_loops(ghost: &Ghostwriter, voice: Option<&str>) {
    let no = AtomicBool::new(false);
    let mut continued = 0;
    for (title, opening) in DRAFTS {
        let text = format!("# {title}\n\n{opening}");
        let request = SuggestRequest {
            voice: voice.map(str::to_string),
            ..request(&text)
        };
        let Some(s) = ghost.suggest(&request, &no).unwrap() else {
            continue;
        };
        continued += 1;
        let reference = repeated_8grams(opening);
        let with = repeated_8grams(&format!("{opening}{}", s.text));
        assert!(
            with <= reference,
            "{voice:?}, {title}: the continuation repeats itself: {:?}",
            s.text
        );
    }
    assert!(continued >= 15, "{voice:?}: {continued} of 20 continued");
}

fn loop_test_config() -> GhostConfig {
    let mut config = GhostConfig::default();
    config.sampling.max_tokens = 32;
    config.stop_at_sentence = false;
    config
}

#[test]
fn ghost_default_sampling_does_not_loop() {
    assert_eq!(repeated_8grams("a b c d e f g h a b c d e f g h"), 1);
    let ghost = ghostwriter("ghost-loops", loop_test_config());
    assert_no_loops(&ghost, None);
}

/// The quickstart's voice: `voicetune train posts.jsonl --name katie --epochs 1` on the sample
/// posts, which before the sampling defaults wrote the same sentence four times in a row.
#[test]
fn a_trained_voice_does_not_loop_either() {
    let ws = super::tempdir("ghost-voice-loops");
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sample");
    std::fs::copy(sample.join("posts.jsonl"), ws.join("posts.jsonl")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["train", "posts.jsonl", "--name", "katie", "--epochs", "1"])
        .current_dir(&ws)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registry = voicetune::voices::Registry::load(&ws).unwrap();
    let Some(voicetune::voices::Voice::Local {
        base_model,
        adapter: Some(adapter),
        ..
    }) = registry.get("katie")
    else {
        panic!("katie is not a local voice with an adapter")
    };
    // The voice with candle's kernels, as `model()` loads the base (see there why).
    let mut model = load_model(base_model, Mode::Quantized).unwrap();
    voicetune::model::adapter::load_adapter(&mut model, adapter).unwrap();
    model.merge_lora().unwrap();
    model.requantize(GgmlDType::Q8_0).unwrap();
    model.fuse_projections().unwrap();
    let voice = Arc::new(LocalModel {
        model,
        tokenizer: super::tokenizer(),
        base_path: base_model.clone(),
        adapter_path: Some(adapter.clone()),
    });
    let ghost = Ghostwriter::new(&ws, loop_test_config());
    ghost.share_local_model(base_model, Some(adapter), voice);
    assert_no_loops(&ghost, Some("katie"));
    assert!(ghost.stats().suggestions >= 15, "{:?}", ghost.stats());
}
