//! The voice effect: LoRA-tune SmolLM2 on one author's blog posts and compare the perplexity
//! of held-out posts under the base model and the tuned model.
//!
//! Data: a folder of one author's markdown posts, `$VT_BLOG` (default: the twelve posts in
//! `tests/fixtures/blog`; the figures in BENCHMARKS.md were made with a 204-post blog, which is
//! not in the repository because its licence forbids commercial use). Every 10th post
//! (by date) is held out; the others are training data. Each post becomes a chat example:
//! user "Write a blog post titled ..." -> assistant: the post body (front matter removed),
//! cut to its first `VT_CHARS` characters (default 1000) to keep the run short on 2 cores.
//! Env: `VT_TRAIN_POSTS` (default 80), `VT_EPOCHS` (1), `VT_SEQ` (256).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use voicetune::train::local::config::LocalConfig;
use voicetune::train::local::eval::compare_perplexity;
use voicetune::train::local::train_voice;
use voicetune::train::local::trainer::TrainEvent;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// (title, body) of a Jekyll post.
fn parse_post(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---")?;
    let front = &rest[..end];
    let body = rest[end + 4..].trim().to_string();
    let title = front
        .lines()
        .find_map(|l| l.strip_prefix("title:"))?
        .trim()
        .trim_matches('"')
        .to_string();
    Some((title, body))
}

fn cut(body: &str, max_chars: usize) -> String {
    if body.len() <= max_chars {
        return body.to_string();
    }
    let mut end = max_chars;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    // End at a line break when there is one in the last third.
    match body[..end].rfind('\n') {
        Some(nl) if nl > max_chars * 2 / 3 => body[..nl].trim_end().to_string(),
        _ => body[..end].to_string(),
    }
}

fn main() {
    voicetune::model::settle_thread_count();
    voicetune::model::prefer_f32_matmul_threads();
    // As `voicetune train` does.
    voicetune::train::local::keep_freed_memory_for_reuse();
    let blog = std::env::var_os("VT_BLOG").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/blog"),
        std::path::PathBuf::from,
    );
    let mut files: Vec<_> = std::fs::read_dir(&blog)
        .unwrap_or_else(|e| panic!("{}: {e} (VT_BLOG names a folder of posts)", blog.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    let max_chars = env_usize("VT_CHARS", 1000);
    let mut train_lines = Vec::new();
    let mut heldout_lines = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let Some((title, body)) = parse_post(&std::fs::read_to_string(f).unwrap()) else {
            continue;
        };
        let line = serde_json::json!({"messages": [
            {"role": "user", "content": format!("Write a blog post titled \"{title}\".")},
            {"role": "assistant", "content": cut(&body, max_chars)},
        ]})
        .to_string();
        if i % 10 == 9 {
            heldout_lines.push(line)
        } else {
            train_lines.push(line)
        }
    }
    train_lines.truncate(env_usize("VT_TRAIN_POSTS", 80));
    let ws = std::env::temp_dir().join(format!("voicetune-voice-{}", std::process::id()));
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("train.jsonl"), train_lines.join("\n")).unwrap();
    std::fs::write(ws.join("heldout.jsonl"), heldout_lines.join("\n")).unwrap();
    let cfg = LocalConfig {
        epochs: env_usize("VT_EPOCHS", 1),
        max_seq_len: env_usize("VT_SEQ", 256),
        grad_accum: 4,
        lr: 1e-3,
        warmup_steps: 4,
        val_fraction: 0.0,
        eval_every: 0,
        save_every: 0,
        ..Default::default()
    };
    println!(
        "{} training posts, {} held-out posts, config {cfg:?}",
        train_lines.len(),
        heldout_lines.len()
    );
    let t = Instant::now();
    let mut last = Instant::now();
    let result = train_voice(
        &ws,
        &ws.join("train.jsonl"),
        None,
        "stigok",
        &cfg,
        false,
        &AtomicBool::new(false),
        &mut |e| {
            if let TrainEvent::Step {
                step,
                total_steps,
                loss,
                tokens_per_sec,
                ..
            } = e
            {
                if last.elapsed().as_secs() >= 20 || step == total_steps {
                    println!("step {step}/{total_steps} loss {loss:.3} {tokens_per_sec:.0} tok/s");
                    last = Instant::now();
                }
            }
        },
    )
    .unwrap();
    let train_secs = t.elapsed().as_secs_f64();
    println!("data: {}", result.report);
    println!(
        "trained {} steps, {} tokens in {:.0}s ({:.0} tok/s)",
        result.outcome.steps_done,
        result.outcome.tokens,
        train_secs,
        result.outcome.tokens as f64 / result.outcome.secs
    );
    let t = Instant::now();
    let p = compare_perplexity(
        &result.base_model,
        &result.adapter_dir,
        &ws.join("heldout.jsonl"),
        cfg.max_seq_len,
    )
    .unwrap();
    println!(
        "held-out ({} posts, {} assistant tokens): base perplexity {:.3} (loss {:.4}), tuned {:.3} (loss {:.4}); eval {:.0}s",
        heldout_lines.len(),
        p.tokens,
        p.base_ppl,
        p.base_nll,
        p.voice_ppl,
        p.voice_nll,
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&ws);
}
