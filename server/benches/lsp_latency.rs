//! Editor latency of `voicetune lsp` on a 100,000-line chat JSONL, measured by a client over
//! stdio: the time from a one-line `didChange` to the `publishDiagnostics` of that version
//! (p50/p99 over 200 edits spread over the file), the time to the first diagnostics after
//! `didOpen`, and the server's RSS (from /proc) after opening.
//!
//! In a file this large the server publishes twice per edit: at once with the edited lines
//! re-linted (dataset-wide findings carried over on their lines), then again when the
//! dataset-wide rules over all summaries have run off the request loop. Both are timed.
//!
//! Run: `cargo bench --bench lsp_latency -- [lines] [edits]` (defaults 100000 and 200).

#[path = "../../tests/lsp_support/mod.rs"]
mod lsp_support;

use lsp_support::{file_uri, Client};
use serde_json::json;
use std::time::{Duration, Instant};

/// A chat example of ~60-120 words per reply; every 500th carries an HTML tag.
fn line(i: usize, seed: &mut u64) -> String {
    let words = [
        "the",
        "voice",
        "of",
        "a",
        "writer",
        "shows",
        "in",
        "rhythm",
        "and",
        "choice",
        "words",
        "so",
        "we",
        "keep",
        "paragraphs",
        "short",
        "clear",
        "warm",
        "while",
        "explaining",
        "marketing",
        "analytics",
        "podcasts",
        "customers",
        "growth",
        "tea",
        "weekend",
        "travel",
    ];
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let n = 60 + (next() % 60) as usize;
    let mut reply: Vec<&str> = (0..n)
        .map(|_| words[(next() % words.len() as u64) as usize])
        .collect();
    if i.is_multiple_of(500) {
        reply.insert(3, "<b>bold</b>");
    }
    json!({"messages": [
        {"role": "system", "content": "You write blog posts in Katie's voice."},
        {"role": "user", "content": format!("Write post number {i} about tea and growth")},
        {"role": "assistant", "content": reply.join(" ")},
    ]})
    .to_string()
}

fn rss_kb(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((q * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let lines: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let edits: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);

    let mut seed = 42u64;
    let text: String = (0..lines).map(|i| line(i, &mut seed) + "\n").collect();
    let dir = std::env::temp_dir().join(format!("voicetune-lsp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chat.jsonl");
    std::fs::write(&path, &text).unwrap();
    let uri = file_uri(&path);

    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_voicetune"));
    let mut client = Client::spawn(&binary, &dir);
    client.initialize(json!({"window": {"workDoneProgress": true}}), json!(null));
    let pid = client.child.id();
    let rss_idle = rss_kb(pid);

    let opened = Instant::now();
    client.open(&uri, "jsonl", 1, &text);
    let first = client.diagnostics(&uri, Some(1));
    let open_time = opened.elapsed();
    let findings = first["diagnostics"].as_array().map_or(0, Vec::len);
    std::thread::sleep(Duration::from_millis(200));
    let rss_open = rss_kb(pid);

    // One-line edits: type a word into the assistant text of lines spread over the file; every
    // fourth edit adds an HTML tag (a new finding), so results change as they would in use.
    let mut latencies = Vec::with_capacity(edits);
    // Until the publish's last byte was read, before the client parses it (a 160 KB message
    // with hundreds of diagnostics takes the client a few ms to parse into a JSON tree).
    let mut arrivals = Vec::with_capacity(edits);
    let mut complete = Vec::with_capacity(edits);
    let text_lines: Vec<&str> = text.lines().collect();
    for k in 0..edits {
        let target = (k * 7919 + 13) % lines;
        let at = text_lines[target].rfind("\"}]}").unwrap();
        let insert = if k % 4 == 0 { " <i>x</i>" } else { " tea" };
        let version = k as i64 + 2;
        let sent = Instant::now();
        client.change(
            &uri,
            version,
            json!([{"range": {"start": {"line": target, "character": at}, "end": {"line": target, "character": at}}, "text": insert}]),
        );
        client.diagnostics(&uri, Some(version));
        latencies.push(sent.elapsed());
        arrivals.push(client.last_arrival - sent);
        if lines > voicetune::lsp::document::DEFER_DATASET_LINES {
            client.diagnostics(&uri, Some(version));
            complete.push(sent.elapsed());
        }
    }
    let rss_after = rss_kb(pid);
    latencies.sort();
    arrivals.sort();
    complete.sort();
    let mb = text.len() as f64 / 1e6;
    println!("lsp_latency: {lines} lines, {mb:.1} MB, {findings} diagnostics after open");
    println!(
        "  didOpen -> first publishDiagnostics: {:.0} ms",
        open_time.as_secs_f64() * 1e3
    );
    println!(
        "  didChange -> publishDiagnostics read over {edits} one-line edits: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&arrivals, 0.5).as_secs_f64() * 1e3,
        percentile(&arrivals, 0.99).as_secs_f64() * 1e3,
        arrivals.last().unwrap().as_secs_f64() * 1e3,
    );
    println!(
        "  didChange -> publishDiagnostics read and parsed by the client: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
    if !complete.is_empty() {
        println!(
            "  didChange -> publishDiagnostics with dataset-wide rules re-run: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&complete, 0.5).as_secs_f64() * 1e3,
            percentile(&complete, 0.99).as_secs_f64() * 1e3,
        );
    }
    println!(
        "  RSS: {:.1} MB idle, {:.1} MB after open ({:.2}x the file), {:.1} MB after the edits",
        rss_idle as f64 / 1024.0,
        rss_open as f64 / 1024.0,
        rss_open as f64 * 1024.0 / text.len() as f64,
        rss_after as f64 / 1024.0,
    );
    client.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
