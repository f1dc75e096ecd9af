//! A fake OpenAI API for the tests, on 127.0.0.1 only: files, fine-tuning jobs (with state
//! transitions, events, checkpoints, cancel) and chat completions, with injectable faults.
//!
//! It checks the real contract: every request it receives (path, method, query parameters, JSON
//! or multipart body) and every response it sends are validated against the schemas of the
//! OpenAPI spec vendored in `tests/fixtures/openai/openai-openapi.yaml`, read at test time. Anything that
//! does not match is recorded in `violations` (and a bad request is answered 400), and the tests
//! assert there were none.
//!
//! Jobs move one step per `GET /fine_tuning/jobs/{id}` (not per wall-clock second), so tests are
//! deterministic: validating_files -> queued -> running (x3, with metrics events and a
//! checkpoint) -> succeeded, or -> failed when the server is told to fail jobs.

#![allow(dead_code)]

use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use jsonschema::{Draft, Registry, Validator};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const SPEC_URI: &str = "https://spec.voicetune.test/openapi.json";

/// The spec's schemas, compiled on demand.
pub struct Spec {
    doc: Value,
    registry: Registry<'static>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
    /// The schema of an error answer the spec does not list for an operation.
    error_schema: &'static str,
    /// The spec's event-stream schema describes each event as `{"data": chunk}` (Together's)
    /// rather than the chunk itself (OpenAI's).
    stream_events_wrapped: bool,
}

/// The vendored spec (the paths this server serves and what they reference).
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/openai/openai-openapi.yaml")
}

