//! A fake Together AI API for the tests, on the machinery of `fake_openai.rs` (server, faults,
//! and every request and response validated against a spec), here the Together spec vendored in
//! `tests/fixtures/together/together-openapi.yaml`: files, models and their limits, the price
//! estimate, fine-tune jobs (state machine, events, checkpoints, cancel), the download of a
//! job's adapter, and chat completions with the fine-tuned model.
//!
//! Jobs move one step per `GET /fine-tunes/{id}`: pending -> queued -> running (x3, an event
//! with the step and a checkpoint each) -> compressing -> completed, or -> error when the
//! server is told to fail jobs; cancel goes through cancel_requested to cancelled.

#![allow(dead_code)]

use super::fake_openai::{
    bad_request, error_body, form_body, json_body, last_message, not_found, request_parts,
    unknown_file, update_job, Body, FakeJob, FakeOpenAi, Spec, State, StoredFile,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};

/// The base model the local runtime loads: its adapter becomes a local voice.
pub const LOCAL_MODEL: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";
/// A model only Together serves: its adapter is kept, not registered locally.
pub const BIG_MODEL: &str = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference";
/// The longest example (tokens) the fake's limits allow, so a test can exceed it cheaply.
pub const MAX_SEQ_LENGTH: usize = 512;
/// The fake's price per million trained tokens.
pub const PRICE_PER_MILLION: f64 = 0.48;

pub fn spec_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/together/together-openapi.yaml")
}

/// The Together spec, loaded once per test binary.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load(&spec_path(), "ErrorData").with_wrapped_stream_events())
}

/// Starts a fake Together API that accepts the API key `key`.
pub fn start(key: &str) -> FakeOpenAi {
    FakeOpenAi::serve(key, spec(), route)
}

