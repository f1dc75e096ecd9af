//! A minimal LSP client over a child process's stdio, for the end-to-end tests and the latency
//! benchmark: Content-Length framing, requests matched by id, notifications queued, and the
//! server's own requests (applyEdit, progress create, registerCapability) answered.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(60);

pub struct Client {
    pub child: Child,
    stdin: ChildStdin,
    rx: Receiver<(Value, Instant)>,
    /// When the last message `next_message` returned was fully read from the server (before
    /// it was parsed): what a latency measurement of the server should stop at.
    pub last_arrival: Instant,
    next_id: i64,
    /// Notifications not consumed yet.
    pub inbox: VecDeque<Value>,
    /// Requests the server sent us (already answered), in order.
    pub server_requests: Vec<Value>,
    /// Whether to accept `workspace/applyEdit` (answered `applied: true`).
    pub apply_edits: bool,
    /// While set, nothing more is read from the server's stdout (a client that reads slowly).
    reading_paused: Arc<AtomicBool>,
}

/// Reads one frame's body; None at end of stream. Panics on a malformed frame: anything but
/// the protocol on the server's stdout is a bug.
fn read_frame(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line on the server's stdout: {header:?}"));
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>().expect("numeric length"));
        }
    }
    let mut body = vec![0; length.expect("Content-Length header")];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}

fn is_server_request(msg: &Value) -> bool {
    msg.get("method").is_some() && msg.get("id").is_some_and(|id| !id.is_null())
}

impl Client {
    pub fn spawn(binary: &Path, cwd: &Path) -> Client {
        Client::spawn_with_env(binary, cwd, &[])
    }

    /// A server with these environment variables set (an API key for one test only).
    pub fn spawn_with_env(binary: &Path, cwd: &Path, env: &[(&str, &str)]) -> Client {
        let mut child = Command::new(binary)
            .arg("lsp")
            .current_dir(cwd)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start voicetune lsp");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reading_paused = Arc::new(AtomicBool::new(false));
        let paused = reading_paused.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                while paused.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let Some(frame) = read_frame(&mut reader) else {
                    break;
                };
                let arrived = Instant::now();
                let msg = serde_json::from_slice(&frame).expect("server sent valid JSON");
                if tx.send((msg, arrived)).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            stdin,
            rx,
            last_arrival: Instant::now(),
            next_id: 1,
            inbox: VecDeque::new(),
            server_requests: Vec::new(),
            apply_edits: true,
            reading_paused,
        }
    }

    /// Stops reading the server's stdout (at most the frame being read still arrives), so the
    /// pipe fills and the server's writes wait, until [`Client::resume_reading`].
    pub fn pause_reading(&self) {
        self.reading_paused.store(true, Ordering::SeqCst);
    }

    pub fn resume_reading(&self) {
        self.reading_paused.store(false, Ordering::SeqCst);
    }

    pub fn send_raw(&mut self, body: &[u8]) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(body).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn send(&mut self, msg: &Value) {
        self.send_raw(msg.to_string().as_bytes());
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its whole response (`result` or `error`).
    pub fn request_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_response(id)
    }

    pub fn wait_response(&mut self, id: i64) -> Value {
        self.wait_response_within(id, TIMEOUT)
    }

    /// The response to `id`, waiting up to `timeout` (work slower than the protocol: a model).
    pub fn wait_response_within(&mut self, id: i64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self
                .next_message(deadline)
                .expect("response before timeout");
            if msg.get("method").is_none() && msg["id"] == json!(id) {
                return msg;
            }
            self.handle(msg);
        }
    }

    /// Sends a request and returns its `result`, panicking on an error response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.request_raw(method, params);
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    fn next_message(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok((msg, arrived)) => {
                self.last_arrival = arrived;
                Some(msg)
            }
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Queues a notification or answers a server request.
    fn handle(&mut self, msg: Value) {
        match (msg.get("method").and_then(Value::as_str), msg.get("id")) {
            (Some(method), Some(id)) => {
                let result = match method {
                    "workspace/applyEdit" => json!({"applied": self.apply_edits}),
                    // A person pressing the first button (e.g. "Start fine-tune ($0.01)").
                    "window/showMessageRequest" => msg["params"]["actions"][0].clone(),
                    _ => Value::Null,
                };
                let id = id.clone();
                self.server_requests.push(msg);
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
            }
            (Some(_), None) => self.inbox.push_back(msg),
            _ => self.inbox.push_back(msg), // a response nobody waits for
        }
    }

    /// Waits for a notification matching `pred` (earlier unmatched ones stay queued).
    pub fn wait_notification(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        self.try_wait_notification(&pred, TIMEOUT)
            .expect("the expected notification before the timeout")
    }

    pub fn try_wait_notification(
        &mut self,
        pred: &impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return self.inbox.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self.next_message(deadline)?;
            if !is_server_request(&msg) && pred(&msg) {
                return Some(msg);
            }
            self.handle(msg);
        }
    }

    /// Waits for the server request matching `pred` (answered automatically).
    pub fn wait_server_request(&mut self, method: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(r) = self.server_requests.iter().find(|r| r["method"] == method) {
                return r.clone();
            }
            let msg = self
                .next_message(deadline)
                .expect("server request before timeout");
            self.handle(msg);
        }
    }

    /// The next `publishDiagnostics` for `uri` (optionally of a given version).
    pub fn diagnostics(&mut self, uri: &str, version: Option<i64>) -> Value {
        self.wait_notification(|m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && version.is_none_or(|v| m["params"]["version"] == json!(v))
        })["params"]
            .clone()
    }

    pub fn initialize(&mut self, capabilities: Value, options: Value) -> Value {
        let result = self.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": capabilities,
                   "initializationOptions": options}),
        );
        self.notify("initialized", json!({}));
        result
    }

    pub fn open(&mut self, uri: &str, language: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": version, "text": text}}),
        );
    }

    pub fn change(&mut self, uri: &str, version: i64, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}),
        );
    }

    /// shutdown + exit; returns the exit status.
    pub fn shutdown(mut self) -> std::process::ExitStatus {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit after `exit`");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `file://` URI for a path.
pub fn file_uri(path: &Path) -> String {
    let path = std::path::absolute(path).unwrap();
    let mut out = String::from("file://");
    for byte in path.to_string_lossy().bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The UTF-16 column of byte `byte` in `line` (an independent conversion to check the server's).
pub fn utf16_col(line: &str, byte: usize) -> usize {
    line[..byte].encode_utf16().count()
}

/// (line, UTF-16 column) of a byte offset in `text`.
pub fn utf16_pos(text: &str, byte: usize) -> (usize, usize) {
    let line_start = text[..byte].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..byte].matches('\n').count();
    (line, utf16_col(&text[line_start..], byte - line_start))
}

/// Applies LSP text edits (UTF-16 positions) to `text`, as an editor would.
pub fn apply_text_edits(text: &str, edits: &[Value]) -> String {
    let offset = |pos: &Value| -> usize {
        let line = pos["line"].as_u64().unwrap() as usize;
        let col = pos["character"].as_u64().unwrap() as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let line_text = text[start..].split('\n').next().unwrap_or("");
        let mut units = 0;
        for (i, c) in line_text.char_indices() {
            if units >= col {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + line_text.len()
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort_by_key(|s| s.0);
    let mut out = String::new();
    let mut at = 0;
    for (start, end, new) in spans {
        assert!(start >= at, "overlapping edits");
        out.push_str(&text[at..start]);
        out.push_str(&new);
        at = end;
    }
    out + &text[at..]
}
