//! `voicetune jobs download ID`: a Together job's output (`GET /finetune/download`), streamed
//! to a temp file and renamed into `.voicetune/downloads/` only once it is whole and checked:
//! its size against `Content-Length`, then its content — a zstd-compressed tar (as Together
//! sends it), a plain tar, or one safetensors file — read through, with every safetensors file
//! in it parsed (header, tensor sizes against the file's length). A LoRA adapter whose base
//! model the local runtime loads (SmolLM2-135M-Instruct) is unpacked into the voice's folder,
//! loaded onto the base model once as a check, and registered as a local voice; any other is
//! kept, with the base model it needs named.

use super::api_for;
use crate::config::Provider;
use crate::openai::RemoteConfig;
use crate::train::jobs::{Job, JobKind, JobStatus, JobStore};
use anyhow::{bail, Context};
use futures_util::StreamExt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Which output of a job to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// The final LoRA adapter (the default).
    Adapter,
    /// The final weights with the adapter merged in (as large as the base model).
    Merged,
    /// The checkpoint saved at this training step.
    Step(u64),
}

impl std::str::FromStr for Checkpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Checkpoint, String> {
        match s {
            "adapter" => Ok(Checkpoint::Adapter),
            "merged" => Ok(Checkpoint::Merged),
            step => step
                .parse()
                .map(Checkpoint::Step)
                .map_err(|_| format!("checkpoint `{s}`: use adapter, merged or a step number")),
        }
    }
}

impl Checkpoint {
    fn query(&self) -> (&'static str, String) {
        match self {
            Checkpoint::Adapter => ("checkpoint", "adapter".into()),
            Checkpoint::Merged => ("checkpoint", "merged".into()),
            Checkpoint::Step(n) => ("checkpoint_step", n.to_string()),
        }
    }

    fn label(&self) -> String {
        match self {
            Checkpoint::Adapter => "adapter".into(),
            Checkpoint::Merged => "merged".into(),
            Checkpoint::Step(n) => format!("step-{n}"),
        }
    }
}

/// What a download brought home.
#[derive(Debug, Clone, PartialEq)]
pub struct Downloaded {
    /// The archive (or safetensors file) as received, under `.voicetune/downloads/`.
    pub path: PathBuf,
    pub bytes: u64,
    /// `tar.zst`, `tar` or `safetensors`.
    pub format: &'static str,
    /// The files inside with their sizes.
    pub files: Vec<(String, u64)>,
    pub local: LocalVoice,
}

/// Whether the download became a local voice.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalVoice {
    Registered {
        name: String,
        adapter: PathBuf,
    },
    /// The adapter is for a base model the local runtime does not load.
    NeedsBaseModel(String),
    /// Not a LoRA adapter (merged weights, or no `adapter_config.json`).
    NotAnAdapter,
}

/// The base model the local runtime loads (as a GGUF with our kernels), by its Hugging Face id.
pub const LOCAL_BASE_MODEL: &str = crate::model::pull::DEFAULT_MODEL_HF_ID;

