//! What a failed OpenAI call reports, and the API's own error body.

use serde::Deserialize;

/// A failed call, after any retries.
#[derive(Debug)]
pub enum Error {
    /// The API answered with an error status; `message` is the API's own message.
    Api {
        status: u16,
        message: String,
        kind: Option<String>,
        code: Option<String>,
        what: String,
    },
    /// No usable answer: connection refused, timed out, dropped (after retries).
    Transport { what: String, message: String },
    /// The answer did not have the shape the spec promises.
    Protocol { what: String, message: String },
    /// Missing key, bad base URL, bad id.
    Config(String),
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Api {
                status,
                message,
                kind,
                code,
                what,
            } => {
                write!(f, "{what}: the API answered {status}")?;
                match (kind, code) {
                    (Some(k), Some(c)) => write!(f, " ({k}, {c})")?,
                    (Some(x), None) | (None, Some(x)) => write!(f, " ({x})")?,
                    (None, None) => {}
                }
                write!(f, ": {message}")
            }
            Error::Transport { what, message } => write!(f, "{what}: {message}"),
            Error::Protocol { what, message } => {
                write!(f, "{what}: unexpected answer from the API: {message}")
            }
            Error::Config(m) => f.write_str(m),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `#/components/schemas/ErrorResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub param: Option<String>,
}
