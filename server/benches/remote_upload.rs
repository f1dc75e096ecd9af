//! Peak memory while uploading a large training file: the upload must stream from disk.
//!
//! `cargo bench --bench remote_upload [-- SIZE_MB]` (default 500) writes a SIZE_MB JSONL file,
//! starts the fake OpenAI server from the tests (it streams the upload into a hash, keeping
//! nothing), and runs the upload in a child process (this binary again) so that the measured
//! peak RSS (VmHWM) is the client's alone. It checks that the server received every byte.

#[path = "../../tests/remote/fake_openai.rs"]
mod fake_openai;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use voicetune::openai::{ApiKey, Client, ClientOptions, RetryPolicy, Timeouts};

const KEY: &str = "sk-bench";
const CHILD_ENV: &str = "VOICETUNE_UPLOAD_BENCH_CHILD";

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The child: upload `file` to `base_url`, report timings and peak RSS on stdout.
fn child(base_url: &str, file: &Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(
        ClientOptions {
            base_url: base_url.to_string(),
            organization: None,
            project: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        },
        ApiKey::new(KEY),
    )
    .unwrap();
    let before = vm_hwm_kb();
    let start = Instant::now();
    let uploaded = rt
        .block_on(client.upload_file(file, "fine-tune", None))
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} {} {secs} {before} {}",
        uploaded.id,
        uploaded.bytes,
        vm_hwm_kb()
    );
}

fn write_dataset(path: &Path, size: u64) {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut written = 0u64;
    let mut i = 0u64;
    while written < size {
        let line = format!(
            "{{\"messages\":[{{\"role\":\"system\",\"content\":\"You write in Ada's voice.\"}},{{\"role\":\"user\",\"content\":\"Write paragraph {i} about the walk.\"}},{{\"role\":\"assistant\",\"content\":\"{}\"}}]}}\n",
            "The dog decides the route and I carry the bag. ".repeat(16)
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    out.flush().unwrap();
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os(CHILD_ENV).is_some() {
        child(&args[1], Path::new(&args[2]));
        return;
    }
    // `cargo bench` passes `--bench`; the first number is the size in MB.
    let size_mb: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("big.jsonl");
    let t = Instant::now();
    write_dataset(&file, size_mb * 1_000_000);
    let len = std::fs::metadata(&file).unwrap().len();
    eprintln!(
        "wrote {} ({:.1} MB) in {:.1} s",
        file.display(),
        len as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let server = fake_openai::FakeOpenAi::start(KEY);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(server.base_url())
        .arg(&file)
        .env(CHILD_ENV, "1")
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "the upload child failed");
    let line = out.stdout.lines().next().unwrap().unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (bytes, secs, before_kb, peak_kb): (u64, f64, u64, u64) = (
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap(),
        fields[4].parse().unwrap(),
    );
    let st = server.state.lock().unwrap();
    assert_eq!(st.files.len(), 1);
    assert_eq!(bytes, len);
    let expected = sha256_hex(&file);
    assert_eq!(
        st.files[0].sha256, expected,
        "the server received other bytes"
    );
    drop(st);
    server.assert_no_violations();
    // `-- SIZE cli`: also the whole `voicetune tune` path (lint gate + estimate + upload), to
    // see what the steps before the upload cost in memory.
    if args.iter().any(|a| a == "cli") && Path::new("/usr/bin/time").exists() {
        std::fs::write(
            dir.path().join("voicetune.toml"),
            format!(
                "[remote]\nbase_url = \"{}\"\napi_key_env = \"BENCH_KEY\"\n",
                server.base_url()
            ),
        )
        .unwrap();
        let t = Instant::now();
        let out = std::process::Command::new("/usr/bin/time")
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_voicetune"))
            .args(["tune", "big.jsonl", "--yes", "--detach", "--force"])
            .current_dir(dir.path())
            .env("BENCH_KEY", KEY)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let peak = stderr
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        println!(
            "voicetune tune (lint + estimate + upload + create): {} in {:.1} s, peak RSS {:.1} MB",
            if out.status.success() { "ok" } else { "FAILED" },
            t.elapsed().as_secs_f64(),
            peak / 1024.0
        );
    }
    println!(
        "remote_upload: {:.1} MB uploaded in {secs:.2} s ({:.0} MB/s, includes hashing the file for its name); \
         client peak RSS {:.1} MB (before the upload: {:.1} MB); server got every byte (sha256 {}...)",
        len as f64 / 1e6,
        len as f64 / 1e6 / secs,
        peak_kb as f64 / 1024.0,
        before_kb as f64 / 1024.0,
        &expected[..12]
    );
}