/// An RFC 3339 time for the fake clock's second `t`.
fn time(t: i64) -> String {
    let secs = t.rem_euclid(86_400);
    format!(
        "2026-05-{:02}T{:02}:{:02}:{:02}.000Z",
        1 + (t / 86_400).rem_euclid(28),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn limits(model: &str) -> Value {
    let lora = json!({"max_batch_size": 32, "max_batch_size_dpo": 16, "min_batch_size": 8,
                      "max_rank": 64, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                      "gate_proj", "up_proj", "down_proj"]});
    json!({
        "model_name": model, "max_num_epochs": 20, "max_num_evals": 100,
        "max_learning_rate": 1.0, "min_learning_rate": 1e-8,
        "supports_vision": false, "supports_tools": false, "supports_reasoning": false,
        "merge_output_lora": false, "lora_training": lora,
        "full_training": {"max_batch_size": 16, "max_batch_size_dpo": 8, "min_batch_size": 8},
        "max_seq_length": MAX_SEQ_LENGTH
    })
}

const MODELS: &[&str] = &[LOCAL_MODEL, BIG_MODEL];

fn event(st: &mut State, kind: &str, level: &str, message: &str, step: u64) -> Value {
    let t = st.tick();
    json!({
        "object": "fine-tune-event", "created_at": time(t), "level": level, "message": message,
        "type": kind, "param_count": 0, "token_count": 0, "total_steps": TOTAL_STEPS,
        "wandb_url": "", "step": step, "checkpoint_path": "", "model_path": "",
        "training_offset": 0, "hash": ""
    })
}

const TOTAL_STEPS: u64 = 3;

fn route(
    state: &Arc<Mutex<State>>,
    method: &str,
    template: &str,
    path: &str,
    query: &str,
    body: Body,
) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    let (segs, q) = request_parts(path, query);
    let bad = bad_request;
    match (method, template) {
        ("POST", "/files/upload") => {
            let (fields, (_, len, sha256, content)) = match form_body(body) {
                Ok(form) => form,
                Err(refused) => return refused,
            };
            let id = st.next_id("file");
            let created = st.tick();
            let json = json!({
                "id": id, "object": "file", "created_at": created,
                "filename": fields.get("file_name").cloned().unwrap_or_default(),
                "bytes": len, "purpose": fields.get("purpose").cloned().unwrap_or_default(),
                "FileType": fields.get("file_type").cloned().unwrap_or("jsonl".into()),
                "Processed": true
            });
            st.files.push(StoredFile {
                json: json.clone(),
                sha256,
                content,
            });
            (200, json)
        }
        ("GET", "/files") => {
            let data: Vec<Value> = st.files.iter().rev().map(|f| f.json.clone()).collect();
            (200, json!({"data": data}))
        }
        ("GET", "/fine-tunes/models/supported") => (200, json!({"models": MODELS})),
        ("GET", "/fine-tunes/models/limits") => {
            let model = q.get("model_name").cloned().unwrap_or_default();
            if !MODELS.contains(&model.as_str()) {
                return (
                    404,
                    error_body(
                        &format!("model {model} is not available for fine-tuning"),
                        "invalid_request_error",
                        None,
                    ),
                );
            }
            (200, limits(&model))
        }
        ("POST", "/fine-tunes/estimate-price") => {
            let req = match json_body(body) {
                Ok(req) => req,
                Err(refused) => return refused,
            };
            let Some(file) = st
                .files
                .iter()
                .find(|f| f.json["id"] == req["training_file"])
            else {
                return bad("training_file does not exist");
            };
            // A quarter of the bytes, as a stand-in for the model's tokenizer.
            let epochs = req["n_epochs"].as_u64().unwrap_or(1);
            let tokens = (file.json["bytes"].as_u64().unwrap_or(0) / 4) * epochs;
            (
                200,
                json!({"estimated_total_price": tokens as f64 * PRICE_PER_MILLION / 1e6,
                       "allowed_to_proceed": true, "user_limit": 100.0,
                       "estimated_train_token_count": tokens as f64,
                       "estimated_eval_token_count": 0.0}),
            )
        }
        ("POST", "/fine-tunes") => {
            let req = match json_body(body) {
                Ok(req) => req,
                Err(refused) => return refused,
            };
            let model = req["model"].as_str().unwrap_or("").to_string();
            if !MODELS.contains(&model.as_str()) {
                return bad(&format!("model {model} is not available for fine-tuning"));
            }
            if let Some(refused) = unknown_file(&st, &req) {
                return refused;
            }
            let id = st.next_id("ft");
            let now = time(st.tick());
            let mut json = json!({
                "id": id, "status": "pending", "created_at": now, "updated_at": now,
                "model": model, "training_file": req["training_file"],
                "n_epochs": req.get("n_epochs").cloned().unwrap_or(json!(1)),
                "training_method": req["training_method"], "training_type": req["training_type"],
                "events": []
            });
            for key in ["suffix", "learning_rate", "batch_size", "n_checkpoints"] {
                if let Some(value) = req.get(key) {
                    json[key] = value.clone();
                }
            }
            let fail = st.fail_jobs;
            let mut job = FakeJob {
                json: json.clone(),
                events: Vec::new(),
                checkpoints: Vec::new(),
                polls: 0,
                fail,
            };
            let e = event(
                &mut st,
                "job_pending",
                "info",
                "Fine tune request created",
                0,
            );
            job.events.push(e);
            st.jobs.push(job);
            (200, json)
        }
        ("GET", "/fine-tunes") => {
            let data: Vec<Value> = st.jobs.iter().rev().map(|j| j.json.clone()).collect();
            (200, json!({"data": data}))
        }
        ("GET", "/fine-tunes/{id}") => update_job(&mut st, segs[1], |st, job| {
            advance(st, job);
            None
        }),
        ("GET", "/fine-tunes/{id}/events") => {
            let Some(job) = st.jobs.iter().find(|j| j.json["id"] == json!(segs[1])) else {
                return not_found(segs[1]);
            };
            (200, json!({"data": job.events}))
        }
        ("GET", "/fine-tunes/{id}/checkpoints") => {
            let Some(job) = st.jobs.iter().find(|j| j.json["id"] == json!(segs[1])) else {
                return not_found(segs[1]);
            };
            (200, json!({"data": job.checkpoints}))
        }
        ("POST", "/fine-tunes/{id}/cancel") => update_job(&mut st, segs[1], |st, job| {
            let status = job.json["status"].as_str().unwrap_or("").to_string();
            if matches!(status.as_str(), "completed" | "error" | "cancelled") {
                return Some(bad(&format!("job {} has already {status}", job.json["id"])));
            }
            job.json["status"] = json!("cancel_requested");
            let e = event(st, "cancel_requested", "info", "Cancel requested", 0);
            job.events.push(e);
            None
        }),
        ("GET", "/finetune/download") => {
            let id = q.get("ft_id").cloned().unwrap_or_default();
            let Some(job) = st.jobs.iter().find(|j| j.json["id"] == json!(id)) else {
                return not_found(&id);
            };
            if job.json["status"] != json!("completed") {
                return bad(&format!("job {id} has no output yet"));
            }
            let model = job.json["model"].as_str().unwrap_or("").to_string();
            let kind = q.get("checkpoint").cloned().unwrap_or("adapter".into());
            let key = format!("{id}/{kind}");
            if !st.downloads.contains_key(&key) {
                let bytes = match kind.as_str() {
                    "adapter" => adapter_archive(&model),
                    _ => b"merged weights are not part of this fake".to_vec(),
                };
                st.downloads.insert(key.clone(), bytes);
            }
            (200, json!({"__binary__": key}))
        }
        ("POST", "/chat/completions") => {
            let req = match json_body(body) {
                Ok(req) => req,
                Err(refused) => return refused,
            };
            // Together's request has `max_tokens` and no `max_completion_tokens` (which it
            // would ignore): refused here, so a client that sends the wrong one is seen.
            if req.get("max_completion_tokens").is_some() {
                return bad("max_completion_tokens is not a Together parameter; use max_tokens");
            }
            let model = req["model"].as_str().unwrap_or("").to_string();
            let known = st
                .jobs
                .iter()
                .any(|j| j.json["model_output_name"] == json!(model));
            if !known {
                return (
                    404,
                    error_body(
                        &format!("model {model} does not exist"),
                        "invalid_request_error",
                        None,
                    ),
                );
            }
            let prompt = last_message(&req);
            let created = st.tick();
            let id = st.next_id("chat");
            let text = super::fake_openai::completion_for(&model, &prompt);
            if req.get("stream") == Some(&json!(true)) {
                // One chunk per word (each delta names its role, as Together's schema wants),
                // then one with the finish reason.
                let chunk = |content: &str, finish: Value| {
                    json!({"id": id, "object": "chat.completion.chunk", "created": created,
                           "model": model, "choices": [{"index": 0, "finish_reason": finish,
                           "delta": {"role": "assistant", "content": content}}]})
                };
                let mut chunks: Vec<Value> = text
                    .split_inclusive(' ')
                    .map(|w| chunk(w, Value::Null))
                    .collect();
                chunks.push(chunk("", json!("stop")));
                return (200, json!({"__sse__": chunks}));
            }
            (
                200,
                json!({
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "prompt": [],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
                }),
            )
        }
        _ => (
            404,
            error_body(
                &format!("the fake does not implement {method} {template}"),
                "invalid_request_error",
                None,
            ),
        ),
    }
}