impl Spec {
    /// The OpenAI spec, loaded once per test binary.
    pub fn get() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| Spec::load(&spec_path(), "ErrorResponse"))
    }

    /// The OpenAPI spec at `path` as JSON Schema resources; `error_schema` names the schema of
    /// errors the spec does not list per operation.
    pub fn load(path: &std::path::Path, error_schema: &'static str) -> Spec {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e} (the OpenAPI spec is needed)", path.display()));
        // The spec has integers beyond 64 bits (a `seed` minimum of -9223372036854776000),
        // which the YAML parser refuses: read them as the floats JSON would make of them.
        let huge = regex::Regex::new(r"(?m)^(\s*[\w-]+:\s+-?)(\d{19,})\s*$").unwrap();
        let text = huge.replace_all(&text, "${1}${2}.0");
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut doc = yaml_to_json(yaml);
        to_json_schema(&mut doc);
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(SPEC_URI, doc.clone())
            .and_then(|b| b.prepare())
            .expect("the spec registers as a JSON Schema resource");
        Spec {
            doc,
            registry,
            validators: Mutex::new(HashMap::new()),
            error_schema,
            stream_events_wrapped: false,
        }
    }

    /// This spec, its event streams described as `{"data": chunk}` events (Together's).
    pub fn with_wrapped_stream_events(mut self) -> Spec {
        self.stream_events_wrapped = true;
        self
    }

    /// A validator for `schema`, a schema object taken from the spec (refs are resolved
    /// against the spec).
    fn validator(&'static self, schema: &Value) -> Arc<Validator> {
        let mut schema = schema.clone();
        absolutize_refs(&mut schema);
        let key = schema.to_string();
        if let Some(v) = self.validators.lock().unwrap().get(&key) {
            return v.clone();
        }
        let v = Arc::new(
            jsonschema::options()
                .with_draft(Draft::Draft202012)
                .with_registry(&self.registry)
                .build(&schema)
                .unwrap_or_else(|e| panic!("schema {key} does not compile: {e}")),
        );
        self.validators.lock().unwrap().insert(key, v.clone());
        v
    }

    /// Validates `instance` against `schema`; the errors as readable lines.
    pub fn check(&'static self, schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
        let v = self.validator(schema);
        let errors: Vec<String> = v
            .iter_errors(instance)
            .map(|e| format!("at `{}`: {}", e.instance_path(), e))
            .take(10)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// `#/components/schemas/NAME` as a schema object.
    pub fn schema(name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    /// The operation for `method` on `path` (the part after `/v1`), with the template matched.
    pub fn operation(&self, method: &str, path: &str) -> Option<(String, Value)> {
        let paths = self.doc.get("paths")?.as_object()?;
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        for (template, item) in paths {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            if t.len() != segments.len() {
                continue;
            }
            let matches = t
                .iter()
                .zip(&segments)
                .all(|(a, b)| (a.starts_with('{') && a.ends_with('}') && !b.is_empty()) || a == b);
            if matches {
                if let Some(op) = item.get(method.to_ascii_lowercase()) {
                    return Some((template.clone(), op.clone()));
                }
            }
        }
        None
    }

    /// The response schema the spec gives for `status` of an operation: its own entry (resolving
    /// `#/components/responses/...`), else the spec's error schema for error statuses.
    pub fn response_schema(&self, op: &Value, status: u16) -> Option<Value> {
        let mut response = op.get("responses")?.get(status.to_string()).cloned();
        if let Some(r) = response
            .as_ref()
            .and_then(|r| r.get("$ref"))
            .and_then(|r| r.as_str())
        {
            let pointer = r.trim_start_matches('#');
            response = self.doc.pointer(pointer).cloned();
        }
        match response {
            // A listed error answer whose body the spec leaves open (Together's 400 and 404 of
            // some operations) takes the spec's error shape.
            Some(r) if r.get("content").is_none() && status >= 400 => {
                Some(Spec::schema(self.error_schema))
            }
            Some(r) => r.pointer("/content/application~1json/schema").cloned(),
            None if status >= 400 => Some(Spec::schema(self.error_schema)),
            None => None,
        }
    }
}

/// YAML to JSON (mapping keys that are not strings, such as `200:`, become strings).
fn yaml_to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// The spec is OpenAPI 3.1 but still uses 3.0 idioms: `nullable: true` and boolean
/// `exclusiveMinimum`. Rewrite them into JSON Schema 2020-12 so that they mean what the spec's
/// authors meant instead of being ignored or rejected.
fn to_json_schema(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                to_json_schema(child);
            }
            if let Some(Value::Bool(exclusive)) = map.get("exclusiveMinimum").cloned() {
                map.remove("exclusiveMinimum");
                if exclusive {
                    if let Some(min) = map.remove("minimum") {
                        map.insert("exclusiveMinimum".into(), min);
                    }
                }
            }
            if let Some(Value::Bool(exclusive)) = map.get("exclusiveMaximum").cloned() {
                map.remove("exclusiveMaximum");
                if exclusive {
                    if let Some(max) = map.remove("maximum") {
                        map.insert("exclusiveMaximum".into(), max);
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                match map.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = t.clone();
                        map.insert("type".into(), json!([t, "null"]));
                        // An enum must admit null too.
                        if let Some(Value::Array(values)) = map.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// `#/components/...` -> `SPEC_URI#/components/...`.
fn absolutize_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if r.starts_with("#/") {
                    *r = format!("{SPEC_URI}{r}");
                }
            }
            map.values_mut().for_each(absolutize_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(absolutize_refs),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------

/// What to do to the next matching request.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// 429 with `Retry-After: secs`.
    RateLimit { retry_after_secs: u64 },
    /// 500 before doing anything.
    ServerError,
    /// Close the connection without answering, before doing anything.
    Drop,
    /// Do the work, then close the connection without answering (the answer is lost).
    DropAfterProcessing,
    /// Do the work, then answer only after this delay.
    Slow(Duration),
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    /// The request path (after /v1) must start with this.
    pub path_prefix: String,
    pub kind: FaultKind,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub at: Instant,
    pub status: u16,
    pub authorized: bool,
    pub fault: Option<String>,
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct StoredFile {
    pub json: Value,
    pub sha256: String,
    /// The content, kept only for small files.
    pub content: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct FakeJob {
    pub json: Value,
    pub events: Vec<Value>,
    pub checkpoints: Vec<Value>,
    /// GETs served so far; drives the state machine.
    pub polls: u32,
    pub fail: bool,
}

/// Does the work of a valid, authorised request: (state, method, path template, path, query,
/// body) to (status, JSON answer). An answer `{"__sse__": [chunks]}` is sent as server-sent
/// events, `{"__binary__": key}` as the bytes in `State::downloads[key]`.
pub type Router = fn(&Arc<Mutex<State>>, &str, &str, &str, &str, Body) -> (u16, Value);

#[derive(Default)]
pub struct State {
    pub key: String,
    /// The spec this server answers to, and what it does.
    pub spec: Option<&'static Spec>,
    pub router: Option<Router>,
    /// Binary answers (downloads), by the key a route names.
    pub downloads: HashMap<String, Vec<u8>>,
    pub files: Vec<StoredFile>,
    pub jobs: Vec<FakeJob>,
    pub faults: VecDeque<Fault>,
    pub seen: Vec<Seen>,
    pub violations: Vec<String>,
    /// New jobs fail instead of succeeding.
    pub fail_jobs: bool,
    counter: u64,
    clock: i64,
}

impl State {
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:06}", self.counter)
    }

    /// A strictly increasing fake clock, so ordering by `created_at` is stable.
    pub fn tick(&mut self) -> i64 {
        self.clock += 1;
        1_767_000_000 + self.clock
    }

    pub fn requests(&self, method: &str, prefix: &str) -> usize {
        self.seen
            .iter()
            .filter(|s| s.method == method && s.path.starts_with(prefix))
            .count()
    }
}

/// A running fake server; stops when dropped.
pub struct FakeOpenAi {
    pub addr: std::net::SocketAddr,
    pub state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl FakeOpenAi {
    /// Starts a fake OpenAI that accepts the API key `key`.
    pub fn start(key: &str) -> FakeOpenAi {
        FakeOpenAi::serve(key, Spec::get(), route)
    }

    /// Starts a server of the API `spec` describes, answering with `router`, that accepts the
    /// API key `key`.
    pub fn serve(key: &str, spec: &'static Spec, router: Router) -> FakeOpenAi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            key: key.to_string(),
            spec: Some(spec),
            router: Some(router),
            ..State::default()
        }));
        let st = state.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(st.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeOpenAi {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn fault(&self, method: &'static str, path_prefix: &str, kind: FaultKind) {
        self.state.lock().unwrap().faults.push_back(Fault {
            method,
            path_prefix: path_prefix.to_string(),
            kind,
        });
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn assert_no_violations(&self) {
        let v = self.violations();
        assert!(v.is_empty(), "contract violations:\n{}", v.join("\n"));
    }
}

type Answer = Response<Full<Bytes>>;

/// Closing the connection without an answer is done by failing the service future.
#[derive(Debug)]
struct DropConnection;
impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped")
    }
}
impl std::error::Error for DropConnection {}

fn spec_of(state: &Arc<Mutex<State>>) -> &'static Spec {
    state.lock().unwrap().spec.expect("the server has a spec")
}

/// A request's body, read according to its content type.
pub enum Body {
    None,
    Json(Value),
    /// Multipart form: text fields, plus the file field's name, size, hash and (small) content.
    Form {
        fields: BTreeMap<String, String>,
        file: Option<Upload>,
    },
    Invalid(String),
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Answer, DropConnection> {
    let method = req.method().as_str().to_string();
    let full_path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("openai-") || k.as_str() == "content-type")
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();

    let path = full_path.strip_prefix("/v1").unwrap_or("").to_string();
    let fault = {
        let mut st = state.lock().unwrap();
        let i = st
            .faults
            .iter()
            .position(|f| f.method == method && path.starts_with(&f.path_prefix));
        i.and_then(|i| st.faults.remove(i))
    };
    let authorized = {
        let st = state.lock().unwrap();
        auth == format!("Bearer {}", st.key)
    };
    let record = |status: u16, fault: Option<String>| {
        state.lock().unwrap().seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            at: Instant::now(),
            status,
            authorized,
            fault,
            headers: headers.clone(),
        });
    };

    // Faults that act before the request is looked at.
    match fault.as_ref().map(|f| &f.kind) {
        Some(FaultKind::Drop) => {
            record(0, Some("drop".into()));
            return Err(DropConnection);
        }
        Some(FaultKind::RateLimit { retry_after_secs }) => {
            record(429, Some("429".into()));
            let body = error_body(
                "Rate limit reached for requests",
                "requests",
                Some("rate_limit_exceeded"),
            );
            let mut r = answer(&state, &method, &path, 429, body);
            r.headers_mut()
                .insert("retry-after", retry_after_secs.to_string().parse().unwrap());
            return Ok(r);
        }
        Some(FaultKind::ServerError) => {
            record(500, Some("500".into()));
            let body = error_body(
                "The server had an error while processing your request.",
                "server_error",
                None,
            );
            return Ok(answer(&state, &method, &path, 500, body));
        }
        _ => {}
    }

    let Some((template, op)) = (if full_path.starts_with("/v1/") {
        spec_of(&state).operation(&method, &path)
    } else {
        None
    }) else {
        violation(
            &state,
            format!("{method} {full_path}: no such operation in the spec"),
        );
        record(404, None);
        let body = error_body(
            &format!("Invalid URL ({method} {full_path})"),
            "invalid_request_error",
            None,
        );
        return Ok(json_response(404, &body));
    };

    if !authorized {
        record(401, None);
        let sent = auth.strip_prefix("Bearer ").unwrap_or(&auth);
        // The real API echoes (part of) the key it was given; echo it whole, so the client's
        // scrubbing is tested.
        let body = error_body(
            &format!("Incorrect API key provided: {sent}. You can find your API key in your account settings."),
            "invalid_request_error",
            Some("invalid_api_key"),
        );
        return Ok(answer(&state, &method, &path, 401, body));
    }

    // Query parameters against the operation's parameters.
    let spec = spec_of(&state);
    let query_violations = check_query(spec, &op, &query);
    // Body against the operation's request body schema.
    let body = read_body(req, &content_type).await;
    let mut problems = query_violations;
    problems.extend(check_body(spec, &op, &content_type, &body));
    if !problems.is_empty() {
        for p in &problems {
            violation(&state, format!("{method} {path}: {p}"));
        }
        record(400, None);
        let body = error_body(&problems.join("; "), "invalid_request_error", None);
        return Ok(answer(&state, &method, &path, 400, body));
    }

    let router = state
        .lock()
        .unwrap()
        .router
        .expect("the server has a router");
    let (status, body) = router(&state, &method, &template, &path, &query, body);
    let fault_name = fault.as_ref().map(|f| format!("{:?}", f.kind));
    record(status, fault_name);
    let binary = body.get("__binary__").and_then(|k| k.as_str()).map(|key| {
        state
            .lock()
            .unwrap()
            .downloads
            .get(key)
            .cloned()
            .unwrap_or_default()
    });
    let response = match (body.get("__sse__").and_then(|c| c.as_array()), binary) {
        (Some(chunks), _) => sse_answer(&state, &method, &path, chunks),
        (None, Some(bytes)) => binary_answer(&state, &method, &path, bytes),
        (None, None) => answer(&state, &method, &path, status, body),
    };
    match fault.map(|f| f.kind) {
        Some(FaultKind::DropAfterProcessing) => Err(DropConnection),
        Some(FaultKind::Slow(d)) => {
            ::tokio::time::sleep(d).await;
            Ok(response)
        }
        _ => Ok(response),
    }
}

