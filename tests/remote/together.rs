//! Fine-tuning on Together AI end to end, against `fake_together.rs` (every request and answer
//! validated against Together's vendored spec): the CLI's happy path with both estimates, the
//! resulting remote voice and the downloaded adapter as a local voice; faults; cancel;
//! restart-and-resume; the model's limits enforced before upload; the key kept out of every
//! output and file.

use super::fake_openai::{FakeOpenAi, FaultKind};
use super::fake_together::{self, BIG_MODEL, LOCAL_MODEL, MAX_SEQ_LENGTH};
use super::{all_files, assert_key_nowhere, fixture, rt, text, KEY};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use voicetune::config::Provider;
use voicetune::train::jobs::{JobStatus, JobStore};
use voicetune::train::remote::{self, RemoteConfig, TuneRequest, Update};
use voicetune::voices::{Registry, Voice};

/// The variable the Together key is read from in these tests (not OpenAI's).
const TOGETHER_KEY_ENV: &str = "VOICETUNE_TEST_TOGETHER_KEY";

/// A workspace whose voicetune.toml sends fine-tunes to the fake Together at `server`.
fn workspace(server: &FakeOpenAi, model: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("voicetune.toml"),
        format!(
            "provider = \"together\"\n\
             [remote]\npoll_interval_secs = 0.01\nretry_base_ms = 20\ntimeout_secs = 2.0\n\
             metadata_timeout_secs = 1.0\nmax_retries = 4\n\
             [together]\nbase_url = \"{}\"\napi_key_env = \"{TOGETHER_KEY_ENV}\"\nmodel = \"{model}\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    for f in ["train.jsonl", "valid.jsonl"] {
        std::fs::copy(fixture(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn config(ws: &Path) -> RemoteConfig {
    static ENV: std::sync::Once = std::sync::Once::new();
    ENV.call_once(|| std::env::set_var(TOGETHER_KEY_ENV, KEY));
    RemoteConfig::load(ws).unwrap()
}

fn voicetune(ws: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(args)
        .current_dir(ws)
        .env(TOGETHER_KEY_ENV, KEY)
        .env_remove("TOGETHER_BASE_URL")
        .env_remove("TOGETHER_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn quiet() -> remote::OnUpdate {
    Arc::new(|_: &Update| {})
}

fn request(ws: &Path, voice: &str) -> TuneRequest {
    TuneRequest {
        training: ws.join("train.jsonl"),
        suffix: Some(voice.into()),
        voice: Some(voice.into()),
        provider: Some(Provider::Together),
        ..TuneRequest::default()
    }
}

#[test]
fn the_together_fake_checks_requests_against_its_spec() {
    let server = fake_together::start(KEY);
    let http = reqwest::Client::new();
    let url = server.base_url();
    let status = rt().block_on(async {
        // `model` is required by the spec.
        http.post(format!("{url}/fine-tunes"))
            .bearer_auth(KEY)
            .json(&json!({"training_file": "file-1"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 400);
    let violations = server.violations();
    assert!(
        violations.iter().any(|v| v.contains("model")),
        "{violations:?}"
    );
}

#[test]
fn tune_on_together_from_the_cli_then_use_and_download_the_voice() {
    let server = fake_together::start(KEY);
    let ws = workspace(&server, LOCAL_MODEL);

    let models = voicetune(ws.path(), &["tune", "--list-models"]);
    assert!(models.status.success(), "{}", text(&models));
    assert_eq!(
        String::from_utf8_lossy(&models.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [LOCAL_MODEL, BIG_MODEL]
    );

    let out = voicetune(
        ws.path(),
        &[
            "tune",
            "train.jsonl",
            "--validation",
            "valid.jsonl",
            "--voice",
            "ada",
            "--suffix",
            "ada",
            "--epochs",
            "2",
            "--lora-r",
            "8",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Our estimate (no price of ours configured) beside Together's, with where they differ.
    assert!(
        stderr.contains("estimate: 12 examples") && stderr.contains("x 2 epoch(s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Together's estimate: $") && stderr.contains("; ours: "),
        "{stderr}"
    );
    assert!(stderr.contains("Together counts"), "{stderr}");

    let store = JobStore::new(ws.path());
    let jobs = store.list().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.provider, Some(Provider::Together));
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.progress.step, Some(3));
    assert!(job.log.iter().any(|l| l.message.contains("step 3 of 3")));
    assert_eq!(job.details["checkpoints"], json!(["1", "2", "3"]));
    let model = job.result_model.clone().unwrap();
    assert!(model.contains("SmolLM2-135M-Instruct-ada"), "{model}");

    // What was sent: the multipart upload with its name fields, the LoRA settings.
    {
        let st = server.state.lock().unwrap();
        assert_eq!(st.requests("POST", "/files/upload"), 2);
        let sent = &st.jobs[0].json;
        assert_eq!(sent["n_epochs"], 2);
        assert_eq!(
            sent["training_type"],
            json!({"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                   "lora_trainable_modules": "all-linear"})
        );
        assert_eq!(
            sent["training_method"],
            json!({"method": "sft", "train_on_inputs": false})
        );
    }

    // The model is a remote voice that remembers its provider, URL and key variable.
    let registry = Registry::load(ws.path()).unwrap();
    let voice = registry.get("ada").unwrap().clone();
    assert_eq!(
        voice,
        Voice::Remote {
            model: model.clone(),
            base_url: Some(server.base_url()),
            job_id: Some(job.id.clone()),
            provider: Some("together".into()),
            api_key_env: Some(TOGETHER_KEY_ENV.into()),
        }
    );
    // ... and answers through Together's chat completions, with the Together key (the
    // [remote] section names another variable, which is unset).
    let cfg = config(ws.path());
    let backend = voicetune::infer::remote::RemoteVoice::from_voice(&cfg, &voice).unwrap();
    let options = voicetune::infer::remote::CompletionOptions {
        max_tokens: Some(40),
        ..Default::default()
    };
    let answer = rt()
        .block_on(backend.complete("The walk this morning", &options))
        .unwrap();
    assert_eq!(
        answer.text,
        super::fake_openai::completion_for(&model, "The walk this morning")
    );

    // Ghostwriting with it: a suggestion comes from Together's chat completions.
    let ghost = voicetune::ghost::Ghostwriter::new(ws.path(), Default::default());
    let draft = "# The canal\n\nThe path along the water is";
    let suggestion = ghost
        .suggest(
            &voicetune::ghost::SuggestRequest {
                voice: Some("ada".into()),
                text: draft.into(),
                kind: voicetune::ghost::DocKind::Markdown,
                cursor: draft.len(),
            },
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap()
        .expect("a suggestion");
    assert!(suggestion.text.contains("words received"), "{suggestion:?}");

    // The bake-off runs it (streamed chat completions) beside nothing else.
    let heldout = ws.path().join("heldout.jsonl");
    let line = json!({"messages": [
        {"role": "user", "content": "Write about the canal path 🔪 (研ぐ)."},
        {"role": "assistant", "content": "The canal path is flat and the herons are not."}]});
    std::fs::write(&heldout, format!("{line}\n")).unwrap();
    let mut compare = voicetune::compare::CompareRequest::new(
        ws.path().to_path_buf(),
        vec!["ada".into()],
        heldout,
        ws.path().join("out/report.html"),
    );
    compare.sampling.max_tokens = 16;
    let report = voicetune::compare::compare(
        &compare,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        report.rows[0].answers[0].output.text,
        super::fake_openai::completion_for(&model, "Write about the canal path 🔪 (研ぐ).")
    );

    // Both providers' jobs are listed with the provider shown.
    let list = voicetune(ws.path(), &["jobs"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(&format!("{}\ttogether\tsucceeded", job.id)),
        "{listed}"
    );

    // The job's events, and the account's jobs as Together lists them.
    let events = voicetune(ws.path(), &["jobs", "events", &job.id]);
    let events_out = String::from_utf8_lossy(&events.stdout);
    assert!(
        events_out.contains("[info] Checkpoint saved at step 1 of 3")
            && events_out.contains("[info] Job completed"),
        "{}",
        text(&events)
    );
    let remote_list = voicetune(ws.path(), &["jobs", "list", "--remote"]);
    assert_eq!(
        String::from_utf8_lossy(&remote_list.stdout).trim(),
        format!("{}\tcompleted\t{LOCAL_MODEL}\t{model}", job.id)
    );

    // The adapter comes home: checked, unpacked, loaded onto the real base model, registered.
    let download = voicetune(ws.path(), &["jobs", "download", &job.id]);
    assert!(download.status.success(), "{}", text(&download));
    let said = String::from_utf8_lossy(&download.stdout);
    assert!(
        said.contains("tar.zst") && said.contains("adapter/adapter_model.safetensors"),
        "{said}"
    );
    assert!(
        said.contains("registered local voice `ada-local`"),
        "{said}"
    );
    let archive = ws
        .path()
        .join(format!(".voicetune/downloads/{}-adapter.tar.zst", job.id));
    assert!(archive.is_file());
    match Registry::load(ws.path()).unwrap().get("ada-local") {
        Some(Voice::Local {
            adapter: Some(dir), ..
        }) => {
            assert!(dir.join("adapter_model.safetensors").is_file());
            assert!(dir.join("adapter_config.json").is_file());
        }
        other => panic!("no local voice: {other:?}"),
    }
    // No temp file is left behind.
    let leftovers: Vec<_> = all_files(ws.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("voicetune-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    assert_key_nowhere(
        ws.path(),
        &[&models, &out, &list, &events, &remote_list, &download],
    );
    server.assert_no_violations();
}

#[test]
fn an_adapter_for_a_model_the_runtime_cannot_load_is_kept_and_named() {
    let server = fake_together::start(KEY);
    let ws = workspace(&server, BIG_MODEL);
    let tune = voicetune(
        ws.path(),
        &["tune", "train.jsonl", "--voice", "big", "--yes"],
    );
    assert!(tune.status.success(), "{}", text(&tune));
    let id = JobStore::new(ws.path()).list().unwrap()[0].id.clone();
    // The first answer fails; the download is asked again.
    server.fault("GET", "/finetune/download", FaultKind::ServerError);
    let download = voicetune(ws.path(), &["jobs", "download", &id]);
    assert!(download.status.success(), "{}", text(&download));
    let said = String::from_utf8_lossy(&download.stdout);
    assert!(
        said.contains(&format!("this adapter is for {BIG_MODEL}"))
            && said.contains("loads HuggingFaceTB/SmolLM2-135M-Instruct only")
            && said.contains("the file is kept"),
        "{said}"
    );
    assert!(ws
        .path()
        .join(format!(".voicetune/downloads/{id}-adapter.tar.zst"))
        .is_file());
    let registry = Registry::load(ws.path()).unwrap();
    assert!(registry.get("big").is_some() && registry.voices.len() == 1);
    assert_eq!(
        server
            .state
            .lock()
            .unwrap()
            .requests("GET", "/finetune/download"),
        2
    );
    server.assert_no_violations();
}

#[test]
fn together_faults_are_retried_and_nothing_is_created_twice() {
    let server = fake_together::start(KEY);
    let ws = workspace(&server, LOCAL_MODEL);
    let cfg = config(ws.path());
    server.fault("POST", "/files/upload", FaultKind::Drop);
    server.fault(
        "POST",
        "/fine-tunes/estimate-price",
        FaultKind::RateLimit {
            retry_after_secs: 1,
        },
    );
    server.fault("GET", "/fine-tunes/ft-", FaultKind::ServerError);
    server.fault(
        "GET",
        "/fine-tunes/ft-",
        FaultKind::Slow(Duration::from_secs(3)),
    );
    let waits = Arc::new(std::sync::Mutex::new(Vec::new()));
    let w = waits.clone();
    let on_update: remote::OnUpdate = Arc::new(move |u: &Update| {
        if let Update::Waiting(line) = u {
            w.lock().unwrap().push(line.clone());
        }
    });
    let rt = rt();
    let started = std::time::Instant::now();
    let plan = rt
        .block_on(remote::prepare(
            &cfg,
            request(ws.path(), "ada"),
            on_update.clone(),
        ))
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    // The create's answer is lost after the job was made: it is looked up, not made again.
    server.fault("POST", "/fine-tunes", FaultKind::DropAfterProcessing);
    let job = rt
        .block_on(remote::start(ws.path(), &cfg, &plan, on_update.clone()))
        .unwrap();
    let job = rt
        .block_on(remote::follow(ws.path(), &cfg, &job.id, on_update))
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    let st = server.state.lock().unwrap();
    assert_eq!(
        st.jobs.len(),
        1,
        "the lost create answer was found, not repeated"
    );
    assert_eq!(st.files.len(), 1, "the dropped upload was sent again, once");
    drop(st);
    let waits = waits.lock().unwrap();
    assert!(waits.len() >= 5, "{waits:?}");
    assert!(waits.iter().any(|w| w.contains("429")), "{waits:?}");
    assert!(waits.iter().any(|w| w.contains("500")), "{waits:?}");
    assert!(waits.iter().any(|w| w.contains("timed out")), "{waits:?}");
    server.assert_no_violations();
}

#[test]
fn together_jobs_cancel_and_resume_after_a_restart() {
    let server = fake_together::start(KEY);
    let ws = workspace(&server, LOCAL_MODEL);
    let cfg = config(ws.path());
    let rt = rt();
    // Two jobs started by a "previous process": created, never followed.
    let mut ids = Vec::new();
    for voice in ["kept", "dropped"] {
        let plan = rt
            .block_on(remote::prepare(&cfg, request(ws.path(), voice), quiet()))
            .unwrap();
        let job = rt
            .block_on(remote::start(ws.path(), &cfg, &plan, quiet()))
            .unwrap();
        ids.push(job.id);
    }
    // Cancel one from the CLI: Together first says cancel_requested.
    let cancel = voicetune(ws.path(), &["jobs", "cancel", &ids[1]]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    assert!(
        String::from_utf8_lossy(&cancel.stdout)
            .contains(&format!("job {}: cancel requested, still running", ids[1])),
        "{}",
        text(&cancel)
    );
    // The restarted process follows every job that was not final, by its provider.
    let results = rt
        .block_on(remote::resume_all(ws.path(), &cfg, quiet()))
        .unwrap();
    let mut statuses: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    statuses.sort_by_key(|j| j.voice.clone());
    assert_eq!(statuses[0].voice.as_deref(), Some("dropped"));
    assert_eq!(statuses[0].status, JobStatus::Cancelled);
    assert_eq!(statuses[1].status, JobStatus::Succeeded);
    let registry = Registry::load(ws.path()).unwrap();
    assert!(registry.get("kept").is_some() && registry.get("dropped").is_none());
    // Cancelling it again is harmless.
    let again = voicetune(ws.path(), &["jobs", "cancel", &ids[1]]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already cancelled"),
        "{}",
        text(&again)
    );
    server.assert_no_violations();
}

#[test]
fn the_models_limits_are_enforced_before_anything_is_uploaded() {
    let server = fake_together::start(KEY);
    let ws = workspace(&server, LOCAL_MODEL);
    // One example longer than the model's sequence length (the fake's limit is 512 tokens).
    let long_reply = "The hill again, and the dog again, and the bag again. ".repeat(60);
    let line = |reply: &str| {
        json!({"messages": [{"role": "user", "content": "Write about the walk."},
                            {"role": "assistant", "content": reply}]})
        .to_string()
    };
    let mut lines: Vec<String> = (0..11)
        .map(|i| {
            line(&format!(
                "Walk number {i} was short and the dog chose the route."
            ))
        })
        .collect();
    lines.push(line(&long_reply));
    std::fs::write(ws.path().join("long.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = voicetune(ws.path(), &["tune", "long.jsonl", "--yes"]);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("long.jsonl:12:") && err.contains(&format!("{MAX_SEQ_LENGTH}-token")),
        "{err}"
    );
    assert!(err.contains("Nothing was uploaded"), "{err}");

    // Settings outside the model's limits are refused, naming the limit.
    for (args, expected) in [
        (&["--epochs", "50"][..], "epochs must be 1 to 20"),
        (&["--batch-size", "4"][..], "the batch size must be 8 to 32"),
        (&["--learning-rate", "2"][..], "the learning rate must be"),
        (&["--lora-r", "128"][..], "the LoRA rank must be 1 to 64"),
        (
            &["--lora-modules", "q_proj,wte"][..],
            "no LoRA target module `wte`",
        ),
        (&["--model", "acme/unknown-7b"][..], "--list-models"),
        (
            &["--learning-rate-multiplier", "0.5"][..],
            "not a multiplier",
        ),
    ] {
        let mut all = vec!["tune", "train.jsonl", "--yes"];
        all.extend_from_slice(args);
        let out = voicetune(ws.path(), &all);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let st = server.state.lock().unwrap();
    assert_eq!(st.requests("POST", "/files/upload"), 0);
    assert_eq!(st.requests("POST", "/fine-tunes"), 0);
    assert!(st.requests("GET", "/fine-tunes/models/limits") >= 7);
    assert_eq!(st.requests("POST", "/fine-tunes/estimate-price"), 0);
    drop(st);
    server.assert_no_violations();
}

#[test]
fn a_missing_together_key_names_its_variable() {
    let server = fake_together::start(KEY);
    let ws = workspace(&server, LOCAL_MODEL);
    let out = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["tune", "train.jsonl", "--yes"])
        .current_dir(ws.path())
        .env_remove(TOGETHER_KEY_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(TOGETHER_KEY_ENV),
        "{}",
        text(&out)
    );
    assert!(server.state.lock().unwrap().seen.is_empty());
}

#[test]
fn the_endpoint_comes_from_together_base_url_when_the_config_has_none() {
    let server = fake_together::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("voicetune.toml"),
        format!("[together]\napi_key_env = \"{TOGETHER_KEY_ENV}\"\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_voicetune"))
        .args(["tune", "--provider", "together", "--list-models"])
        .current_dir(dir.path())
        .env(TOGETHER_KEY_ENV, KEY)
        .env("TOGETHER_BASE_URL", server.base_url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(LOCAL_MODEL));
    // Without a provider, the config's default (OpenAI) has no model list to ask for.
    let openai = voicetune(dir.path(), &["tune", "--list-models"]);
    assert!(!openai.status.success());
    assert!(
        String::from_utf8_lossy(&openai.stderr).contains("--provider together"),
        "{}",
        text(&openai)
    );
    server.assert_no_violations();
}