/// One step of the job's life per poll.
fn advance(st: &mut State, job: &mut FakeJob) {
    let status = job.json["status"].as_str().unwrap_or("").to_string();
    let id = job.json["id"].as_str().unwrap_or("").to_string();
    let set = |job: &mut FakeJob, st: &mut State, status: &str| {
        job.json["status"] = json!(status);
        job.json["updated_at"] = json!(time(st.tick()));
    };
    match status.as_str() {
        "pending" => set(job, st, "queued"),
        "queued" => {
            set(job, st, "running");
            let e = event(st, "training_start", "info", "Training started", 0);
            job.events.push(e);
        }
        "running" if job.fail => {
            set(job, st, "error");
            let e = event(
                st,
                "job_error",
                "error",
                "Training failed: the dataset has no assistant messages",
                0,
            );
            job.events.push(e);
        }
        "running" => {
            let step = job.checkpoints.len() as u64 + 1;
            let e = event(
                st,
                "checkpoint_save",
                "info",
                &format!("Checkpoint saved at step {step} of {TOTAL_STEPS}"),
                step,
            );
            job.events.push(e);
            let created = time(st.tick());
            job.checkpoints.push(json!({"step": step, "created_at": created,
                "path": format!("s3://fake/{id}/checkpoint-{step}"), "checkpoint_type": "adapter"}));
            if step == TOTAL_STEPS {
                set(job, st, "compressing");
            }
        }
        "compressing" => {
            set(job, st, "completed");
            let model = job.json["model"].as_str().unwrap_or("").to_string();
            let suffix = job.json["suffix"].as_str().unwrap_or("ft").to_string();
            let short = model.rsplit('/').next().unwrap_or("");
            job.json["model_output_name"] = json!(format!("voicetune-test/{short}-{suffix}-{id}"));
            job.json["token_count"] = json!(4321);
            let e = event(st, "job_complete", "info", "Job completed", TOTAL_STEPS);
            job.events.push(e);
        }
        "cancel_requested" => {
            set(job, st, "cancelled");
            let e = event(st, "job_stopped", "info", "Job cancelled", 0);
            job.events.push(e);
        }
        _ => {}
    }
}

