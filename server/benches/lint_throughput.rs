//! Lint throughput on a generated chat JSONL (>= 100 MB), next to pure tokenization of the
//! same message text with the same encoder (bpe-openai), and tiktoken-rs for reference.
//!
//! Run: `cargo bench --bench lint_throughput -- [MB] [path]` (default 100 MB in a temp file).
//! Prints MB/s for: full lint (all rules, both cores), tokenization alone on one core, and
//! tokenization alone on all cores.

use rayon::prelude::*;
use std::io::Write;
use std::time::Instant;
use voicetune::config::Config;
use voicetune::dataset::FileKind;
use voicetune::lint::{lint_text, LintOptions};

/// Varied, realistic-looking prose so BPE sees real word distributions, with some lines that
/// carry the problems linting looks for.
fn generate(path: &std::path::Path, target_mb: usize) -> std::io::Result<()> {
    let words = "the voice of a writer shows in rhythm and choice of words so we keep paragraphs short \
        clear and warm while explaining marketing analytics data science podcasts customers revenue \
        growth tea biscuits weekend travel running code review deploy pipeline measure results";
    let words: Vec<&str> = words.split_whitespace().collect();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut written = 0;
    let mut seed: u64 = 42;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut i = 0usize;
    let sentence = |next: &mut dyn FnMut() -> u64, words_min: u64, words_spread: u64| {
        let mut text = String::new();
        for w in 0..(words_min + next() % words_spread) {
            if w > 0 {
                text.push(' ');
            }
            text.push_str(words[(next() % words.len() as u64) as usize]);
        }
        text.push('.');
        text
    };
    while written < target_mb * 1_000_000 {
        // Conversations like real chat sets: a system prompt, 1-5 user/assistant turns of
        // 8-120 words, sometimes several paragraphs; every 50th line has a tag and a URL.
        let mut messages =
            vec![serde_json::json!({"role": "system", "content": "You write in Katie's voice."})];
        for _ in 0..(1 + next() % 5) {
            messages
                .push(serde_json::json!({"role": "user", "content": sentence(&mut next, 8, 30)}));
            let mut reply = sentence(&mut next, 20, 100);
            if next() % 3 == 0 {
                reply.push_str("\n\n");
                reply.push_str(&sentence(&mut next, 20, 60));
            }
            if i.is_multiple_of(50) {
                reply.push_str(" See <b>this</b> at https://example.com/post/1 today.");
            }
            messages.push(serde_json::json!({"role": "assistant", "content": reply}));
        }
        let line = serde_json::json!({ "messages": messages }).to_string();
        writeln!(file, "{line}")?;
        written += line.len() + 1;
        i += 1;
    }
    file.flush()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mb: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let path = args
        .get(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("voicetune-bench-chat-{mb}mb.jsonl")));
    if !path.exists() {
        eprintln!("generating {} ({mb} MB)...", path.display());
        generate(&path, mb).expect("write the benchmark file");
    }
    let text = std::fs::read_to_string(&path).expect("read the benchmark file");
    let size_mb = text.len() as f64 / 1e6;
    let opts = LintOptions::new(&Config::default());
    let counter = opts.counter;
    let _ = counter.count("warm up the encoder");
    let threads = rayon::current_num_threads();

    let start = Instant::now();
    let findings = lint_text(&text, FileKind::Jsonl, &opts);
    let lint_s = start.elapsed().as_secs_f64();

    // Pure tokenization: the same message strings, same encoder, no JSON or rules.
    let contents: Vec<String> = text
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["content"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let start = Instant::now();
    let tokens_1: usize = contents.iter().map(|c| counter.count(c)).sum();
    let tok1_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let tokens_n: usize = contents
        .par_iter()
        .with_min_len(64)
        .map(|c| counter.count(c))
        .sum();
    let tokn_s = start.elapsed().as_secs_f64();
    assert_eq!(tokens_1, tokens_n);
    // The reference implementation (tiktoken-rs, the card's choice), for the record.
    let tiktoken = tiktoken_rs::o200k_base().expect("o200k loads");
    let start = Instant::now();
    let tokens_tk: usize = contents
        .iter()
        .map(|c| tiktoken.encode_ordinary(c).len())
        .sum();
    let tk_s = start.elapsed().as_secs_f64();
    assert_eq!(tokens_1, tokens_tk, "bpe-openai and tiktoken-rs disagree");
    // bpe-openai's own count (shared regex cache pool, no per-piece memo), one thread.
    let plain = bpe_openai::o200k_base();
    let start = Instant::now();
    let tokens_plain: usize = contents.iter().map(|c| plain.count(c.as_str())).sum();
    let plain_s = start.elapsed().as_secs_f64();
    assert_eq!(tokens_1, tokens_plain);

    println!(
        "file: {} ({size_mb:.1} MB, {} lines), encoder {:?}, {threads} threads",
        path.display(),
        text.lines().count(),
        counter.model.encoding
    );
    println!(
        "lint (all rules, {threads} threads): {lint_s:.2} s = {:.1} MB/s ({} findings)",
        size_mb / lint_s,
        findings.len()
    );
    println!(
        "tokenize only, 1 thread:  {tok1_s:.2} s = {:.1} MB/s ({tokens_1} tokens)",
        size_mb / tok1_s
    );
    println!(
        "bpe-openai's count as is, 1 thread: {plain_s:.2} s = {:.1} MB/s",
        size_mb / plain_s
    );
    println!(
        "tokenize only, {threads} threads: {tokn_s:.2} s = {:.1} MB/s",
        size_mb / tokn_s
    );
    println!(
        "tiktoken-rs, 1 thread:    {tk_s:.2} s = {:.1} MB/s (same counts)",
        size_mb / tk_s
    );
    println!(
        "lint / single-thread tokenization: {:.0}%",
        100.0 * tok1_s / lint_s
    );
}
