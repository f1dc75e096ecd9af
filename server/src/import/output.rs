//! The training file: records formatted as chat or legacy prompt/completion JSON lines, streamed
//! to a temp file next to the output and renamed into place only when the build succeeds (so an
//! error never leaves a partial file), optionally split into train and validation files with a
//! seeded shuffle.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// How examples are written.
#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    /// `{"messages":[system?, user, assistant]}`.
    Chat {
        system: String,
        user_template: String,
    },
    /// `{"prompt": user + separator, "completion": " " + post + stop}` (davinci-002/babbage-002).
    PromptCompletion {
        user_template: String,
        separator: String,
        stop: String,
    },
}

pub use crate::dataset::prompt_shape::{DEFAULT_SYSTEM, DEFAULT_USER_TEMPLATE};
pub const DEFAULT_SEPARATOR: &str = "\n\n###\n\n";
pub const DEFAULT_STOP: &str = " END";

/// The post fields a user template can use: `{title}`, `{date}`, `{author}`, `{tags}`,
/// `{categories}`, `{slug}`.
pub struct TemplateFields<'a> {
    pub title: &'a str,
    pub date: String,
    pub author: &'a str,
    pub tags: String,
    pub categories: String,
    pub slug: &'a str,
}

/// Fills `{title}`-style placeholders; unknown placeholders are left as written.
pub fn fill_template(template: &str, f: &TemplateFields) -> String {
    let mut out = String::with_capacity(template.len() + f.title.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let value = match &after[..close] {
            "title" => Some(f.title),
            "date" => Some(f.date.as_str()),
            "author" => Some(f.author),
            "tags" => Some(f.tags.as_str()),
            "categories" => Some(f.categories.as_str()),
            "slug" => Some(f.slug),
            _ => None,
        };
        match value {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Placeholders a template may use, for validating options early.
pub const PLACEHOLDERS: &[&str] = &["title", "date", "author", "tags", "categories", "slug"];

/// One JSON line (without its newline).
pub fn format_record(format: &Format, fields: &TemplateFields, text: &str) -> String {
    #[derive(Serialize)]
    struct Message<'a> {
        role: &'a str,
        content: &'a str,
    }
    #[derive(Serialize)]
    struct Chat<'a> {
        messages: Vec<Message<'a>>,
    }
    #[derive(Serialize)]
    struct Legacy {
        prompt: String,
        completion: String,
    }
    match format {
        Format::Chat {
            system,
            user_template,
        } => {
            let user = fill_template(user_template, fields);
            let mut messages = Vec::with_capacity(3);
            if !system.trim().is_empty() {
                messages.push(Message {
                    role: "system",
                    content: system,
                });
            }
            messages.push(Message {
                role: "user",
                content: &user,
            });
            messages.push(Message {
                role: "assistant",
                content: text,
            });
            serde_json::to_string(&Chat { messages }).expect("strings serialize")
        }
        Format::PromptCompletion {
            user_template,
            separator,
            stop,
        } => {
            let prompt = fill_template(user_template, fields) + separator;
            let completion = format!(" {text}{stop}");
            serde_json::to_string(&Legacy { prompt, completion }).expect("strings serialize")
        }
    }
}

/// Where the build writes: the output file and, with a split, the validation file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OutputFile {
    pub path: PathBuf,
    pub examples: usize,
}

/// `data.jsonl` -> `data.valid.jsonl`.
pub fn validation_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "jsonl".into());
    output.with_file_name(format!("{stem}.valid.{ext}"))
}

/// Streams lines to a temp file; [`Writer::finish`] renames it (or its split) into place. Dropped
/// without finishing (an error), it deletes its temp files. A symlinked output is written through
/// (the file it points to is replaced, the link kept); an output that is not a regular file is
/// refused before anything is read.
pub struct Writer {
    output: PathBuf,
    target: PathBuf,
    tmp: crate::fsutil::TempFile,
    file: Option<BufWriter<File>>,
    lines: usize,
}