// ---- the adapter a job produces, as Together sends it: a zstd-compressed tar ----

/// A PEFT LoRA adapter (rank 2 on q_proj and v_proj) for `model`, in a `.tar.zst`: shaped for
/// SmolLM2-135M-Instruct (30 layers, 576 wide, 192-wide k/v) so the local runtime loads it, or
/// for a model it does not run.
pub fn adapter_archive(model: &str) -> Vec<u8> {
    let (layers, hidden, kv) = if model == LOCAL_MODEL {
        (30, 576, 192)
    } else {
        (2, 64, 16)
    };
    let rank = 2usize;
    let mut tensors = Vec::new();
    for layer in 0..layers {
        for (module, out) in [("q_proj", hidden), ("v_proj", kv)] {
            let a: Vec<f32> = (0..rank * hidden)
                .map(|i| ((i % 7) as f32 - 3.0) * 1e-3)
                .collect();
            let b: Vec<f32> = (0..out * rank)
                .map(|i| ((i % 5) as f32 - 2.0) * 1e-3)
                .collect();
            tensors.push((
                voicetune::model::adapter::peft_key(layer, module, 'A'),
                vec![rank, hidden],
                a,
            ));
            tensors.push((
                voicetune::model::adapter::peft_key(layer, module, 'B'),
                vec![out, rank],
                b,
            ));
        }
    }
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, shape, data)| {
            (
                n,
                shape,
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(n, shape, data)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .unwrap(),
            )
        })
        .collect();
    let weights = safetensors::serialize(views, None).unwrap();
    let config = json!({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 4,
        "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
        "base_model_name_or_path": model, "bias": "none", "fan_in_fan_out": false,
        "inference_mode": true
    });
    let tar = tar_of(&[
        (
            "adapter/adapter_config.json",
            config.to_string().into_bytes(),
        ),
        ("adapter/adapter_model.safetensors", weights),
        ("adapter/README.md", b"trained by the fake\n".to_vec()),
    ]);
    ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest)
}

/// A ustar archive of `files`.
pub fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        let mut field = |at: usize, width: usize, value: u64| {
            let text = format!("{value:0w$o}\0", w = width - 1);
            header[at..at + width].copy_from_slice(text.as_bytes());
        };
        field(100, 8, 0o644);
        field(108, 8, 0);
        field(116, 8, 0);
        field(124, 12, data.len() as u64);
        field(136, 12, 1_767_000_000);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|b| *b as u64).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}
