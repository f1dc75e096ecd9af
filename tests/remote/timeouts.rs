//! An API that accepts the connection and never answers (issue 17, item 9): each call gives up
//! after its own time limit, and every retry says that the command is waiting for the API.

use super::{fixture, text, voicetune};
use std::net::TcpListener;
use std::path::Path;

/// A server that accepts every connection and never reads or writes; its base URL.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    format!("http://127.0.0.1:{port}/v1")
}

/// A workspace pointed at `base_url`, with short limits so the test is quick. A limit that
/// was not applied would leave a call waiting for `timeout_secs` (10 minutes).
fn workspace(base_url: &str, call_timeout_secs: f64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("voicetune.toml"),
        format!(
            "[remote]\nbase_url = \"{base_url}\"\napi_key_env = \"{}\"\nretry_base_ms = 10\n\
             max_retries = 2\nmetadata_timeout_secs = 0.2\nconnect_timeout_secs = 1.0\n\
             timeout_secs = {call_timeout_secs}\n",
            super::KEY_ENV
        ),
    )
    .unwrap();
    std::fs::copy(fixture("train.jsonl"), dir.path().join("train.jsonl")).unwrap();
    dir
}

fn assert_waited_and_gave_up(ws: &Path, args: &[&str]) {
    let out = voicetune(ws, args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out));
    for attempt in [1, 2] {
        assert!(
            stderr.contains(&format!(
                "waiting for the API (attempt {attempt} failed, retry in"
            )),
            "{}",
            text(&out)
        );
    }
    assert!(stderr.contains("timed out"), "{}", text(&out));
}

#[test]
fn metadata_calls_time_out_in_their_own_limit_and_say_they_wait() {
    let ws = workspace(&silent_server(), 600.0);
    assert_waited_and_gave_up(ws.path(), &["jobs", "list", "--remote"]);
}

#[test]
fn tune_against_a_silent_api_says_it_waits_and_gives_up() {
    let ws = workspace(&silent_server(), 0.3);
    assert_waited_and_gave_up(
        ws.path(),
        &[
            "tune",
            "train.jsonl",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--yes",
        ],
    );
}

#[test]
fn default_limits_are_seconds_for_metadata() {
    let defaults = voicetune::openai::Timeouts::default();
    assert!(defaults.connect.as_secs() <= 10 && defaults.metadata.as_secs() <= 15);
    let config = voicetune::openai::RemoteConfig::default();
    assert_eq!(
        (config.connect_timeout_secs, config.metadata_timeout_secs),
        (10.0, 15.0)
    );
}