/// Downloads `checkpoint` of Together job `id` into `<workspace>/.voicetune/downloads/`, checks
/// it, and registers it as local voice `voice` (default: the job's voice name or id) when it
/// can. `progress` is told (bytes so far, total when known).
pub async fn download(
    workspace: &Path,
    config: &RemoteConfig,
    id: &str,
    checkpoint: &Checkpoint,
    voice: Option<&str>,
    progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
) -> anyhow::Result<Downloaded> {
    let job = JobStore::new(workspace).load(id)?;
    anyhow::ensure!(
        job.kind == JobKind::Remote && job.provider == Some(Provider::Together),
        "job {id} is not a Together job: only Together lets a fine-tuned model be downloaded"
    );
    if !matches!(checkpoint, Checkpoint::Step(_)) {
        anyhow::ensure!(
            job.status == JobStatus::Succeeded,
            "job {id} is {}: its final {} exists once it succeeded (a checkpoint step may be \
             downloaded before: --checkpoint STEP)",
            job.status,
            checkpoint.label()
        );
    }
    let dir = workspace.join(".voicetune").join("downloads");
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let target = dir.join(format!("{id}-{}.download", checkpoint.label()));
    let api = api_for(config, &job, None)?;
    let (query_key, query_value) = checkpoint.query();
    let query = [("ft_id", id.to_string()), (query_key, query_value)];
    // A connection that drops mid-body is a fresh download (the answer's head is retried by the
    // client itself).
    let mut attempt = 0;
    let (temp, bytes) = loop {
        let response = api
            .client
            .get_streaming(
                &format!("downloading job {id}"),
                "finetune/download",
                &query,
            )
            .await?;
        match receive(response, &target, progress).await {
            Ok(done) => break done,
            Err(e) => {
                let Some(delay) = api.client.retry_policy().delay(attempt, None) else {
                    return Err(e);
                };
                attempt += 1;
                tokio::time::sleep(delay).await;
            }
        }
    };
    // Check before the file takes its name: a broken download never looks like a good one.
    let checked = tokio::task::spawn_blocking({
        let path = temp.path().to_path_buf();
        move || inspect(&path)
    })
    .await??;
    let final_path = dir.join(format!("{id}-{}.{}", checkpoint.label(), checked.format));
    temp.persist(&final_path)
        .with_context(|| format!("{}: cannot write", final_path.display()))?;
    let local = if checked.adapter_config.is_none() {
        LocalVoice::NotAnAdapter
    } else {
        let base = base_model_of(&checked, &job);
        if is_local_base(&base) {
            let name = voice
                .map(str::to_string)
                .or_else(|| job.voice.clone().map(|v| format!("{v}-local")))
                .unwrap_or_else(|| format!("{id}-local"));
            crate::voices::check_path_name("voice name", &name)?;
            let adapter = register_local(workspace, &final_path, &name, &job).await?;
            LocalVoice::Registered { name, adapter }
        } else {
            LocalVoice::NeedsBaseModel(base)
        }
    };
    Ok(Downloaded {
        path: final_path,
        bytes,
        format: checked.format,
        files: checked.files,
        local,
    })
}

/// Streams the answer into a temp file beside `target`; checks the length the server promised.
async fn receive(
    response: reqwest::Response,
    target: &Path,
    progress: &(dyn Fn(u64, Option<u64>) + Send + Sync),
) -> anyhow::Result<(crate::fsutil::TempFile, u64)> {
    let total = response.content_length();
    let mut temp = crate::fsutil::TempFile::beside(target, "")
        .with_context(|| format!("{}: cannot create a temp file", target.display()))?;
    let mut received = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("the download broke off")?;
        temp.file()?.write_all(&chunk)?;
        received += chunk.len() as u64;
        progress(received, total);
    }
    if let Some(total) = total {
        anyhow::ensure!(
            received == total,
            "the download stopped at {received} of {total} bytes"
        );
    }
    anyhow::ensure!(received > 0, "the download is empty");
    temp.close()?;
    Ok((temp, received))
}

