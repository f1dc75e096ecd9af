//! A guard in front of tower-lsp-server's stdio transport. Its framed reader ends the stream at
//! the first undecodable message (malformed JSON, a JSON value that is not JSON-RPC, a bad
//! header), which would stop the server. So we frame stdin ourselves, pass only well-formed
//! JSON-RPC messages on, and answer the rest with a JSON-RPC error (`-32700` parse error or
//! `-32600` invalid request, id null) written between the server's own frames on stdout.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

/// Frame bodies are refused above this size (a bad Content-Length must not exhaust memory).
const MAX_BODY: usize = 1 << 30;

/// One frame from a stream: Ok(None) at end of input, Err(reason) for a frame to reject (the
/// stream stays usable).
async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<Option<Result<Vec<u8>, String>>> {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue; // stray blank line between frames
        }
        saw_header = true;
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| format!("bad Content-Length {:?}", value.trim())),
                );
            }
        }
    }
    match length {
        Some(Ok(n)) if n <= MAX_BODY => {
            let mut body = vec![0; n];
            reader.read_exact(&mut body).await?;
            Ok(Some(Ok(body)))
        }
        Some(Ok(n)) => Ok(Some(Err(format!("message of {n} bytes is too large")))),
        Some(Err(e)) => Ok(Some(Err(e))),
        None => Ok(Some(Err("missing Content-Length header".into()))),
    }
}

/// A whole frame on its way to stdout; `written`, when set, is told once the frame was written
/// (or dropped because the client is gone), which lets a sender wait for a slow client.
pub struct Frame {
    pub bytes: Vec<u8>,
    pub written: Option<tokio::sync::oneshot::Sender<()>>,
}

impl From<Vec<u8>> for Frame {
    fn from(bytes: Vec<u8>) -> Frame {
        Frame {
            bytes,
            written: None,
        }
    }
}

/// A JSON-RPC notification serialized in one pass into a whole frame.
pub fn notification_frame<P: serde::Serialize>(method: &str, params: &P) -> Option<Vec<u8>> {
    #[derive(serde::Serialize)]
    struct Notification<'a, P> {
        jsonrpc: &'static str,
        method: &'a str,
        params: &'a P,
    }
    let body = serde_json::to_vec(&Notification {
        jsonrpc: "2.0",
        method,
        params,
    })
    .ok()?;
    Some(frame(&body))
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Whether tower-lsp-server will decode this message. Checked on a shallow copy whose `params`
/// and `result` (which accept any JSON) are emptied, so a large message is not copied.
fn is_jsonrpc(value: &Value) -> bool {
    let Value::Object(map) = value else {
        return false;
    };
    let light: serde_json::Map<String, Value> = map
        .iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("params" | "result", Value::Object(_)) => json!({}),
                ("params" | "result", Value::Array(_)) => json!([]),
                ("params" | "result", Value::String(_)) => json!(""),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    let light = Value::Object(light);
    serde_json::from_value::<Request>(light.clone()).is_ok()
        || serde_json::from_value::<Response>(light).is_ok()
}

/// didOpen texts above this size are handed to the server (`didOpen`) through [`take_large_text`]
/// instead of through tower-lsp-server, whose read buffer keeps the capacity of the largest
/// message it ever decoded (a 75 MB dataset would stay resident twice).
const LARGE_TEXT: usize = 1 << 20;

type Stash = Mutex<HashMap<(String, i64), String>>;

fn stash() -> &'static Stash {
    static STASH: OnceLock<Stash> = OnceLock::new();
    STASH.get_or_init(Stash::default)
}

/// The text of a large didOpen of `uri` at `version`, taken out of the message on its way in.
pub fn take_large_text(uri: &str, version: i32) -> Option<String> {
    stash()
        .lock()
        .ok()?
        .remove(&(uri.to_string(), i64::from(version)))
}

