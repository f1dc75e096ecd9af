//! Remote fine-tuning end to end, against a fake OpenAI API on 127.0.0.1 that validates every
//! request and response against the real OpenAPI spec (`tests/remote/fake_openai.rs`), and a
//! fake Together AI on the same machinery (`tests/remote/fake_together.rs`, tests in
//! `tests/remote/together.rs`).

#[path = "remote/fake_openai.rs"]
mod fake_openai;
#[path = "remote/fake_together.rs"]
mod fake_together;
#[path = "remote/timeouts.rs"]
mod timeouts;
#[path = "remote/together.rs"]
mod together;

use fake_openai::{FakeOpenAi, FaultKind, Spec};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use voicetune::train::jobs::{JobKind, JobStatus, JobStore};
use voicetune::train::remote::{self, RemoteConfig, TuneRequest, Update};
use voicetune::voices::{Registry, Voice};

/// A distinctive key, so that finding it anywhere is unambiguous.
const KEY: &str = "sk-voicetune-test-KEY-7f3a9c21d4e8b650";
/// The variable the in-process tests read the key from (the CLI tests use OPENAI_API_KEY).
const KEY_ENV: &str = "VOICETUNE_TEST_OPENAI_KEY";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/remote")
        .join(name)
}

/// A workspace whose voicetune.toml points at `server`, with the fixtures copied in.
fn workspace(server: &FakeOpenAi) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("voicetune.toml"),
        format!(
            "[remote]\nbase_url = \"{}\"\napi_key_env = \"{KEY_ENV}\"\npoll_interval_secs = 0.01\n\
             retry_base_ms = 20\ntimeout_secs = 2.0\nmax_retries = 4\n",
            server.base_url()
        ),
    )
    .unwrap();
    for f in [
        "train.jsonl",
        "valid.jsonl",
        "dpo.jsonl",
        "broken.jsonl",
        "estimate.jsonl",
    ] {
        std::fs::copy(fixture(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn config(ws: &Path) -> RemoteConfig {
    static ENV: std::sync::Once = std::sync::Once::new();
    // Set once, before any client reads it; std serialises environment access.
    ENV.call_once(|| std::env::set_var(KEY_ENV, KEY));
    RemoteConfig::load(ws).unwrap()
}

fn voicetune(ws: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(args)
        .current_dir(ws)
        .env(KEY_ENV, KEY)
        .env_remove("OPENAI_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn quiet() -> remote::OnUpdate {
    Arc::new(|_: &Update| {})
}

fn request(ws: &Path) -> TuneRequest {
    TuneRequest {
        training: ws.join("train.jsonl"),
        validation: Some(ws.join("valid.jsonl")),
        model: "gpt-4o-mini-2024-07-18".into(),
        suffix: Some("ada".into()),
        voice: Some("ada".into()),
        ..TuneRequest::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_key_nowhere(ws: &Path, outputs: &[&Output]) {
    for o in outputs {
        let t = text(o);
        assert!(!t.contains(KEY), "the API key leaked into the output:\n{t}");
    }
    for f in all_files(ws) {
        let bytes = std::fs::read(&f).unwrap();
        let found = bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes());
        assert!(!found, "the API key was written to {}", f.display());
    }
}

// ---- the fake itself checks the contract ----

#[test]
fn fake_server_rejects_requests_that_break_the_spec() {
    let server = FakeOpenAi::start(KEY);
    let rt = rt();
    let http = reqwest::Client::new();
    let url = server.base_url();
    rt.block_on(async {
        // suffix longer than 64 characters and n_epochs out of range: both break the schema.
        let r = http
            .post(format!("{url}/fine_tuning/jobs"))
            .bearer_auth(KEY)
            .json(&json!({"model": "gpt-4o-mini-2024-07-18", "training_file": "file-1",
                          "suffix": "x".repeat(65),
                          "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 99}}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        // An unknown query parameter and a multipart field the spec does not have.
        let r = http
            .get(format!("{url}/fine_tuning/jobs?colour=blue"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let form = reqwest::multipart::Form::new()
            .text("purpose", "fine-tune")
            .text("colour", "blue")
            .part("file", reqwest::multipart::Part::bytes(b"{}\n".to_vec()).file_name("a.jsonl"));
        let r = http
            .post(format!("{url}/files"))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        // `nullable` from the spec is honoured: a null suffix is valid.
        let form = reqwest::multipart::Form::new()
            .text("purpose", "fine-tune")
            .part("file", reqwest::multipart::Part::bytes(b"{}\n".to_vec()).file_name("a.jsonl"));
        let file: serde_json::Value = http
            .post(format!("{url}/files"))
            .bearer_auth(KEY)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r = http
            .post(format!("{url}/fine_tuning/jobs"))
            .bearer_auth(KEY)
            .json(&json!({"model": "gpt-4o-mini-2024-07-18", "training_file": file["id"], "suffix": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    let v = server.violations();
    assert_eq!(v.len(), 4, "{v:#?}");
    assert!(
        v.iter()
            .any(|v| v.contains("/suffix") && v.contains("longer than 64")),
        "{v:#?}"
    );
    assert!(
        v.iter().any(|v| v.contains("n_epochs") && v.contains("99")),
        "{v:#?}"
    );
    assert!(
        v.iter()
            .any(|v| v.starts_with("GET") && v.contains("`colour` is not in the spec")),
        "{v:#?}"
    );
    assert!(
        v.iter()
            .any(|v| v.starts_with("POST /files") && v.contains("colour")),
        "{v:#?}"
    );
    // And the spec schemas themselves are used, not a copy: a job response from the fake is
    // valid, and missing a required field is not.
    let spec = Spec::get();
    let job = server.state.lock().unwrap().jobs[0].json.clone();
    assert!(spec.check(&Spec::schema("FineTuningJob"), &job).is_ok());
    let mut broken = job.clone();
    broken.as_object_mut().unwrap().remove("status");
    assert!(spec.check(&Spec::schema("FineTuningJob"), &broken).is_err());
}

// ---- happy path ----

#[test]
fn tune_end_to_end_from_the_cli() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let out = voicetune(
        ws.path(),
        &[
            "tune",
            "train.jsonl",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--validation",
            "valid.jsonl",
            "--suffix",
            "ada",
            "--voice",
            "ada",
            "--epochs",
            "2",
            "--yes",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("estimate: 12 examples"), "{}", text(&out));
    assert!(
        stdout.contains("The job has successfully completed"),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains("registered as voice `ada`"),
        "{}",
        text(&out)
    );

    // What the server got: both files, byte for byte, and one job with our parameters.
    let st = server.state.lock().unwrap();
    assert_eq!(st.files.len(), 2);
    assert_eq!(
        st.files[0].content.as_deref(),
        Some(&std::fs::read(fixture("train.jsonl")).unwrap()[..])
    );
    assert_eq!(
        st.files[1].content.as_deref(),
        Some(&std::fs::read(fixture("valid.jsonl")).unwrap()[..])
    );
    assert!(st.files[0].json["filename"]
        .as_str()
        .unwrap()
        .starts_with("train-"));
    assert_eq!(st.jobs.len(), 1);
    let job = &st.jobs[0].json;
    assert_eq!(job["training_file"], st.files[0].json["id"]);
    assert_eq!(job["validation_file"], st.files[1].json["id"]);
    assert_eq!(
        job["method"],
        json!({"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}})
    );
    assert!(
        st.seen.iter().all(|s| s.authorized),
        "every request carried the key"
    );
    let id = job["id"].as_str().unwrap().to_string();
    let model = job["fine_tuned_model"].as_str().unwrap().to_string();
    drop(st);
    server.assert_no_violations();

    // What the workspace records: the job, final, and the voice.
    let saved = JobStore::new(ws.path()).load(&id).unwrap();
    assert_eq!(saved.status, JobStatus::Succeeded);
    assert_eq!(saved.kind, JobKind::Remote);
    assert_eq!(saved.result_model.as_deref(), Some(model.as_str()));
    assert_eq!(saved.progress.percent(), Some(100));
    assert_eq!(
        saved.details["checkpoints"],
        json!([format!("{model}:ckpt-step-3")]),
        "the checkpoints' models are recorded"
    );
    assert!(saved.log.iter().any(|l| l.message.contains("Step 3/3")));
    let voices = Registry::load(ws.path()).unwrap();
    assert_eq!(
        voices.get("ada"),
        Some(&Voice::Remote {
            model: model.clone(),
            base_url: Some(server.base_url()),
            job_id: Some(id.clone()),
            provider: Some("openai".into()),
            api_key_env: None,
        })
    );

    // `jobs list` and `jobs events` show it.
    let list = voicetune(ws.path(), &["jobs", "list"], "");
    assert!(list.status.success(), "{}", text(&list));
    let list_out = String::from_utf8_lossy(&list.stdout);
    assert!(
        list_out.contains(&id) && list_out.contains("succeeded"),
        "{list_out}"
    );
    let remote_list = voicetune(ws.path(), &["jobs", "list", "--remote"], "");
    assert!(remote_list.status.success(), "{}", text(&remote_list));
    assert_eq!(
        String::from_utf8_lossy(&remote_list.stdout).trim(),
        format!("{id}\tsucceeded\tgpt-4o-mini-2024-07-18\t{model}")
    );
    let events = voicetune(ws.path(), &["jobs", "events", &id], "");
    assert!(events.status.success(), "{}", text(&events));
    let events_out = String::from_utf8_lossy(&events.stdout);
    let created = events_out.find("Created fine-tuning job").unwrap();
    let done = events_out.find("successfully completed").unwrap();
    assert!(created < done, "events are oldest first:\n{events_out}");
    // Watching a finished job again reports it and does not bring back a removed voice.
    std::fs::remove_file(voicetune::voices::registry_path(ws.path())).unwrap();
    let watch = voicetune(ws.path(), &["jobs", "watch", &id], "");
    assert!(watch.status.success(), "{}", text(&watch));
    assert!(String::from_utf8_lossy(&watch.stdout).contains("succeeded"));
    assert!(Registry::load(ws.path()).unwrap().voices.is_empty());
    assert_key_nowhere(ws.path(), &[&out, &list, &remote_list, &events, &watch]);
    server.assert_no_violations();
}

#[test]
fn remote_voice_answers_completions() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    let job = rt
        .block_on(remote::follow(ws.path(), &cfg, &job.id, quiet()))
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);

    let voices = Registry::load(ws.path()).unwrap();
    let voice = voices.get("ada").unwrap();
    let backend = voicetune::infer::remote::RemoteVoice::from_voice(&cfg, voice).unwrap();
    let options = voicetune::infer::remote::CompletionOptions {
        system: Some("You write in Ada's voice.".into()),
        max_tokens: Some(64),
        temperature: Some(0.7),
        stop: vec!["\n\n".into()],
        ..Default::default()
    };
    server.fault("POST", "/chat/completions", FaultKind::ServerError);
    let completion = rt
        .block_on(backend.complete("The walk this morning was", &options))
        .unwrap();
    assert_eq!(
        completion.text,
        fake_openai::completion_for(backend.model(), "The walk this morning was")
    );
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));

    // Streamed: the same text, in pieces, with a failure before the stream retried.
    server.fault(
        "POST",
        "/chat/completions",
        FaultKind::RateLimit {
            retry_after_secs: 1,
        },
    );
    let mut pieces = Vec::new();
    let streamed = rt
        .block_on(
            backend.complete_streaming("The walk this morning was", &options, |d| {
                pieces.push(d.to_string())
            }),
        )
        .unwrap();
    assert_eq!(streamed, completion);
    assert!(pieces.len() > 3, "{pieces:?}");
    assert_eq!(pieces.concat(), completion.text);

    // An unknown model is a 404 whose message is the API's own.
    let missing = voicetune::infer::remote::RemoteVoice::new(cfg.client(None).unwrap(), "ft:nope");
    let err = rt
        .block_on(missing.complete("hi", &options))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("404") && err.contains("The model `ft:nope` does not exist"),
        "{err}"
    );
    let err = rt
        .block_on(missing.complete_streaming("hi", &options, |_| {}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("404") && err.contains("does not exist"),
        "{err}"
    );
    server.assert_no_violations();
}

#[test]
fn dpo_jobs_send_their_hyperparameters() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let out = voicetune(
        ws.path(),
        &[
            "tune",
            "dpo.jsonl",
            "--method",
            "dpo",
            "--beta",
            "0.2",
            "--batch-size",
            "4",
            "--learning-rate-multiplier",
            "0.5",
            "--seed",
            "7",
            "--yes",
            "--detach",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let st = server.state.lock().unwrap();
    let job = &st.jobs[0].json;
    assert_eq!(
        job["model"], "gpt-4o-mini-2024-07-18",
        "the configured default model"
    );
    assert_eq!(job["seed"], 7);
    assert_eq!(
        job["method"],
        json!({"type": "dpo", "dpo": {"hyperparameters": {"batch_size": 4, "learning_rate_multiplier": 0.5, "beta": 0.2}}})
    );
    drop(st);
    server.assert_no_violations();
}

// ---- confirmation and the lint gate ----

#[test]
fn out_of_range_parameters_are_refused_before_any_upload() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    for (args, message) in [
        (&["--epochs", "51"][..], "epochs must be 1 to 50"),
        (&["--batch-size", "0"][..], "batch size must be 1 to 256"),
        (
            &["--learning-rate-multiplier", "0"][..],
            "learning rate multiplier must be above 0",
        ),
        (
            &["--method", "dpo", "--beta", "2.5"][..],
            "beta must be above 0 and at most 2",
        ),
        (&["--beta", "0.5"][..], "beta only applies to --method dpo"),
        (
            &["--suffix", &"s".repeat(65)][..],
            "suffix must be 1 to 64 characters",
        ),
        (
            &["--seed", "2147483648"][..],
            "seed must be 0 to 2147483647",
        ),
    ] {
        let mut all = vec!["tune", "train.jsonl", "--yes"];
        all.extend_from_slice(args);
        let out = voicetune(ws.path(), &all, "");
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert!(server.state.lock().unwrap().seen.is_empty());
}

#[test]
fn nothing_is_sent_without_confirmation() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let no = voicetune(ws.path(), &["tune", "train.jsonl"], "n\n");
    assert!(!no.status.success(), "{}", text(&no));
    let stderr = String::from_utf8_lossy(&no.stderr);
    assert!(stderr.contains("Start fine-tune ($"), "{}", text(&no));
    assert!(stderr.contains("nothing was uploaded"), "{}", text(&no));
    assert!(server.state.lock().unwrap().seen.is_empty());
    assert!(JobStore::new(ws.path()).list().unwrap().is_empty());

    let yes = voicetune(ws.path(), &["tune", "train.jsonl", "--detach"], "y\n");
    assert!(yes.status.success(), "{}", text(&yes));
    assert_eq!(server.state.lock().unwrap().jobs.len(), 1);
    server.assert_no_violations();
}

#[test]
fn lint_errors_block_the_upload() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let out = voicetune(ws.path(), &["tune", "broken.jsonl", "--yes"], "");
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.jsonl:5:"),
        "the finding names file and line:\n{stderr}"
    );
    assert!(stderr.contains("Nothing was uploaded"), "{stderr}");
    assert!(
        server.state.lock().unwrap().seen.is_empty(),
        "not a single request"
    );
    assert!(JobStore::new(ws.path()).list().unwrap().is_empty());

    // A bad validation file blocks too.
    let out = voicetune(
        ws.path(),
        &[
            "tune",
            "train.jsonl",
            "--validation",
            "broken.jsonl",
            "--yes",
        ],
        "",
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(server.state.lock().unwrap().seen.is_empty());

    // --force overrides the gate (the fake accepts the file as it is).
    let out = voicetune(
        ws.path(),
        &["tune", "broken.jsonl", "--yes", "--force", "--detach"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(server.state.lock().unwrap().files.len(), 1);
}

#[test]
fn cost_estimate_matches_a_hand_computed_value() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    // estimate.jsonl: 10 examples of one user and one assistant message, each a one-token word
    // ("Hello" / "Yes", ...). OpenAI counts 3 tokens per message + its role (1) + its content
    // (1), and 3 more to prime the reply: 2 x 5 + 3 = 13 tokens an example, 130 in all.
    // 10 examples -> "auto" epochs = 100 / 10 = 10. gpt-4o-2024-08-06 trains at $25 per 1M:
    // 130 x 10 x 25 / 1,000,000 = $0.0325.
    let mut req = request(ws.path());
    req.training = ws.path().join("estimate.jsonl");
    req.validation = None;
    req.model = "gpt-4o-2024-08-06".into();
    let plan = remote::plan(&cfg, req.clone()).unwrap();
    let e = &plan.estimate;
    assert_eq!((e.examples, e.billed_tokens, e.epochs), (10, 130, 10));
    assert!(e.epochs_auto);
    assert_eq!(e.price_per_million, 25.0);
    assert!((e.cost_usd - 0.0325).abs() < 1e-12, "{}", e.cost_usd);
    assert_eq!(plan.confirm_title(), "Start fine-tune ($0.03)");
    // Explicit epochs replace OpenAI's choice: 130 x 3 x 25 / 1M = $0.00975.
    req.hyperparameters.n_epochs = Some(remote::api::Auto::Value(3));
    let e = remote::plan(&cfg, req).unwrap().estimate;
    assert_eq!((e.epochs, e.epochs_auto), (3, false));
    assert!((e.cost_usd - 0.00975).abs() < 1e-12, "{}", e.cost_usd);

    // The CLI shows the same before asking, and sends nothing when told no.
    let out = voicetune(
        ws.path(),
        &["tune", "estimate.jsonl", "--model", "gpt-4o-2024-08-06"],
        "no\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("10 examples, 130 billed tokens x 10 epoch(s) (auto) x $25/1M tokens (gpt-4o-2024-08-06) = $0.03"),
        "{stderr}"
    );
    assert!(stderr.contains("Start fine-tune ($0.03)?"), "{stderr}");
    assert!(server.state.lock().unwrap().seen.is_empty());

    // A model without a known price cannot be estimated, so it is refused before any upload.
    let out = voicetune(
        ws.path(),
        &["tune", "estimate.jsonl", "--model", "my-model", "--yes"],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no training price known for model `my-model`"));
    assert!(server.state.lock().unwrap().seen.is_empty());
}

// ---- faults ----

#[test]
fn rate_limit_waits_for_retry_after_and_creates_one_job() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    server.fault(
        "POST",
        "/fine_tuning/jobs",
        FaultKind::RateLimit {
            retry_after_secs: 1,
        },
    );
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    let st = server.state.lock().unwrap();
    let creates: Vec<_> = st
        .seen
        .iter()
        .filter(|s| s.method == "POST" && s.path == "/fine_tuning/jobs")
        .collect();
    assert_eq!(creates.len(), 2, "{creates:#?}");
    assert_eq!(creates[0].status, 429);
    assert_eq!(creates[1].status, 200);
    // Retry-After: 1 was honoured, although our own backoff starts at 20 ms.
    assert!(creates[1].at - creates[0].at >= Duration::from_secs(1));
    assert_eq!(st.jobs.len(), 1);
    assert_eq!(st.jobs[0].json["id"], json!(job.id));
    drop(st);
    server.assert_no_violations();
}

#[test]
fn server_errors_drops_and_slow_answers_are_retried() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    // One of each on the reads a follow makes, and on the upload.
    server.fault("POST", "/files", FaultKind::ServerError);
    server.fault("POST", "/files", FaultKind::Drop);
    server.fault("GET", "/fine_tuning/jobs/", FaultKind::ServerError);
    server.fault("GET", "/fine_tuning/jobs/", FaultKind::Drop);
    server.fault(
        "GET",
        "/fine_tuning/jobs/",
        FaultKind::Slow(Duration::from_secs(4)),
    );
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    let job = rt
        .block_on(remote::follow(ws.path(), &cfg, &job.id, quiet()))
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    let st = server.state.lock().unwrap();
    assert!(st.faults.is_empty(), "every fault was hit");
    let faults: Vec<_> = st.seen.iter().filter_map(|s| s.fault.clone()).collect();
    assert_eq!(faults.len(), 5, "{faults:?}");
    assert_eq!(
        st.files.len(),
        2,
        "the 500'd upload was not stored, the retry was"
    );
    assert_eq!(st.jobs.len(), 1);
    drop(st);
    server.assert_no_violations();
}

#[test]
fn an_outage_longer_than_the_retries_does_not_end_a_follow() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    // 12 dropped connections in a row: more than one call's 4 retries.
    for _ in 0..12 {
        server.fault("GET", "/fine_tuning/jobs/", FaultKind::Drop);
    }
    let warnings = Arc::new(std::sync::Mutex::new(0));
    let w = warnings.clone();
    let on_update: remote::OnUpdate = Arc::new(move |u: &Update| {
        if let Update::Event { entry, .. } = u {
            if entry.level == "warn" && entry.message.starts_with("polling failed") {
                *w.lock().unwrap() += 1;
            }
        }
    });
    let job = rt
        .block_on(remote::follow(ws.path(), &cfg, &job.id, on_update))
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert!(*warnings.lock().unwrap() >= 2);
    assert!(server.state.lock().unwrap().faults.is_empty());
    server.assert_no_violations();
}

#[test]
fn lost_answers_to_creates_do_not_create_twice() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    // The server stores the upload and creates the job, but the answers never arrive: one
    // connection drops, the other answers after the client's 2 s timeout.
    server.fault("POST", "/files", FaultKind::DropAfterProcessing);
    server.fault(
        "POST",
        "/fine_tuning/jobs",
        FaultKind::Slow(Duration::from_secs(4)),
    );
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    let st = server.state.lock().unwrap();
    assert_eq!(
        st.files.len(),
        2,
        "train uploaded once (found again by name), valid once"
    );
    assert_eq!(st.requests("POST", "/files"), 2);
    assert_eq!(
        st.jobs.len(),
        1,
        "the job was found by its metadata tag, not recreated"
    );
    assert_eq!(st.requests("POST", "/fine_tuning/jobs"), 1);
    assert_eq!(st.jobs[0].json["id"], json!(job.id));
    drop(st);

    // Tuning the same file again reuses the uploads (same content, same name).
    let again = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    assert_ne!(again.id, job.id);
    let st = server.state.lock().unwrap();
    assert_eq!(st.files.len(), 2);
    assert_eq!(st.requests("POST", "/files"), 2);
    drop(st);
    server.assert_no_violations();
}

#[test]
fn api_errors_are_shown_with_the_apis_message_and_not_retried() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    let rt = rt();
    let mut req = request(ws.path());
    // A model we can price but the service does not fine-tune.
    req.model = "gpt-4.1-nano-2025-04-14".into();
    let plan = remote::plan(&cfg, req).unwrap();
    let err = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("400")
            && err.contains("Model gpt-4.1-nano-2025-04-14 is not available for fine-tuning"),
        "{err}"
    );
    assert_eq!(
        server
            .state
            .lock()
            .unwrap()
            .requests("POST", "/fine_tuning/jobs"),
        1
    );
    assert!(JobStore::new(ws.path()).list().unwrap().is_empty());
    server.assert_no_violations();
}

#[test]
fn a_wrong_key_is_reported_without_showing_the_key() {
    let server = FakeOpenAi::start("sk-the-right-one");
    let ws = workspace(&server);
    let out = voicetune(ws.path(), &["tune", "train.jsonl", "--yes"], "");
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("401") && stderr.contains("Incorrect API key provided: [redacted]"),
        "{stderr}"
    );
    assert_eq!(
        server.state.lock().unwrap().seen.len(),
        1,
        "401 is not retried"
    );
    assert_key_nowhere(ws.path(), &[&out]);

    // No key at all: a clear message naming the variable, and nothing sent.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voicetune"));
    let out = cmd
        .args(["tune", "train.jsonl", "--yes"])
        .current_dir(ws.path())
        .env_remove(KEY_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(KEY_ENV),
        "{}",
        text(&out)
    );
    assert_eq!(server.state.lock().unwrap().seen.len(), 1);
}

// ---- cancel, failure, restart ----

#[test]
fn cancel_from_the_cli() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let out = voicetune(ws.path(), &["tune", "train.jsonl", "--yes", "--detach"], "");
    assert!(out.status.success(), "{}", text(&out));
    let id = JobStore::new(ws.path()).list().unwrap()[0].id.clone();
    let cancel = voicetune(ws.path(), &["jobs", "cancel", &id], "");
    assert!(cancel.status.success(), "{}", text(&cancel));
    assert!(String::from_utf8_lossy(&cancel.stdout).contains("cancelled"));
    assert_eq!(
        JobStore::new(ws.path()).load(&id).unwrap().status,
        JobStatus::Cancelled
    );
    assert_eq!(
        server.state.lock().unwrap().jobs[0].json["status"],
        "cancelled"
    );
    // Cancelling again is not an error; watching a cancelled job ends at once, unsuccessfully.
    let again = voicetune(ws.path(), &["jobs", "cancel", &id], "");
    assert!(again.status.success(), "{}", text(&again));
    let watch = voicetune(ws.path(), &["jobs", "watch", &id], "");
    assert!(!watch.status.success());
    assert!(
        String::from_utf8_lossy(&watch.stderr).contains("cancelled"),
        "{}",
        text(&watch)
    );
    assert!(Registry::load(ws.path()).unwrap().voices.is_empty());
    server.assert_no_violations();
}

#[test]
fn a_failed_job_reports_the_apis_reason() {
    let server = FakeOpenAi::start(KEY);
    server.state.lock().unwrap().fail_jobs = true;
    let ws = workspace(&server);
    let out = voicetune(ws.path(), &["tune", "train.jsonl", "--yes"], "");
    assert!(!out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "failed: The job failed due to an invalid training file. (invalid_training_file)"
        ),
        "{stderr}"
    );
    let job = &JobStore::new(ws.path()).list().unwrap()[0];
    assert_eq!(job.status, JobStatus::Failed);
    assert!(Registry::load(ws.path()).unwrap().voices.is_empty());
    server.assert_no_violations();
}

#[test]
fn a_killed_cli_resumes_with_jobs_watch() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    // Slow polling so the job is still running when we kill the CLI.
    let toml = std::fs::read_to_string(ws.path().join("voicetune.toml")).unwrap();
    std::fs::write(
        ws.path().join("voicetune.toml"),
        toml.replace("poll_interval_secs = 0.01", "poll_interval_secs = 30"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["tune", "train.jsonl", "--yes", "--voice", "resumed"])
        .current_dir(ws.path())
        .env(KEY_ENV, KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let store = JobStore::new(ws.path());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let id = loop {
        if let Some(job) = store.list().unwrap().into_iter().next() {
            break job.id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job was never persisted"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!store.load(&id).unwrap().status.is_terminal());

    // Back to fast polling; `jobs watch` picks the job up where it was.
    std::fs::write(ws.path().join("voicetune.toml"), &toml).unwrap();
    let watch = voicetune(ws.path(), &["jobs", "watch", &id], "");
    assert!(watch.status.success(), "{}", text(&watch));
    let job = store.load(&id).unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(
        Registry::load(ws.path())
            .unwrap()
            .get("resumed")
            .map(|v| matches!(v, Voice::Remote { .. })),
        Some(true)
    );
    let st = server.state.lock().unwrap();
    assert_eq!(st.jobs.len(), 1);
    assert_eq!(st.files.len(), 1);
    drop(st);
    server.assert_no_violations();
}

#[test]
fn a_restarted_server_resumes_every_active_job() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let mut plan_b = plan.clone();
    plan_b.request.voice = Some("second".into());
    let a = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    let b = rt
        .block_on(remote::start(ws.path(), &cfg, &plan_b, quiet()))
        .unwrap();
    // "Restart": nothing in memory, only the workspace.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let on_update: remote::OnUpdate = Arc::new(move |u: &Update| {
        if let Update::Finished(job) = u {
            s.lock().unwrap().push(job.id.clone());
        }
    });
    let results = rt
        .block_on(remote::resume_all(ws.path(), &cfg, on_update))
        .unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r.unwrap().status, JobStatus::Succeeded);
    }
    let mut finished = seen.lock().unwrap().clone();
    finished.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(finished, expected);
    let voices = Registry::load(ws.path()).unwrap();
    assert!(voices.get("ada").is_some() && voices.get("second").is_some());
    // Nothing left to resume.
    assert!(JobStore::new(ws.path()).active(None).unwrap().is_empty());
    server.assert_no_violations();
}

#[test]
fn events_and_checkpoints_page_newest_first_and_read_oldest_first() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    let rt = rt();
    let plan = remote::plan(&cfg, request(ws.path())).unwrap();
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
        .unwrap();
    let job = rt
        .block_on(remote::follow(ws.path(), &cfg, &job.id, quiet()))
        .unwrap();
    let client = cfg.client(None).unwrap();
    // Page by 2 through the events with the API's cursor; the pages hold every event once.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = rt
            .block_on(client.list_events(&job.id, after.as_deref(), 2))
            .unwrap();
        assert!(page.data.len() <= 2);
        paged.extend(page.data.iter().map(|e| e.id.clone()));
        match (page.has_more, page.data.last()) {
            (true, Some(last)) => after = Some(last.id.clone()),
            _ => break,
        }
    }
    let all = rt.block_on(client.new_events(&job.id, None)).unwrap();
    let mut oldest_first = paged.clone();
    oldest_first.reverse();
    assert_eq!(
        all.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        oldest_first
    );
    assert!(all.len() > 5);
    // Only what is newer than a seen event.
    let newer = rt
        .block_on(client.new_events(&job.id, Some(&all[2].id)))
        .unwrap();
    assert_eq!(newer, all[3..].to_vec());
    // The job log holds the same events, in the same order.
    let logged: Vec<&str> = job.log.iter().map(|l| l.message.as_str()).collect();
    let messages: Vec<&str> = all.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(logged, messages);
    let checkpoints = rt.block_on(client.list_checkpoints(&job.id)).unwrap();
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0].step_number, 3);
    server.assert_no_violations();
}