/// What [`inspect`] found in a downloaded file.
#[derive(Debug, Default)]
struct Inspected {
    format: &'static str,
    files: Vec<(String, u64)>,
    /// `adapter_config.json`, when there is one.
    adapter_config: Option<crate::model::adapter::PeftConfig>,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Reads a downloaded file through: its format from its first bytes, every tar entry (header
/// checksums, sizes), every safetensors file parsed.
fn inspect(path: &Path) -> anyhow::Result<Inspected> {
    let open = || std::fs::File::open(path).with_context(|| format!("{}", path.display()));
    let mut head = [0u8; 512];
    let n = read_up_to(&mut open()?, &mut head)?;
    let head = &head[..n];
    let mut found = Inspected::default();
    if head.starts_with(&ZSTD_MAGIC) {
        found.format = "tar.zst";
        let decoder = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(open()?))
            .map_err(|e| anyhow::anyhow!("{}: not a zstd archive: {e}", path.display()))?;
        walk_tar(decoder, &mut found)
    } else if n == 512 && &head[257..262] == b"ustar" {
        found.format = "tar";
        walk_tar(std::io::BufReader::new(open()?), &mut found)
    } else if n >= 9 && head[8] == b'{' {
        found.format = "safetensors";
        let len = std::fs::metadata(path)?.len();
        let name = "model.safetensors".to_string();
        check_safetensors(&name, &mut open()?, len)?;
        found.files.push((name, len));
        Ok(())
    } else {
        bail!(
            "{}: neither a zstd-compressed tar, a tar nor a safetensors file (first bytes {:02x?})",
            path.display(),
            &head[..n.min(8)]
        )
    }
    .with_context(|| format!("checking {}", path.display()))?;
    anyhow::ensure!(
        !found.files.is_empty(),
        "{}: the archive is empty",
        path.display()
    );
    Ok(found)
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Walks a tar stream: each entry's header checksum and size, its safetensors parsed, its
/// `adapter_config.json` read.
fn walk_tar(r: impl Read, found: &mut Inspected) -> anyhow::Result<()> {
    for_each_file(r, |name, size, entry| {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base.ends_with(".safetensors") {
            check_safetensors(name, entry, size)?;
        } else if base == crate::model::adapter::CONFIG_FILE {
            let mut text = String::new();
            entry.read_to_string(&mut text)?;
            found.adapter_config = Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{name}: not a PEFT adapter config"))?,
            );
        }
        found.files.push((name.to_string(), size));
        Ok(())
    })
}

/// Calls `on_file(name, size, content)` for each regular file of a tar stream, checking each
/// header's checksum and that no entry is cut short.
fn for_each_file(
    mut r: impl Read,
    mut on_file: impl FnMut(&str, u64, &mut dyn Read) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut header = [0u8; 512];
    let mut long_name: Option<String> = None;
    loop {
        if read_up_to(&mut r, &mut header)? < 512 {
            bail!("the tar archive ends inside a header (truncated)");
        }
        if header.iter().all(|b| *b == 0) {
            return Ok(());
        }
        let stored_sum = octal(&header[148..156]).context("a tar header has no checksum")?;
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    *b as u64
                }
            })
            .sum();
        anyhow::ensure!(sum == stored_sum, "a tar header's checksum is wrong");
        let size = octal(&header[124..136]).context("a tar header has no size")?;
        let name = long_name.take().unwrap_or_else(|| {
            let field = |r: std::ops::Range<usize>| {
                let f = &header[r];
                String::from_utf8_lossy(&f[..f.iter().position(|b| *b == 0).unwrap_or(f.len())])
                    .into_owned()
            };
            let (prefix, name) = (field(345..500), field(0..100));
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        });
        let mut entry = (&mut r).take(size);
        match header[156] {
            // GNU long name: the next entry's name is this entry's data.
            b'L' => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                long_name = Some(
                    String::from_utf8_lossy(&bytes)
                        .trim_end_matches('\0')
                        .into(),
                );
            }
            b'0' | 0 => on_file(&name, size, &mut entry)?,
            _ => {}
        }
        std::io::copy(&mut entry, &mut std::io::sink())?;
        anyhow::ensure!(
            entry.limit() == 0,
            "the tar archive ends inside `{name}` (truncated)"
        );
        // Entries are padded to 512 bytes.
        let pad = (512 - size % 512) % 512;
        std::io::copy(&mut (&mut r).take(pad), &mut std::io::sink())?;
    }
}

/// An octal tar number field (NUL- or space-terminated).
fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(text, 8).ok()
}

/// Parses a safetensors file from `r` (of `len` bytes) without holding it: its header, every
/// tensor's byte range against its dtype and shape, and the ranges against the file's length.
fn check_safetensors(name: &str, r: &mut dyn Read, len: u64) -> anyhow::Result<()> {
    let mut n = [0u8; 8];
    r.read_exact(&mut n)
        .with_context(|| format!("{name}: shorter than a safetensors header"))?;
    let header_len = u64::from_le_bytes(n);
    anyhow::ensure!(
        header_len <= 100 << 20 && header_len + 8 <= len,
        "{name}: the safetensors header length {header_len} does not fit the file ({len} bytes)"
    );
    let mut header = vec![0u8; header_len as usize];
    r.read_exact(&mut header)?;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header)
        .with_context(|| format!("{name}: the safetensors header is not JSON"))?;
    let mut end = 0u64;
    for (tensor, info) in header.iter().filter(|(k, _)| *k != "__metadata__") {
        let dtype_size = match info["dtype"].as_str().unwrap_or("") {
            "F64" | "I64" | "U64" => 8,
            "F32" | "I32" | "U32" => 4,
            "F16" | "BF16" | "I16" | "U16" => 2,
            "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
            other => bail!("{name}: tensor `{tensor}` has an unknown dtype `{other}`"),
        };
        let count: u64 = info["shape"]
            .as_array()
            .with_context(|| format!("{name}: tensor `{tensor}` has no shape"))?
            .iter()
            .map(|d| d.as_u64().unwrap_or(0))
            .product();
        let offsets = info["data_offsets"].as_array().filter(|o| o.len() == 2);
        let (a, b) = offsets
            .and_then(|o| Some((o[0].as_u64()?, o[1].as_u64()?)))
            .with_context(|| format!("{name}: tensor `{tensor}` has no data offsets"))?;
        anyhow::ensure!(
            b >= a && b - a == count * dtype_size,
            "{name}: tensor `{tensor}` holds {} bytes, its shape needs {}",
            b.saturating_sub(a),
            count * dtype_size
        );
        end = end.max(b);
    }
    anyhow::ensure!(
        8 + header_len + end == len,
        "{name}: the tensors end at byte {} but the file has {len}",
        8 + header_len + end
    );
    Ok(())
}