/// Moves a large didOpen text into the stash (the message goes on with an empty text).
fn stash_large_text(value: &mut Value) {
    if value.get("method").and_then(Value::as_str) != Some("textDocument/didOpen") {
        return;
    }
    let Some(doc) = value.pointer_mut("/params/textDocument") else {
        return;
    };
    let (Some(uri), Some(version)) = (
        doc.get("uri").and_then(Value::as_str).map(str::to_string),
        doc.get("version").and_then(Value::as_i64),
    ) else {
        return;
    };
    if let Some(Value::String(text)) = doc.get_mut("text") {
        if text.len() > LARGE_TEXT {
            let text = std::mem::take(text);
            if let Ok(mut stash) = stash().lock() {
                stash.insert((uri, version), text);
            }
        }
    }
}

/// Checks a client message; Ok(body to forward) or Err((code, message)) to answer.
fn admit(body: Vec<u8>) -> Result<Vec<u8>, (i64, String)> {
    let mut value: Value =
        serde_json::from_slice(&body).map_err(|e| (-32700, format!("Parse error: {e}")))?;
    if !is_jsonrpc(&value) {
        return Err((-32600, "Invalid request: not a JSON-RPC 2.0 message".into()));
    }
    if body.len() > LARGE_TEXT {
        stash_large_text(&mut value);
        drop(body);
        return Ok(value.to_string().into_bytes());
    }
    Ok(body)
}

/// Copies client frames from `input` to `to_server`, rejecting what the server cannot decode.
/// `closing` is called when the input ends or the client sends `exit` (the message still goes
/// on to the server).
pub async fn filter_input(
    input: impl AsyncRead + Unpin,
    mut to_server: impl AsyncWrite + Unpin,
    errors: mpsc::UnboundedSender<Frame>,
    closing: impl Fn(),
) {
    let mut reader = BufReader::new(input);
    loop {
        let body = match read_frame(&mut reader).await {
            Ok(Some(Ok(body))) => body,
            Ok(Some(Err(reason))) => {
                eprintln!("voicetune lsp: rejected a message: {reason}");
                let _ = errors.send(error_response(-32700, &reason).into());
                continue;
            }
            Ok(None) | Err(_) => break, // end of input: the server shuts down
        };
        match admit(body) {
            Ok(body) => {
                let exit = is_exit(&body);
                // Header and body written separately: no second copy of a large message.
                let header = format!("Content-Length: {}\r\n\r\n", body.len());
                if to_server.write_all(header.as_bytes()).await.is_err()
                    || to_server.write_all(&body).await.is_err()
                {
                    break;
                }
                let _ = to_server.flush().await;
                if exit {
                    closing();
                }
            }
            Err((code, message)) => {
                eprintln!("voicetune lsp: rejected a message: {message}");
                let _ = errors.send(error_response(code, &message).into());
            }
        }
    }
    closing();
    let _ = to_server.shutdown().await;
}

/// Whether an admitted message is the `exit` notification (small: checked without parsing a
/// large message again).
fn is_exit(body: &[u8]) -> bool {
    body.len() < 256
        && serde_json::from_slice::<Value>(body)
            .is_ok_and(|v| v.get("method").and_then(Value::as_str) == Some("exit"))
}

fn error_response(code: i64, message: &str) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    frame(body.to_string().as_bytes())
}

/// Forwards the server's frames, whole, to the output queue (shared with our error replies).
pub async fn pump_frames(from_server: impl AsyncRead + Unpin, out: mpsc::UnboundedSender<Frame>) {
    let mut reader = BufReader::new(from_server);
    while let Ok(Some(body)) = read_frame(&mut reader).await {
        if let Ok(body) = body {
            if out.send(frame(&body).into()).is_err() {
                break;
            }
        }
    }
}

/// Writes queued frames to `output` until an empty frame (the end marker) or a closed queue.
pub async fn write_frames(
    mut frames: mpsc::UnboundedReceiver<Frame>,
    mut output: impl AsyncWrite + Unpin,
) {
    while let Some(f) = frames.recv().await {
        if f.bytes.is_empty() || output.write_all(&f.bytes).await.is_err() {
            break;
        }
        let _ = output.flush().await;
        if let Some(written) = f.written {
            let _ = written.send(());
        }
    }
    let _ = output.flush().await;
}
