//! Which files a build reads: folders listed, each file's kind from its name or content, and
//! the output checked against the sources.

use super::{markdown, output, transcript, wxr, BuildError, BuildOptions, SourceError, SourceKind};
use std::path::{Path, PathBuf};

/// A file to read: its path, its kind (or why a file found in a folder cannot be read, which
/// the build reports per file like any other unusable file), and the index of its source.
pub(super) type PlannedFile = (PathBuf, Result<SourceKind, SourceError>, usize);

/// The files to read, each with its kind; refuses an output that would overwrite a source.
pub(super) fn plan(options: &BuildOptions) -> Result<Vec<PlannedFile>, BuildError> {
    let mut files = Vec::new();
    for (index, spec) in options.sources.iter().enumerate() {
        let path = &spec.path;
        let meta = std::fs::metadata(path)
            .map_err(|e| BuildError::plain(format!("{}: {e}", path.display())))?;
        if meta.is_dir() {
            let exts: &[&str] = match spec.kind {
                Some(SourceKind::Markdown) => &["md", "markdown"],
                Some(SourceKind::Transcript) => &["md", "markdown", "txt", "vtt", "srt"],
                Some(SourceKind::Wxr) => &["xml"],
                Some(SourceKind::Csv) => &["csv", "tsv"],
                None => &["md", "markdown", "txt", "vtt", "srt"],
            };
            let listed = markdown::list_files(path, exts)
                .map_err(|e| BuildError::plain(format!("{}: {e}", path.display())))?;
            if listed.is_empty() {
                return Err(BuildError::plain(format!(
                    "{}: no {} files in this folder",
                    path.display(),
                    exts.join("/")
                )));
            }
            for file in listed {
                let kind = classify(&file, spec.kind);
                files.push((file, kind, index));
            }
        } else {
            // A file named on its own is what the user asked for: stop at once if unusable.
            let kind = classify(path, spec.kind).map_err(|e| BuildError::plain(e.to_string()))?;
            files.push((path.clone(), Ok(kind), index));
        }
    }
    // Never overwrite a source (the output or its validation file).
    let mut targets = vec![options.output.clone()];
    if options.split.is_some() {
        targets.push(output::validation_path(&options.output));
    }
    for target in &targets {
        let Ok(target) = std::fs::canonicalize(target) else {
            continue;
        };
        if let Some((file, _, _)) = files
            .iter()
            .find(|(f, _, _)| std::fs::canonicalize(f).ok().as_ref() == Some(&target))
        {
            return Err(BuildError::plain(format!(
                "{}: refusing to overwrite a source file; choose another -o",
                file.display()
            )));
        }
    }
    Ok(files)
}

/// A file's kind from the forced kind, its extension, or (for `.md`) its content.
fn classify(path: &Path, forced: Option<SourceKind>) -> Result<SourceKind, SourceError> {
    if let Some(kind) = forced {
        return Ok(kind);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "xml" | "wxr" => SourceKind::Wxr,
        "csv" | "tsv" => SourceKind::Csv,
        "txt" | "vtt" | "srt" => SourceKind::Transcript,
        "md" | "markdown" => {
            let head = wxr::head(path, 16 * 1024).map_err(|e| cannot_read(path, e))?;
            if transcript::looks_like_transcript(&String::from_utf8_lossy(&head)) {
                SourceKind::Transcript
            } else {
                SourceKind::Markdown
            }
        }
        _ => {
            let head = wxr::head(path, 4096).map_err(|e| cannot_read(path, e))?;
            if wxr::sniff(&head) {
                SourceKind::Wxr
            } else {
                return Err(SourceError::new(
                    path,
                    None,
                    "unknown source kind; name it KIND:PATH with KIND one of wxr, csv, markdown, transcript",
                ));
            }
        }
    })
}

/// The error for a file whose first bytes cannot be read (a broken link, a folder named `x.md`).
fn cannot_read(path: &Path, e: std::io::Error) -> SourceError {
    SourceError::new(path, None, format!("cannot read: {e}"))
}