pub fn violation(state: &Arc<Mutex<State>>, v: String) {
    state.lock().unwrap().violations.push(v);
}

pub fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn json_response(status: u16, body: &Value) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Validates our own answer against the spec before sending it.
pub fn answer(
    state: &Arc<Mutex<State>>,
    method: &str,
    path: &str,
    status: u16,
    body: Value,
) -> Answer {
    let spec = spec_of(state);
    if let Some((_, op)) = spec.operation(method, path) {
        match spec.response_schema(&op, status) {
            Some(schema) => {
                if let Err(errors) = spec.check(&schema, &body) {
                    violation(
                        state,
                        format!(
                            "response {status} to {method} {path} breaks the spec: {}",
                            errors.join("; ")
                        ),
                    );
                }
            }
            None => violation(
                state,
                format!("the spec has no {status} response for {method} {path}"),
            ),
        }
    }
    json_response(status, &body)
}

/// A server-sent-events answer; each chunk is validated against the spec's
/// `text/event-stream` schema first.
fn sse_answer(state: &Arc<Mutex<State>>, method: &str, path: &str, chunks: &[Value]) -> Answer {
    let spec = spec_of(state);
    let schema = spec.operation(method, path).and_then(|(_, op)| {
        op.pointer("/responses/200/content/text~1event-stream/schema")
            .cloned()
    });
    let mut text = String::new();
    for chunk in chunks {
        let event = match spec.stream_events_wrapped {
            true => json!({ "data": chunk }),
            false => chunk.clone(),
        };
        match &schema {
            Some(schema) => {
                if let Err(errors) = spec.check(schema, &event) {
                    violation(
                        state,
                        format!(
                            "stream chunk of {method} {path} breaks the spec: {}",
                            errors.join("; ")
                        ),
                    );
                }
            }
            None => violation(
                state,
                format!("the spec has no event stream for {method} {path}"),
            ),
        }
        text.push_str(&format!("data: {chunk}\n\n"));
    }
    text.push_str("data: [DONE]\n\n");
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Full::new(Bytes::from(text)))
        .unwrap()
}