impl Writer {
    pub fn create(output: &Path) -> std::io::Result<Writer> {
        let target = crate::fsutil::output_target(output)?;
        let mut tmp = crate::fsutil::TempFile::beside(&target, "")?;
        let file = tmp.file()?.try_clone()?;
        Ok(Writer {
            output: output.to_path_buf(),
            target,
            tmp,
            file: Some(BufWriter::with_capacity(256 * 1024, file)),
            lines: 0,
        })
    }

    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        let file = self.file.as_mut().expect("writer open until finish");
        file.write_all(line.as_bytes())?;
        file.write_all(b"\n")?;
        self.lines += 1;
        Ok(())
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Cuts the file back to its first `lines` lines, `bytes` long (a skipped source's lines).
    pub fn truncate(&mut self, lines: usize, bytes: u64) -> std::io::Result<()> {
        use std::io::Seek;
        let file = self.file.as_mut().expect("writer open until finish");
        file.flush()?;
        file.get_mut().set_len(bytes)?;
        file.get_mut().seek(std::io::SeekFrom::Start(bytes))?;
        self.lines = lines;
        Ok(())
    }

    /// Moves the file into place, leaving out the lines whose `keep` entry is false. With
    /// `split = Some((fraction, seed))`, a seeded shuffle picks `round(n * fraction)` of the kept
    /// lines (at least one when there are two or more) for the validation file; both files keep
    /// the original order.
    pub fn finish(
        mut self,
        keep: Option<Vec<bool>>,
        split: Option<(f64, u64)>,
    ) -> std::io::Result<Vec<OutputFile>> {
        let mut file = self.file.take().expect("finish once");
        file.flush()?;
        drop(file);
        self.tmp.close()?;
        if keep.is_none() && split.is_none() {
            self.tmp.persist(&self.target)?;
            return Ok(vec![OutputFile {
                path: self.output,
                examples: self.lines,
            }]);
        }
        let keep = keep.unwrap_or_else(|| vec![true; self.lines]);
        let kept: Vec<usize> = (0..self.lines).filter(|&i| keep[i]).collect();
        let n = kept.len();
        let mut is_valid = vec![false; self.lines];
        let mut n_valid = 0;
        if let Some((fraction, seed)) = split {
            n_valid = if n >= 2 {
                ((n as f64 * fraction).round() as usize).clamp(1, n - 1)
            } else {
                0
            };
            for i in seeded_shuffle(n, seed).into_iter().take(n_valid) {
                is_valid[kept[i]] = true;
            }
        }
        let mut train_tmp = crate::fsutil::TempFile::beside(&self.target, "train")?;
        let mut train = BufWriter::new(train_tmp.file()?.try_clone()?);
        let valid_path = validation_path(&self.output);
        let valid_target = match split {
            Some(_) => Some(crate::fsutil::output_target(&valid_path)?),
            None => None,
        };
        let mut valid = match &valid_target {
            Some(target) => {
                let mut tmp = crate::fsutil::TempFile::beside(target, "")?;
                let file = BufWriter::new(tmp.file()?.try_clone()?);
                Some((tmp, file))
            }
            None => None,
        };
        let reader = BufReader::new(File::open(self.tmp.path())?);
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            if !keep.get(i).copied().unwrap_or(false) {
                continue;
            }
            let out = match valid.as_mut() {
                Some((_, v)) if is_valid[i] => v,
                _ => &mut train,
            };
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        train.flush()?;
        drop(train);
        if let (Some((tmp, mut v)), Some(target)) = (valid, &valid_target) {
            v.flush()?;
            drop(v);
            tmp.persist(target)?;
        }
        train_tmp.persist(&self.target)?;
        let mut outputs = vec![OutputFile {
            path: self.output.clone(),
            examples: n - n_valid,
        }];
        if split.is_some() {
            outputs.push(OutputFile {
                path: valid_path,
                examples: n_valid,
            });
        }
        Ok(outputs)
    }
}

/// A permutation of `0..n` from a seed (SplitMix64 driving a Fisher-Yates shuffle): the same
/// seed always gives the same split, on every platform.
pub fn seeded_shuffle(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        let f = TemplateFields {
            title: "T",
            date: "2020-01-02".into(),
            author: "a",
            tags: "x, y".into(),
            categories: String::new(),
            slug: "t",
        };
        assert_eq!(
            fill_template("Write {title} ({date}) {tags} {nope} {", &f),
            "Write T (2020-01-02) x, y {nope} {"
        );
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = seeded_shuffle(50, 7);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, seeded_shuffle(50, 7));
        assert_ne!(a, seeded_shuffle(50, 8));
    }
}