/// The adapter's base model: its config's, else the job's.
fn base_model_of(found: &Inspected, job: &Job) -> String {
    found
        .adapter_config
        .as_ref()
        .and_then(|c| c.base_model_name_or_path.clone())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| job.model.clone())
}

/// Whether the local runtime loads `base` (Together names its models after their Hugging Face
/// ids, sometimes with a `-Reference` suffix).
pub fn is_local_base(base: &str) -> bool {
    let base = base.trim_end_matches("-Reference");
    base.eq_ignore_ascii_case(LOCAL_BASE_MODEL)
}

/// Unpacks the adapter into the voice's folder, loads it onto the base model once (so a voice
/// that cannot load is never registered), and registers it.
async fn register_local(
    workspace: &Path,
    archive: &Path,
    name: &str,
    job: &Job,
) -> anyhow::Result<PathBuf> {
    let dir = crate::train::local::voice::voice_dir(workspace, name);
    let base = crate::model::pull::ensure_default_model()?;
    let (archive, dir2, base2) = (archive.to_path_buf(), dir.clone(), base.clone());
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        unpack_adapter(&archive, &dir2)?;
        crate::infer::local::LocalModel::load(
            &base2,
            Some(&dir2),
            crate::infer::local::AdapterMode::Auto,
        )
        .with_context(|| format!("the adapter in {} does not load", dir2.display()))?;
        Ok(())
    })
    .await??;
    crate::voices::Registry::register(
        workspace,
        name,
        crate::voices::Voice::Local {
            base_model: std::fs::canonicalize(&base).unwrap_or(base),
            adapter: Some(std::fs::canonicalize(&dir).unwrap_or(dir.clone())),
            job_id: Some(job.id.clone()),
        },
    )?;
    Ok(dir)
}

/// Writes the archive's `adapter_config.json` and `adapter_model.safetensors` into `dir`, each
/// through a temp file.
fn unpack_adapter(archive: &Path, dir: &Path) -> anyhow::Result<()> {
    use crate::model::adapter::{CONFIG_FILE, WEIGHTS_FILE};
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let file = std::io::BufReader::new(std::fs::File::open(archive)?);
    let r: Box<dyn Read> = match ruzstd::decoding::StreamingDecoder::new(file) {
        Ok(d) => Box::new(d),
        Err(_) => Box::new(std::io::BufReader::new(std::fs::File::open(archive)?)),
    };
    let mut written = 0;
    for_each_file(r, |name, _, entry| {
        let base = name.rsplit('/').next().unwrap_or(name);
        if base == CONFIG_FILE || base == WEIGHTS_FILE {
            let target = dir.join(base);
            let mut temp = crate::fsutil::TempFile::beside(&target, "")?;
            std::io::copy(entry, temp.file()?)?;
            temp.persist(&target)?;
            written += 1;
        }
        Ok(())
    })?;
    anyhow::ensure!(
        written == 2,
        "{}: the archive lacks {CONFIG_FILE} or {WEIGHTS_FILE}",
        archive.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_parse_and_local_bases_are_recognised() {
        assert_eq!("adapter".parse::<Checkpoint>(), Ok(Checkpoint::Adapter));
        assert_eq!("12".parse::<Checkpoint>(), Ok(Checkpoint::Step(12)));
        assert!("latest".parse::<Checkpoint>().is_err());
        assert!(is_local_base("HuggingFaceTB/SmolLM2-135M-Instruct"));
        assert!(is_local_base(
            "huggingfacetb/smollm2-135m-instruct-Reference"
        ));
        assert!(!is_local_base(
            "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
        ));
    }

    #[test]
    fn a_safetensors_file_is_checked_against_its_length() {
        let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(header);
        file.extend_from_slice(&[0u8; 8]);
        check_safetensors("a", &mut &file[..], file.len() as u64).unwrap();
        let short = &file[..file.len() - 1];
        assert!(check_safetensors("a", &mut &short[..], short.len() as u64).is_err());
    }
}