/// A download: the spec must answer 200 with `application/octet-stream` here.
fn binary_answer(state: &Arc<Mutex<State>>, method: &str, path: &str, bytes: Vec<u8>) -> Answer {
    let declared = spec_of(state).operation(method, path).and_then(|(_, op)| {
        op.pointer("/responses/200/content/application~1octet-stream")
            .cloned()
    });
    if declared.is_none() {
        violation(
            state,
            format!("the spec has no binary answer for {method} {path}"),
        );
    }
    Response::builder()
        .status(200)
        .header("content-type", "application/octet-stream")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap()
}

fn check_query(spec: &'static Spec, op: &Value, query: &str) -> Vec<String> {
    let params: Vec<Value> = op
        .get("parameters")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut deep: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (key, value) in parse_query(query) {
        let (name, sub) = match key.split_once('[') {
            Some((n, rest)) if rest.ends_with(']') => {
                (n.to_string(), Some(rest.trim_end_matches(']').to_string()))
            }
            _ => (key.clone(), None),
        };
        let Some(param) = params
            .iter()
            .find(|p| p.get("in") == Some(&json!("query")) && p.get("name") == Some(&json!(name)))
        else {
            problems.push(format!("query parameter `{key}` is not in the spec"));
            continue;
        };
        let schema = param.get("schema").cloned().unwrap_or(json!({}));
        match sub {
            Some(sub) => {
                if param.get("style") != Some(&json!("deepObject")) {
                    problems.push(format!("`{key}`: `{name}` is not a deepObject parameter"));
                }
                deep.entry(name)
                    .or_default()
                    .insert(sub, Value::String(value));
            }
            None => {
                let typed = match schema.get("type").and_then(|t| t.as_str()) {
                    Some("integer") => value
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(value)),
                    Some("number") => value
                        .parse::<f64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(value)),
                    _ => Value::String(value),
                };
                if let Err(e) = spec.check(&schema, &typed) {
                    problems.push(format!("query `{key}`: {}", e.join("; ")));
                }
            }
        }
    }
    for (name, object) in deep {
        let param = params
            .iter()
            .find(|p| p.get("name") == Some(&json!(name)))
            .unwrap();
        let schema = param.get("schema").cloned().unwrap_or(json!({}));
        if let Err(e) = spec.check(&schema, &Value::Object(object)) {
            problems.push(format!("query `{name}`: {}", e.join("; ")));
        }
    }
    problems
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_body(req: Request<Incoming>, content_type: &str) -> Body {
    if content_type.starts_with("multipart/form-data") {
        let boundary = match multer::parse_boundary(content_type) {
            Ok(b) => b,
            Err(e) => return Body::Invalid(format!("bad multipart content type: {e}")),
        };
        let stream =
            http_body_util::BodyStream::new(req.into_body()).filter_map(|frame| async move {
                match frame {
                    Ok(f) => f.into_data().ok().map(Ok::<Bytes, hyper::Error>),
                    Err(e) => Some(Err(e)),
                }
            });
        let mut form = multer::Multipart::new(stream, boundary);
        let mut fields = BTreeMap::new();
        let mut file = None;
        loop {
            let mut field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Body::Invalid(format!("bad multipart body: {e}")),
            };
            let name = field.name().unwrap_or("").to_string();
            if let Some(file_name) = field.file_name().map(str::to_string) {
                // Stream the file: count and hash it, keep it only if small.
                let mut hasher = sha2::Sha256::new();
                let mut len = 0u64;
                let mut kept = Some(Vec::new());
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            hasher.update(&chunk);
                            len += chunk.len() as u64;
                            if len > 4 << 20 {
                                kept = None;
                            } else if let Some(k) = kept.as_mut() {
                                k.extend_from_slice(&chunk);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return Body::Invalid(format!("bad multipart body: {e}")),
                    }
                }
                let hash = hasher
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                fields.insert(name, "<binary>".into());
                file = Some((file_name, len, hash, kept));
            } else {
                match field.text().await {
                    Ok(t) => {
                        fields.insert(name, t);
                    }
                    Err(e) => return Body::Invalid(format!("bad multipart body: {e}")),
                }
            }
        }
        return Body::Form { fields, file };
    }
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Body::Invalid(format!("body: {e}")),
    };
    if bytes.is_empty() {
        return Body::None;
    }
    match serde_json::from_slice(&bytes) {
        Ok(v) => Body::Json(v),
        Err(e) => Body::Invalid(format!("body is not JSON: {e}")),
    }
}

