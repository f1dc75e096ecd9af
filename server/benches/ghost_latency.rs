//! Ghostwriting latency with the local default model: what a writer waits for in the editor.
//!
//! `cargo bench --bench ghost_latency [-- REQUESTS]` (default 50). The draft is a markdown post
//! of about 1,000 tokens made from the posts in `tests/fixtures/blog`, the cursor at its end.
//! - cold: a new service loads the model and answers the first request (3 times, the model
//!   file in the page cache, as on a second editor start);
//! - warm: the writer types one more word (a word the model did not suggest), then asks again,
//!   REQUESTS times: the time to the first token (a service whose suggestions are one token
//!   long) and to a whole 16-token suggestion (stop at sentence end off), each from the request
//!   to the answer, as the language server's handler sees it;
//! - memory: peak RSS of the process (both services share one loaded model).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use voicetune::ghost::{DocKind, GhostConfig, Ghostwriter, SuggestRequest};
use voicetune::infer::local::{AdapterMode, LocalModel};
use voicetune::model::pull::ensure_default_model;

/// Words typed one at a time: ordinary, but not what a model continues a sentence with.
const TYPED: &[&str] = &[
    "copper", "lanterns", "quietly", "harbour", "beneath", "orchard", "velvet", "ladders",
    "thistle", "marble", "pockets", "drizzle", "compass", "saddle", "whistle", "meadow", "anchor",
    "pebbles", "lilac", "timber", "glacier", "parcel", "hinges", "blossom", "canvas", "ember",
    "falcon", "gravel", "hollow", "juniper", "kettle", "linen", "mosaic", "nutmeg", "oyster",
    "pewter", "quarry", "raven", "sorrel", "tundra", "umber", "vessel", "walnut", "yarrow",
    "zephyr", "bramble", "cinder", "dapple", "fennel", "garnet",
];

fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// About `tokens` tokens of real prose after a front matter title.
fn draft(lm: &LocalModel, tokens: usize) -> String {
    let blog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/blog");
    let mut files: Vec<_> = std::fs::read_dir(&blog)
        .expect("tests/fixtures/blog")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut body = String::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        // The body after the front matter (`---` or `+++` fenced).
        let rest = text.splitn(3, ['-', '+']).last().unwrap_or("");
        let rest = rest.trim_start_matches(['-', '+', '\n']);
        let prose: Vec<&str> = rest
            .split("\n\n")
            .filter(|p| !p.starts_with("```") && !p.starts_with('<') && !p.starts_with('!'))
            .collect();
        for p in prose {
            body.push_str(&p.replace('\n', " "));
            body.push_str("\n\n");
            if lm.tokenizer.encode(&body).unwrap().len() >= tokens {
                let body = body.trim_end().trim_end_matches('.');
                return format!("---\ntitle: \"Small repairs\"\n---\n\n{body}");
            }
        }
    }
    panic!("not enough text in tests/fixtures/blog for {tokens} tokens");
}

fn service(workspace: &Path, base: &Path, model: &Arc<LocalModel>, tokens: usize) -> Ghostwriter {
    let mut config = GhostConfig::default();
    config.sampling.max_tokens = tokens;
    config.stop_at_sentence = false;
    let gw = Ghostwriter::new(workspace, config);
    gw.share_local_model(base, None, model.clone());
    gw
}

fn main() {
    voicetune::model::settle_thread_count();
    let requests: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(TYPED.len());
    let base = ensure_default_model().expect("the default model (python3 + pip)");
    let workspace = tempfile_dir();
    let never = AtomicBool::new(false);

    // Cold: load and answer, with a service (and model) of its own each time.
    let lm = LocalModel::load(&base, None, AdapterMode::Auto).unwrap();
    let mut text = draft(&lm, 1000);
    let draft_tokens = lm.tokenizer.encode(&text).unwrap().len();
    drop(lm);
    let mut cold = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let gw = Ghostwriter::new(&workspace, GhostConfig::default());
        let request = SuggestRequest {
            voice: None,
            cursor: text.len(),
            text: text.clone(),
            kind: DocKind::Markdown,
        };
        let s = gw.suggest(&request, &never).expect("a suggestion");
        cold.push(start.elapsed().as_secs_f64() * 1e3);
        assert!(s.is_some(), "no suggestion at the end of the draft");
    }

    // Warm: two services on one model, each following the same typing.
    let model = Arc::new(LocalModel::load(&base, None, AdapterMode::Auto).unwrap());
    let first = service(&workspace, &base, &model, 1);
    let whole = service(&workspace, &base, &model, 16);
    let ask = |gw: &Ghostwriter, text: &str| {
        let request = SuggestRequest {
            voice: None,
            cursor: text.len(),
            text: text.to_string(),
            kind: DocKind::Markdown,
        };
        let start = Instant::now();
        let s = gw.suggest(&request, &never).expect("a suggestion");
        (start.elapsed().as_secs_f64() * 1e3, s)
    };
    ask(&first, &text);
    ask(&whole, &text);
    let (mut first_ms, mut whole_ms) = (Vec::new(), Vec::new());
    let (mut reused, mut run, mut served) = (0usize, 0usize, 0usize);
    for word in TYPED.iter().cycle().take(requests) {
        text.push(' ');
        text.push_str(word);
        let (t1, s1) = ask(&first, &text);
        let (t16, s16) = ask(&whole, &text);
        first_ms.push(t1);
        whole_ms.push(t16);
        if let Some(s) = &s16 {
            reused += s.timing.reused_tokens;
            run += s.timing.prompt_tokens - s.timing.reused_tokens;
        }
        for s in [s1, s16].into_iter().flatten() {
            served += usize::from(s.from_previous);
        }
    }
    first_ms.sort_by(f64::total_cmp);
    whole_ms.sort_by(f64::total_cmp);
    cold.sort_by(f64::total_cmp);
    println!(
        "draft: {draft_tokens} tokens; {requests} typed words; threads: 2 (settle_thread_count)"
    );
    println!(
        "cold (load + first suggestion): {:.0} / {:.0} / {:.0} ms",
        cold[0], cold[1], cold[2]
    );
    println!(
        "warm, first token: p50 {:.1} ms, p95 {:.1} ms",
        percentile(&first_ms, 0.5),
        percentile(&first_ms, 0.95)
    );
    println!(
        "warm, whole 16-token suggestion: p50 {:.1} ms, p95 {:.1} ms",
        percentile(&whole_ms, 0.5),
        percentile(&whole_ms, 0.95)
    );
    println!(
        "served from the previous suggestion: {served} of {}",
        2 * requests
    );
    println!(
        "prompt tokens per request after a word: {:.1} run, {:.1} from the KV cache",
        run as f64 / requests as f64,
        reused as f64 / requests as f64
    );
    println!(
        "memory: peak RSS {:.0} MB, RSS now {:.0} MB",
        status_mb("VmHWM:"),
        status_mb("VmRSS:")
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("voicetune-ghost-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