#[test]
fn library_api_for_the_server_confirms_then_reports_progress() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let cfg = config(ws.path());
    let rt = rt();
    // Declined: nothing is sent, no job.
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let a = asked.clone();
    let declined = rt
        .block_on(remote::tune(
            ws.path(),
            &cfg,
            request(ws.path()),
            move |plan| {
                a.lock()
                    .unwrap()
                    .push((plan.confirm_title(), plan.confirm_message()));
                async move { (false, plan) }
            },
            quiet(),
        ))
        .unwrap();
    assert!(declined.is_none());
    assert!(server.state.lock().unwrap().seen.is_empty());
    let (title, message) = asked.lock().unwrap()[0].clone();
    assert!(
        title.starts_with("Start fine-tune ($") && title.ends_with(')'),
        "{title}"
    );
    assert!(
        message.starts_with("Fine-tune train.jsonl on gpt-4o-mini-2024-07-18: 12 examples"),
        "{message}"
    );

    // Accepted: uploads, creates, and reports every step in order.
    let updates = Arc::new(std::sync::Mutex::new(Vec::new()));
    let u = updates.clone();
    let on_update: remote::OnUpdate = Arc::new(move |update: &Update| {
        let label = match update {
            Update::Uploading { sent, total, .. } if sent == total => "uploaded-all".to_string(),
            Update::Uploading { .. } => return,
            Update::Uploaded { .. } => "uploaded".into(),
            Update::Created(job) => format!("created {}", job.status),
            Update::Event { .. } => "event".into(),
            Update::Changed(job) => format!("changed {} {:?}", job.status, job.progress.percent()),
            Update::Finished(job) => format!("finished {}", job.status),
            Update::Waiting(line) => format!("waiting {line}"),
        };
        u.lock().unwrap().push(label);
    });
    let job = rt
        .block_on(remote::tune(
            ws.path(),
            &cfg,
            request(ws.path()),
            |plan| async move { (true, plan) },
            on_update.clone(),
        ))
        .unwrap()
        .expect("confirmed");
    rt.block_on(remote::follow(ws.path(), &cfg, &job.id, on_update))
        .unwrap();
    let updates = updates.lock().unwrap().clone();
    let steps: Vec<&str> = updates
        .iter()
        .filter(|u| *u != "event")
        .map(String::as_str)
        .collect();
    assert_eq!(
        steps,
        [
            "uploaded-all",
            "uploaded",
            "uploaded-all",
            "uploaded",
            "created validating",
            "changed queued None",
            "changed running None",
            "changed running Some(33)",
            "changed running Some(66)",
            "changed succeeded Some(100)",
            "finished succeeded",
        ]
    );
    assert!(updates.iter().filter(|u| *u == "event").count() >= 6);
    server.assert_no_violations();
}