fn check_body(spec: &'static Spec, op: &Value, content_type: &str, body: &Body) -> Vec<String> {
    let request_body = op.get("requestBody");
    let required = request_body
        .and_then(|r| r.get("required"))
        .and_then(|r| r.as_bool())
        .unwrap_or(false);
    let mime = content_type.split(';').next().unwrap_or("").trim();
    match body {
        Body::Invalid(e) => vec![e.clone()],
        Body::None if required => vec!["the request body is required".into()],
        Body::None => vec![],
        _ => {
            let Some(schema) = request_body
                .and_then(|r| r.get("content"))
                .and_then(|c| c.get(mime))
                .and_then(|c| c.get("schema"))
            else {
                return vec![format!("the spec takes no `{mime}` body here")];
            };
            let instance = match body {
                Body::Json(v) => v.clone(),
                Body::Form { fields, .. } => json!(fields),
                _ => unreachable!(),
            };
            spec.check(schema, &instance).err().unwrap_or_default()
        }
    }
}

const BASE_MODELS: &[&str] = &[
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06",
    "gpt-4.1-mini-2025-04-14",
    "gpt-3.5-turbo-0125",
];

/// Does the work of a valid, authorised request to the OpenAI API.
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
        ("POST", "/files") => {
            let (fields, (name, len, sha256, content)) = match form_body(body) {
                Ok(form) => form,
                Err(refused) => return refused,
            };
            let purpose = fields.get("purpose").cloned().unwrap_or_default();
            if purpose == "fine-tune" && !name.ends_with(".jsonl") {
                return bad(&format!(
                    "Invalid file format for Fine-Tuning API. Must be .jsonl (got {name})"
                ));
            }
            let id = st.next_id("file");
            let created = st.tick();
            let json = json!({
                "id": id, "object": "file", "bytes": len, "created_at": created,
                "filename": name, "purpose": purpose, "status": "processed"
            });
            st.files.push(StoredFile {
                json: json.clone(),
                sha256,
                content,
            });
            (200, json)
        }
        ("GET", "/files") => {
            let purpose = q.get("purpose");
            let mut data: Vec<Value> = st
                .files
                .iter()
                .rev()
                .filter(|f| purpose.is_none_or(|p| f.json["purpose"] == json!(p)))
                .map(|f| f.json.clone())
                .collect();
            if let Some(after) = q.get("after") {
                if let Some(i) = data.iter().position(|f| f["id"] == json!(after)) {
                    data.drain(..=i);
                }
            }
            let limit = q
                .get("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10_000usize);
            let has_more = data.len() > limit;
            data.truncate(limit);
            let first = data.first().map(|f| f["id"].clone()).unwrap_or(json!(""));
            let last = data.last().map(|f| f["id"].clone()).unwrap_or(json!(""));
            (
                200,
                json!({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": has_more}),
            )
        }
        ("POST", "/fine_tuning/jobs") => {
            let req = match json_body(body) {
                Ok(req) => req,
                Err(refused) => return refused,
            };
            let model = req["model"].as_str().unwrap_or("").to_string();
            if !BASE_MODELS.contains(&model.as_str()) {
                return (
                    400,
                    json!({"error": {"message": format!("Model {model} is not available for fine-tuning or does not exist."), "type": "invalid_request_error", "param": "model", "code": "model_not_available"}}),
                );
            }
            if let Some(refused) = unknown_file(&st, &req) {
                return refused;
            }
            let id = st.next_id("ftjob");
            let created = st.tick();
            let method = req
                .get("method")
                .cloned()
                .unwrap_or(json!({"type": "supervised"}));
            let hp = method
                .get(method["type"].as_str().unwrap_or("supervised"))
                .and_then(|m| m.get("hyperparameters"))
                .cloned()
                .unwrap_or(json!({}));
            let n_epochs = hp.get("n_epochs").cloned().unwrap_or(json!("auto"));
            let json = json!({
                "object": "fine_tuning.job", "id": id, "model": model, "created_at": created,
                "fine_tuned_model": null, "finished_at": null, "organization_id": "org-fake",
                "result_files": [], "status": "validating_files", "validation_file": req.get("validation_file").cloned().unwrap_or(Value::Null),
                "training_file": req["training_file"], "hyperparameters": {"n_epochs": n_epochs},
                "trained_tokens": null, "error": null, "seed": req.get("seed").cloned().unwrap_or(json!(42)),
                "estimated_finish": null, "method": method, "metadata": req.get("metadata").cloned().unwrap_or(Value::Null),
                "integrations": null
            });
            let fail = st.fail_jobs;
            let mut job = FakeJob {
                json: json.clone(),
                events: Vec::new(),
                checkpoints: Vec::new(),
                polls: 0,
                fail,
            };
            add_event(
                &mut st,
                &mut job,
                "info",
                &format!("Created fine-tuning job: {id}"),
                None,
            );
            add_event(&mut st, &mut job, "info", "Validating training file", None);
            st.jobs.push(job);
            (200, json)
        }
        ("GET", "/fine_tuning/jobs") => {
            let filter: BTreeMap<String, String> = q
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("metadata[")
                        .and_then(|r| r.strip_suffix(']'))
                        .map(|mk| (mk.to_string(), v.clone()))
                })
                .collect();
            let mut data: Vec<Value> = st
                .jobs
                .iter()
                .rev()
                .filter(|j| {
                    filter
                        .iter()
                        .all(|(k, v)| j.json["metadata"][k] == json!(v))
                })
                .map(|j| j.json.clone())
                .collect();
            page(&mut data, &q, 20)
        }
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}") => {
            update_job(&mut st, segs[2], |st, job| {
                advance(st, job);
                None
            })
        }
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel") => {
            update_job(&mut st, segs[2], |st, job| {
                let status = job.json["status"].as_str().unwrap_or("").to_string();
                if matches!(status.as_str(), "succeeded" | "failed" | "cancelled") {
                    let id = &job.json["id"];
                    return Some(bad(&format!("Job {id} has already {status}.")));
                }
                job.json["status"] = json!("cancelled");
                job.json["finished_at"] = json!(st.tick());
                add_event(st, job, "info", "Fine-tuning job cancelled", None);
                None
            })
        }
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events") => {
            let id = segs[2];
            let Some(job) = st.jobs.iter().find(|j| j.json["id"] == json!(id)) else {
                return not_found(id);
            };
            let mut data: Vec<Value> = job.events.iter().rev().cloned().collect();
            let (status, mut body) = page(&mut data, &q, 20);
            body.as_object_mut().unwrap().remove("first_id");
            body.as_object_mut().unwrap().remove("last_id");
            (status, body)
        }
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints") => {
            let id = segs[2];
            let Some(job) = st.jobs.iter().find(|j| j.json["id"] == json!(id)) else {
                return not_found(id);
            };
            let mut data: Vec<Value> = job.checkpoints.iter().rev().cloned().collect();
            page(&mut data, &q, 10)
        }
        ("POST", "/chat/completions") => {
            let req = match json_body(body) {
                Ok(req) => req,
                Err(refused) => return refused,
            };
            let model = req["model"].as_str().unwrap_or("").to_string();
            let known = BASE_MODELS.contains(&model.as_str())
                || st
                    .jobs
                    .iter()
                    .any(|j| j.json["fine_tuned_model"] == json!(model));
            if !known {
                return (
                    404,
                    json!({"error": {"message": format!("The model `{model}` does not exist or you do not have access to it."), "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
                );
            }
            let prompt = last_message(&req);
            let created = st.tick();
            let id = st.next_id("chatcmpl");
            let text = completion_for(&model, &prompt);
            if req.get("stream") == Some(&json!(true)) {
                // A role chunk, one chunk per word, and a final chunk with the finish reason.
                let chunk = |delta: Value, finish: Value| {
                    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
                };
                let mut chunks = vec![chunk(
                    json!({"role": "assistant", "content": ""}),
                    Value::Null,
                )];
                let words: Vec<&str> = text.split_inclusive(' ').collect();
                chunks.extend(
                    words
                        .iter()
                        .map(|w| chunk(json!({"content": w}), Value::Null)),
                );
                chunks.push(chunk(json!({}), json!("stop")));
                return (200, json!({"__sse__": chunks}));
            }
            (
                200,
                json!({
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null,
                                 "message": {"role": "assistant", "content": text, "refusal": null}}],
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

/// A router's answer to a request it cannot serve.
pub fn bad_request(message: &str) -> (u16, Value) {
    (400, error_body(message, "invalid_request_error", None))
}

/// A request's path segments (after `/v1`) and query parameters.
pub fn request_parts<'a>(path: &'a str, query: &str) -> (Vec<&'a str>, BTreeMap<String, String>) {
    (
        path.trim_matches('/').split('/').collect(),
        parse_query(query).into_iter().collect(),
    )
}

/// The JSON body, or the 400 answer.
pub fn json_body(body: Body) -> Result<Value, (u16, Value)> {
    match body {
        Body::Json(value) => Ok(value),
        _ => Err(bad_request("expected a JSON body")),
    }
}

/// An uploaded file: its name, length, SHA-256 and (small) content.
pub type Upload = (String, u64, String, Option<Vec<u8>>);

/// A multipart body's text fields and file, or the 400 answer.
pub fn form_body(body: Body) -> Result<(BTreeMap<String, String>, Upload), (u16, Value)> {
    match body {
        Body::Form {
            fields,
            file: Some(file),
        } => Ok((fields, file)),
        Body::Form { file: None, .. } => Err(bad_request("missing file")),
        _ => Err(bad_request("expected a multipart body")),
    }
}

/// The 400 answer to a job request naming a training or validation file never uploaded.
pub fn unknown_file(st: &State, request: &Value) -> Option<(u16, Value)> {
    ["training_file", "validation_file"]
        .into_iter()
        .find_map(|key| {
            let id = request.get(key).and_then(|v| v.as_str())?;
            let known = st.files.iter().any(|f| f.json["id"] == json!(id));
            (!known).then(|| bad_request(&format!("invalid {key}: {id} does not exist")))
        })
}

/// Job `id` changed by `change` on a copy that replaces it only when `change` returns no
/// error answer; the answer is the job (as the APIs answer a get or a cancel).
pub fn update_job(
    st: &mut State,
    id: &str,
    change: impl FnOnce(&mut State, &mut FakeJob) -> Option<(u16, Value)>,
) -> (u16, Value) {
    let Some(i) = st.jobs.iter().position(|j| j.json["id"] == json!(id)) else {
        return not_found(id);
    };
    let mut job = st.jobs[i].clone();
    if let Some(refused) = change(st, &mut job) {
        return refused;
    }
    let json = job.json.clone();
    st.jobs[i] = job;
    (200, json)
}

/// The text of a chat request's last message.
pub fn last_message(request: &Value) -> String {
    request["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}

/// What the fake answers for a completion, so tests can check it came through unchanged.
pub fn completion_for(model: &str, prompt: &str) -> String {
    format!(
        "{model} says: {} words received",
        prompt.split_whitespace().count()
    )
}

pub fn not_found(id: &str) -> (u16, Value) {
    (
        404,
        json!({"error": {"message": format!("Could not find fine-tuning job {id}."), "type": "invalid_request_error", "param": null, "code": "fine_tune_not_found"}}),
    )
}

/// Cursor paging over newest-first `data`: `after` is the id of the last item already seen.
pub fn page(
    data: &mut Vec<Value>,
    q: &BTreeMap<String, String>,
    default_limit: usize,
) -> (u16, Value) {
    if let Some(after) = q.get("after") {
        if let Some(i) = data.iter().position(|d| d["id"] == json!(after)) {
            data.drain(..=i);
        }
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default_limit);
    let has_more = data.len() > limit;
    data.truncate(limit);
    let first = data.first().map(|d| d["id"].clone()).unwrap_or(Value::Null);
    let last = data.last().map(|d| d["id"].clone()).unwrap_or(Value::Null);
    (
        200,
        json!({"object": "list", "data": data, "has_more": has_more, "first_id": first, "last_id": last}),
    )
}

fn add_event(
    st: &mut State,
    job: &mut FakeJob,
    level: &str,
    message: &str,
    metrics: Option<Value>,
) {
    let id = st.next_id("ftevent");
    let created = st.tick();
    let mut e = json!({"object": "fine_tuning.job.event", "id": id, "created_at": created, "level": level, "message": message, "type": "message"});
    if let Some(m) = metrics {
        e["type"] = json!("metrics");
        e["data"] = m;
    }
    job.events.push(e);
}

const TOTAL_STEPS: u64 = 3;

/// One step of the job's life per poll.
fn advance(st: &mut State, job: &mut FakeJob) {
    let status = job.json["status"].as_str().unwrap_or("").to_string();
    if matches!(status.as_str(), "succeeded" | "failed" | "cancelled") {
        return;
    }
    job.polls += 1;
    let id = job.json["id"].as_str().unwrap_or("").to_string();
    match status.as_str() {
        "validating_files" => {
            job.json["status"] = json!("queued");
            add_event(
                st,
                job,
                "info",
                "Files validated, moving job to queued state",
                None,
            );
        }
        "queued" if job.fail => {
            job.json["status"] = json!("failed");
            job.json["finished_at"] = json!(st.tick());
            job.json["error"] = json!({"code": "invalid_training_file", "message": "The job failed due to an invalid training file.", "param": "training_file"});
            add_event(
                st,
                job,
                "error",
                "The job failed due to an invalid training file.",
                None,
            );
        }
        "queued" => {
            job.json["status"] = json!("running");
            add_event(
                st,
                job,
                "info",
                &format!("Fine-tuning job started: {id}"),
                None,
            );
        }
        "running" => {
            let step = job
                .events
                .iter()
                .filter(|e| e["type"] == json!("metrics"))
                .count() as u64
                + 1;
            let loss = 2.0 / step as f64;
            add_event(
                st,
                job,
                "info",
                &format!("Step {step}/{TOTAL_STEPS}: training loss={loss:.2}"),
                Some(
                    json!({"step": step, "total_steps": TOTAL_STEPS, "train_loss": loss, "train_mean_token_accuracy": 0.5}),
                ),
            );
            if step == TOTAL_STEPS {
                let model = format!(
                    "ft:{}:org-fake::{}",
                    job.json["model"].as_str().unwrap_or(""),
                    id.trim_start_matches("ftjob-")
                );
                let ck_id = st.next_id("ftckpt");
                let created = st.tick();
                job.checkpoints.push(json!({
                    "object": "fine_tuning.job.checkpoint", "id": ck_id, "created_at": created,
                    "fine_tuned_model_checkpoint": format!("{model}:ckpt-step-{step}"),
                    "step_number": step, "fine_tuning_job_id": id,
                    "metrics": {"step": step as f64, "train_loss": loss, "train_mean_token_accuracy": 0.5}
                }));
                job.json["status"] = json!("succeeded");
                job.json["fine_tuned_model"] = json!(model);
                job.json["finished_at"] = json!(st.tick());
                job.json["trained_tokens"] = json!(1234);
                add_event(st, job, "info", "The job has successfully completed", None);
            }
        }
        _ => {}
    }
}
