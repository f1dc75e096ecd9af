//! The build report: what each stage kept and dropped, token statistics, what cleaning removed,
//! and what the linter would still say about the dataset as a whole.

use super::options::BuildField;
use super::output::OutputFile;
use super::post::SourceError;
use crate::clean::CleanStats;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The pipeline stages, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Read,
    Type,
    Status,
    Author,
    Date,
    Title,
    Terms,
    Cleaned,
    Lint,
    Duplicate,
    Tokens,
    NearDuplicate,
    Templated,
}

pub const STAGES: [Stage; 13] = [
    Stage::Read,
    Stage::Type,
    Stage::Status,
    Stage::Author,
    Stage::Date,
    Stage::Title,
    Stage::Terms,
    Stage::Cleaned,
    Stage::Lint,
    Stage::Duplicate,
    Stage::Tokens,
    Stage::NearDuplicate,
    Stage::Templated,
];

/// One stage's outcome: how many items came out of it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StageCount {
    pub stage: Stage,
    /// How the report names the items left after this stage ("posts", "by alice").
    pub label: String,
    pub kept: usize,
    pub dropped: usize,
    /// Whether a filter was set for this stage (inactive stages that dropped nothing are left
    /// out of the one-line summary).
    pub active: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SourceReport {
    pub path: PathBuf,
    pub kind: String,
    /// Items (posts, rows, files) read from this source.
    pub items: usize,
    pub notes: Vec<String>,
    /// CSV: header columns that were not read, as `"Name" (column N)`.
    pub ignored_columns: Vec<String>,
    /// CSV: fields that were not UTF-8 and were decoded as Windows-1252.
    pub recoded_fields: usize,
}

/// A file that could not be used and was left out of the build.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SkippedFile {
    pub path: PathBuf,
    /// The error, with the file's name and line (options named by their keys until
    /// [`BuildReport::name_options`]).
    pub reason: String,
    #[serde(skip)]
    pub error: Option<SourceError>,
}

/// Token counts of the written examples, as the target model's service counts them.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct TokenStats {
    pub model: String,
    pub examples: usize,
    pub total: usize,
    pub min: usize,
    pub max: usize,
    pub mean: f64,
    pub median: usize,
    pub p90: usize,
}

