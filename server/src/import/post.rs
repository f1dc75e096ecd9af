//! What every source reader yields: one post (or transcript) with its metadata, before filtering
//! and cleaning, plus the error type that names the file and line of bad input.

use super::options::BuildField;
use std::fmt;
use std::path::{Path, PathBuf};

/// How a post's body is written, which decides how [`crate::clean`] cleans it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// WordPress `post_content`: HTML, or classic-editor text with blank-line paragraphs.
    Html,
    /// A markdown post body (may contain inline HTML).
    Markdown,
    /// Plain text already reduced to one speaker's turns (transcripts).
    Text,
}

/// A date and time as written in the source (no time zone arithmetic: WordPress's local
/// `post_date` and a front matter date are both compared as written).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One item read from a source.
#[derive(Clone, Debug)]
pub struct Post {
    /// 1-based line where the item starts in its file (0 when unknown).
    pub line: usize,
    pub title: String,
    pub slug: String,
    /// Login (WordPress) or the name as written (front matter, transcript speaker).
    pub author: Option<String>,
    /// WordPress display name for the login, when the export lists it.
    pub author_display: Option<String>,
    pub date: Option<DateTime>,
    /// `publish`, `draft`, `future`, ... (`None`: the source has no status).
    pub status: Option<String>,
    /// `post`, `page`, `attachment`, ... (`None`: the source has no types).
    pub post_type: Option<String>,
    pub tags: Vec<String>,
    pub categories: Vec<String>,
    pub body: String,
    pub format: BodyFormat,
}

impl Post {
    pub fn new(format: BodyFormat) -> Self {
        Post {
            line: 0,
            title: String::new(),
            slug: String::new(),
            author: None,
            author_display: None,
            date: None,
            status: None,
            post_type: None,
            tags: Vec::new(),
            categories: Vec::new(),
            body: String::new(),
            format,
        }
    }
}

/// Bad input: the file, the line (and column) where reading stopped, what went wrong, and what
/// had been read before it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// What was read before the error, e.g. `12 items read, the last "Hello world!" at line 80`.
    pub read_so_far: String,
    /// The build option that settles the error, named right after the message (a transcript
    /// with several speakers needs `speaker`); each face names it its own way
    /// ([`SourceError::describe`]).
    pub option: Option<BuildField>,
}

/// Reads a text source as UTF-8; an invalid byte is an error naming its line.
pub fn read_utf8(path: &Path, what: &str) -> Result<String, SourceError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SourceError::new(path, None, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        SourceError::new(
            path,
            Some(line),
            format!("not valid UTF-8; save the {what} as UTF-8"),
        )
    })
}

impl SourceError {
    pub fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        SourceError {
            path: path.to_path_buf(),
            line,
            column: None,
            message: message.into(),
            read_so_far: String::new(),
            option: None,
        }
    }

    /// The error with the message continued by `option`'s name.
    pub fn needing(mut self, option: BuildField) -> Self {
        self.option = Some(option);
        self
    }

    /// The error with its option called `name(option)`.
    pub fn describe(&self, name: impl Fn(BuildField) -> String) -> String {
        let mut out = self.path.display().to_string();
        if let Some(line) = self.line {
            out += &format!(":{line}");
            if let Some(column) = self.column {
                out += &format!(":{column}");
            }
        }
        out += &format!(": {}", self.message);
        if let Some(option) = self.option {
            out += &format!(" {}", name(option));
        }
        if !self.read_so_far.is_empty() {
            out += &format!(" ({})", self.read_so_far);
        }
        out
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(|option| option.key().to_string()))
    }
}

impl std::error::Error for SourceError {}

/// 1-based line and column of byte `offset` in the file at `path` (only computed on errors, so
/// the readers never count lines on the fast path).
pub fn line_col_at(path: &Path, offset: u64) -> Option<(usize, usize)> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut reader = std::io::BufReader::new(file).take(offset);
    let mut buf = [0u8; 64 * 1024];
    let (mut line, mut col) = (1usize, 1usize);
    loop {
        let n = reader.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if b == b'\n' {
                line += 1;
                col = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not UTF-8 continuation bytes.
                col += 1;
            }
        }
    }
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_face_names_the_option_its_own_way() {
        let err = SourceError::new(Path::new("talk.txt"), None, "two speakers; choose one with")
            .needing(BuildField::Speaker);
        assert_eq!(
            err.describe(|f| format!("--{}", f.key())),
            "talk.txt: two speakers; choose one with --speaker"
        );
        assert_eq!(
            err.describe(|f| format!("options.{}", f.key())),
            "talk.txt: two speakers; choose one with options.speaker"
        );
    }
}
