//! The files endpoints: streamed uploads that are never sent twice, and lookups of earlier ones.

use super::client::{Client, Repeat, UploadProgress};
use super::error::Error;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// `#/components/schemas/OpenAIFile` (the fields we read).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct OpenAiFile {
    pub id: String,
    pub bytes: u64,
    pub created_at: i64,
    pub filename: String,
    pub purpose: String,
    #[serde(default)]
    pub status: Option<String>,
}

/// `#/components/schemas/ListFilesResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct FileList {
    pub data: Vec<OpenAiFile>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub last_id: Option<String>,
}

/// How a provider takes uploads: where the multipart form goes and which fields it has
/// besides `purpose` and `file`, and how its file list is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRoute {
    /// The form's path (`files`, `files/upload`).
    pub path: &'static str,
    /// Also send the name as `file_name` and the type as `file_type: jsonl`.
    pub name_fields: bool,
    /// `GET files` takes a `purpose` filter.
    pub list_by_purpose: bool,
}

/// OpenAI's `POST /files`.
pub const OPENAI_UPLOAD: UploadRoute = UploadRoute {
    path: "files",
    name_fields: false,
    list_by_purpose: true,
};

/// Together's `POST /files/upload` (`purpose`, `file_name`, `file_type`, `file`).
pub const TOGETHER_UPLOAD: UploadRoute = UploadRoute {
    path: "files/upload",
    name_fields: true,
    list_by_purpose: false,
};

impl Client {
    /// Uploads `path` for fine-tuning through OpenAI's route ([`Client::upload_file_via`]).
    pub async fn upload_file(
        &self,
        path: &Path,
        purpose: &str,
        progress: Option<UploadProgress>,
    ) -> Result<OpenAiFile, Error> {
        self.upload_file_via(&OPENAI_UPLOAD, path, purpose, progress)
            .await
    }

    /// Uploads `path` for fine-tuning, streamed from disk, unless a file with the same name and
    /// size is already there (names carry a content hash, see [`upload_name`]), in which case
    /// that one is returned: a retry or a restart never uploads the same data twice.
    pub async fn upload_file_via(
        &self,
        route: &UploadRoute,
        path: &Path,
        purpose: &str,
        progress: Option<UploadProgress>,
    ) -> Result<OpenAiFile, Error> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = tokio::fs::metadata(path).await.map_err(io)?.len();
        let name = upload_name(path).await.map_err(io)?;
        if let Some(existing) = self.find_file_via(route, &name, len, purpose).await? {
            return Ok(existing);
        }
        let what = format!("uploading {}", path.display());
        // A slow link must not trip the per-call timeout: allow 4 s per MB on top (>= 256 KB/s).
        let timeout = self.timeouts.call + Duration::from_secs(4 * len / 1_000_000);
        let build = || {
            let path = path.to_path_buf();
            let name = name.clone();
            let purpose = purpose.to_string();
            let progress = progress.clone();
            async move {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                let mut sent = 0u64;
                let stream = futures_util::StreamExt::inspect(
                    tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024),
                    move |chunk| {
                        if let (Ok(c), Some(p)) = (chunk, &progress) {
                            sent += c.len() as u64;
                            p(sent, len);
                        }
                    },
                );
                let part = reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::wrap_stream(stream),
                    len,
                )
                .file_name(name.clone())
                .mime_str("application/jsonl")
                .expect("static mime type is valid");
                let mut form = reqwest::multipart::Form::new().text("purpose", purpose);
                if route.name_fields {
                    form = form.text("file_name", name).text("file_type", "jsonl");
                }
                let form = form.part("file", part);
                Ok(self
                    .http
                    .post(self.url(route.path))
                    .multipart(form)
                    .timeout(timeout))
            }
        };
        let probe = || self.find_file_via(route, &name, len, purpose);
        self.execute(&what, Repeat::Probe, build, probe).await
    }

    /// A file already uploaded with this name and size (and not in error).
    pub async fn find_file(
        &self,
        name: &str,
        len: u64,
        purpose: &str,
    ) -> Result<Option<OpenAiFile>, Error> {
        self.find_file_via(&OPENAI_UPLOAD, name, len, purpose).await
    }

    /// [`Client::find_file`] on a provider's file list.
    pub async fn find_file_via(
        &self,
        route: &UploadRoute,
        name: &str,
        len: u64,
        purpose: &str,
    ) -> Result<Option<OpenAiFile>, Error> {
        let mut after: Option<String> = None;
        // Bounded: a project with more files than this simply gets a fresh upload.
        for _ in 0..20 {
            let mut query = Vec::new();
            if route.list_by_purpose {
                query.push(("purpose", purpose.to_string()));
            }
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let list: FileList = self.get_json("listing files", "files", &query).await?;
            if let Some(f) = list.data.iter().find(|f| {
                f.filename == name
                    && f.bytes == len
                    && f.purpose == purpose
                    && f.status.as_deref() != Some("error")
            }) {
                return Ok(Some(f.clone()));
            }
            match (list.has_more, list.data.last()) {
                (true, Some(last)) => after = Some(last.id.clone()),
                _ => break,
            }
        }
        Ok(None)
    }
}

/// The name a file is uploaded under: `<stem>-<first 12 hex digits of its SHA-256>.jsonl`, so
/// the same content always has the same name and an earlier upload can be recognised.
pub async fn upload_name(path: &Path) -> std::io::Result<String> {
    let p = path.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        use sha2::Digest;
        use std::io::Read;
        let mut file = std::fs::File::open(&p)?;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect())
    })
    .await
    .map_err(std::io::Error::other)??;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    // Keep names portable: letters, digits, - _ . only.
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    Ok(format!("{stem}-{digest}.jsonl"))
}