impl TokenStats {
    pub fn from_counts(model: &str, mut counts: Vec<usize>) -> TokenStats {
        if counts.is_empty() {
            return TokenStats {
                model: model.to_string(),
                ..Default::default()
            };
        }
        counts.sort_unstable();
        let n = counts.len();
        let total: usize = counts.iter().sum();
        let at = |q: f64| counts[(((n - 1) as f64) * q).round() as usize];
        TokenStats {
            model: model.to_string(),
            examples: n,
            total,
            min: counts[0],
            max: counts[n - 1],
            mean: total as f64 / n as f64,
            median: at(0.5),
            p90: at(0.9),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct TranscriptStats {
    pub files: usize,
    pub turns_kept: usize,
    pub turns_dropped: usize,
    /// `Key: value` lines at the top of files, read as metadata rather than turns.
    pub metadata_lines: usize,
    /// Files without speaker labels kept as the monologue of the speaker asked for.
    pub monologues_kept: usize,
    /// Files without speaker labels whose speaker is not the one asked for, or unknown.
    pub monologues_skipped: usize,
}

/// Everything a build did.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct BuildReport {
    pub sources: Vec<SourceReport>,
    /// How many files the build read (a folder counts its files).
    pub files: usize,
    /// Files that could not be used, left out (the build is partial); `--strict` stops on the
    /// first instead.
    pub skipped: Vec<SkippedFile>,
    pub stages: Vec<StageCount>,
    /// Records dropped because a lint rule still objected after cleaning and safe fixes.
    pub lint_drops: BTreeMap<String, usize>,
    /// Safe lint fixes applied to records after cleaning (e.g. an e-mail address redacted).
    pub lint_fixes: BTreeMap<String, usize>,
    pub clean: CleanStats,
    pub transcripts: TranscriptStats,
    pub tokens: TokenStats,
    pub outputs: Vec<OutputFile>,
    /// Dataset-wide lint findings on the written examples (dataset size, templated openings).
    pub dataset_findings: Vec<String>,
    pub warnings: Vec<String>,
    pub bytes_read: u64,
    pub seconds: f64,
}

impl BuildReport {
    /// Names the options that skip reasons mention the way a face does (`--speaker`,
    /// `options.speaker`).
    pub fn name_options(&mut self, name: impl Fn(BuildField) -> String) {
        for skipped in &mut self.skipped {
            if let Some(error) = &skipped.error {
                skipped.reason = error.describe(&name);
            }
        }
    }

    /// A clause for one-line summaries: `; 2 of 7 files skipped (could not be used)`, or empty.
    pub fn skipped_clause(&self) -> String {
        if self.is_partial() {
            format!(
                "; {} of {} files skipped (could not be used)",
                thousands(self.skipped.len()),
                thousands(self.files)
            )
        } else {
            String::new()
        }
    }

    /// Whether files were skipped.
    pub fn is_partial(&self) -> bool {
        !self.skipped.is_empty()
    }

    /// Items left after the last stage so far.
    pub fn kept(&self) -> usize {
        self.stages.last().map_or(0, |s| s.kept)
    }

    /// `1,204 items -> 480 posts -> 165 by alice -> 87 within 50-4,000 tokens`.
    pub fn summary_line(&self) -> String {
        self.stages
            .iter()
            .enumerate()
            .filter(|(i, s)| *i == 0 || s.active || s.dropped > 0)
            .map(|(_, s)| format!("{} {}", thousands(s.kept), s.label))
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for BuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary_line())?;
        for s in &self.sources {
            writeln!(
                f,
                "  source {} ({}): {} items",
                s.path.display(),
                s.kind,
                thousands(s.items)
            )?;
            for note in &s.notes {
                writeln!(f, "    {note}")?;
            }
        }
        for skipped in &self.skipped {
            writeln!(f, "  skipped {}", skipped.reason)?;
        }
        if self.is_partial() {
            writeln!(
                f,
                "  partial build: {} of {} files skipped because they could not be used (see above; --strict stops at the first)",
                thousands(self.skipped.len()),
                thousands(self.files)
            )?;
        }
        for s in self.stages.iter().skip(1).filter(|s| s.dropped > 0) {
            writeln!(
                f,
                "  dropped {} at {:?} ({} left: {})",
                thousands(s.dropped),
                s.stage,
                thousands(s.kept),
                s.label
            )?;
        }
        for (rule, n) in &self.lint_drops {
            writeln!(f, "    {n} dropped by lint rule {rule}")?;
        }
        for (rule, n) in &self.lint_fixes {
            writeln!(f, "  {n} lint fixes applied ({rule})")?;
        }
        let c = &self.clean;
        writeln!(
            f,
            "  cleaning removed: {} HTML tags, {} links (anchor text kept), {} images, {} URLs, {} shortcodes, {} code blocks, {} entities decoded, {} boilerplate lines, {} transcript artefacts, {} stage directions; {} wrapped lines joined",
            c.html_tags, c.links, c.images, c.urls, c.shortcodes, c.code_blocks, c.entities, c.boilerplate_lines, c.transcript_artefacts, c.stage_directions, c.soft_breaks
        )?;
        if self.transcripts.files > 0 {
            let t = &self.transcripts;
            writeln!(
                f,
                "  transcripts: {} files, {} turns kept, {} turns of other speakers dropped, {} metadata lines",
                t.files, t.turns_kept, t.turns_dropped, t.metadata_lines
            )?;
            if t.monologues_kept + t.monologues_skipped > 0 {
                writeln!(
                    f,
                    "  transcripts without speaker labels: {} kept as monologues, {} skipped (their speaker, from a `Speaker:` line or --monologue-speaker, is not the one asked for)",
                    t.monologues_kept, t.monologues_skipped
                )?;
            }
        }
        let t = &self.tokens;
        if t.examples > 0 {
            writeln!(
                f,
                "  tokens ({}): {} total, min {}, median {}, mean {:.0}, p90 {}, max {}",
                t.model,
                thousands(t.total),
                t.min,
                t.median,
                t.mean,
                t.p90,
                t.max
            )?;
        }
        for o in &self.outputs {
            writeln!(
                f,
                "  wrote {} examples to {}",
                thousands(o.examples),
                o.path.display()
            )?;
        }
        for d in &self.dataset_findings {
            writeln!(f, "  lint (dataset): {d}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        write!(
            f,
            "  read {:.1} MB in {:.2} s",
            self.bytes_read as f64 / 1e6,
            self.seconds
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_stats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1234567), "1,234,567");
        let s = TokenStats::from_counts("m", vec![10, 30, 20, 40, 100]);
        assert_eq!(
            (s.min, s.median, s.max, s.total, s.p90),
            (10, 30, 100, 200, 100)
        );
    }
}