#[test]
fn jobs_watch_follows_a_local_job_through_its_file() {
    // The registry is shared with the local trainer: a job of kind local is followed by
    // re-reading its file, which the trainer's process updates.
    let ws = tempfile::tempdir().unwrap();
    let store = JobStore::new(ws.path());
    let mut job = voicetune::train::jobs::Job::new("local-1", JobKind::Local, "base.gguf");
    job.set_status(JobStatus::Running).unwrap();
    job.push_log(1, "info", "epoch 1 started");
    store.save(&job).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["jobs", "watch", "local-1"])
        .current_dir(ws.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    job.push_log(2, "info", "epoch 1 done, loss 1.9");
    job.result_model = Some("adapters/local-1".into());
    job.set_status(JobStatus::Succeeded).unwrap();
    store.save(&job).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("epoch 1 started") && stdout.contains("epoch 1 done, loss 1.9"),
        "{stdout}"
    );
    assert!(
        stdout.contains("job local-1 succeeded: model adapters/local-1"),
        "{stdout}"
    );
    let list = voicetune(ws.path(), &["jobs"], "");
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("local-1\tlocal\tsucceeded"),
        "{}",
        text(&list)
    );
}

#[test]
fn without_a_config_the_defaults_and_the_current_folder_are_used() {
    let server = FakeOpenAi::start(KEY);
    // No voicetune.toml anywhere above: the default key variable, OPENAI_BASE_URL, and the
    // current folder as the workspace (not the dataset's folder), so `jobs` finds the job.
    let ws = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::create_dir(ws.path().join("data")).unwrap();
    std::fs::copy(fixture("train.jsonl"), ws.path().join("data/train.jsonl")).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_voicetune"))
            .args(args)
            .current_dir(ws.path())
            .env("OPENAI_API_KEY", KEY)
            .env("OPENAI_BASE_URL", server.base_url())
            .output()
            .unwrap()
    };
    let out = run(&["tune", "data/train.jsonl", "--yes", "--detach"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(ws.path().join(".voicetune/jobs").is_dir());
    assert!(!ws.path().join("data/.voicetune").exists());
    let list = run(&["jobs"]);
    let id = server.state.lock().unwrap().jobs[0].json["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        String::from_utf8_lossy(&list.stdout).contains(&id),
        "{}",
        text(&list)
    );
    assert_key_nowhere(ws.path(), &[&out, &list]);
    server.assert_no_violations();
}

#[test]
fn base_url_comes_from_openai_base_url_when_the_config_has_none() {
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    std::fs::write(
        ws.path().join("voicetune.toml"),
        format!("[remote]\napi_key_env = \"{KEY_ENV}\"\norganization = \"org-ada\"\nproject = \"proj-1\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["tune", "train.jsonl", "--yes", "--detach"])
        .current_dir(ws.path())
        .env(KEY_ENV, KEY)
        .env("OPENAI_BASE_URL", server.base_url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let st = server.state.lock().unwrap();
    assert_eq!(st.jobs.len(), 1);
    let headers = &st.seen.last().unwrap().headers;
    assert_eq!(
        headers.get("openai-organization").map(String::as_str),
        Some("org-ada")
    );
    assert_eq!(
        headers.get("openai-project").map(String::as_str),
        Some("proj-1")
    );
}

/// The bake-off with remote voices: a fine-tuned model on the configured endpoint and an
/// OpenAI-compatible endpoint of its own, both answering through the fake with the same seed
/// and sampling; cost from the price table, no perplexity, a complete report.
#[test]
fn compare_runs_remote_voices_through_the_api() {
    use std::sync::atomic::AtomicBool;
    use voicetune::compare::{compare, CompareRequest};
    let server = FakeOpenAi::start(KEY);
    let ws = workspace(&server);
    let _ = config(ws.path());
    let remote = |model: &str, base_url: Option<String>| Voice::Remote {
        model: model.into(),
        base_url,
        job_id: None,
        provider: None,
        api_key_env: None,
    };
    Registry::register(ws.path(), "mini", remote("gpt-4o-mini-2024-07-18", None)).unwrap();
    Registry::register(
        ws.path(),
        "compat",
        remote("gpt-4.1-mini-2025-04-14", Some(server.base_url())),
    )
    .unwrap();
    let heldout = ws.path().join("heldout.jsonl");
    let lines: Vec<String> = [
        "The canal path in January",
        "Bread without a recipe",
        "Sharpening a chisel 🔪 (研ぐ)",
    ]
    .iter()
    .map(|title| {
        json!({"messages": [
            {"role": "system", "content": "You write like the author."},
            {"role": "user", "content": format!("Write a blog post titled \"{title}\".")},
            {"role": "assistant", "content": format!("{title}: a real post by the author, with several words in it.")},
        ]})
        .to_string()
    })
    .collect();
    std::fs::write(&heldout, lines.join("\n") + "\n").unwrap();
    let mut request = CompareRequest::new(
        ws.path().to_path_buf(),
        vec!["mini".into(), "compat".into()],
        heldout,
        ws.path().join("out/report.html"),
    );
    request.sampling.seed = 7;
    request.sampling.max_tokens = 32;
    let chat_requests = || {
        server
            .state
            .lock()
            .unwrap()
            .requests("POST", "/chat/completions")
    };
    let mut steps = Vec::new();
    let report = compare(&request, &AtomicBool::new(false), &mut |s| steps.push(s)).unwrap();
    server.assert_no_violations();
    assert_eq!(chat_requests(), 6);
    assert_eq!(steps.last().map(|s| s.percent), Some(100), "{steps:?}");
    for (v, model, usd) in [
        (0, "gpt-4o-mini-2024-07-18", 1.2),
        (1, "gpt-4.1-mini-2025-04-14", 3.2),
    ] {
        let voice = &report.voices[v];
        assert!(
            voice.perplexity.is_none(),
            "no log probabilities from chat completions"
        );
        assert_eq!(voice.usd_per_1000_tokens, Some(usd / 1000.0));
        assert!(voice.generated_tokens > 0 && voice.tokens_per_sec > 0.0);
        for (row, line) in report.rows.iter().zip(&lines) {
            let question: serde_json::Value = serde_json::from_str(line).unwrap();
            let asked = question["messages"][1]["content"].as_str().unwrap();
            assert_eq!(
                row.answers[v].output.text,
                fake_openai::completion_for(model, asked)
            );
            assert_eq!(row.answers[v].output.finish, "stop");
        }
    }
    for path in [
        request.output.clone(),
        request.markdown_path(),
        request.json_path(),
    ] {
        assert!(path.is_file(), "{}", path.display());
    }
    let html = std::fs::read_to_string(&request.output).unwrap();
    assert!(html.contains("🔪 (研ぐ)") && html.contains("<svg id=\"chart\""));

    // The command line: the same run, the summary table on stdout, the files beside -o.
    let cli = voicetune(
        ws.path(),
        &[
            "compare",
            "--voices",
            "mini,compat",
            "heldout.jsonl",
            "--max-tokens",
            "32",
            "-o",
            "cli/r.html",
        ],
        "",
    );
    assert!(cli.status.success(), "{}", text(&cli));
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        stdout.contains("cosine Delta") && stdout.contains("compat") && stdout.contains("$0.0012"),
        "{}",
        text(&cli)
    );
    for ext in ["html", "md", "json"] {
        assert!(
            ws.path().join("cli/r").with_extension(ext).is_file(),
            "{ext}"
        );
    }

    // Cancelled before it starts: nothing is asked of the API.
    let before = chat_requests();
    let err = compare(&request, &AtomicBool::new(true), &mut |_| {}).unwrap_err();
    assert_eq!(err.to_string(), "cancelled");
    assert_eq!(chat_requests(), before);

    // An unknown voice is named, with what to do.
    request.voices = vec!["nobody".into()];
    let err = compare(&request, &AtomicBool::new(false), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no voice named `nobody`") && err.contains("voicetune train"),
        "{err}"
    );
}
