//! `voicetune build`: flags over the `[build]` section, a progress line on stderr, the report on
//! stdout.

use std::io::Write;
use std::path::PathBuf;
use voicetune::import::{build, BuildConfig, BuildField, BuildOptions, Progress, SourceSpec};
use voicetune::lint;
use voicetune::lint::report::{escape_controls, escape_controls_by_line};

/// Options of `voicetune build`; each overrides the `[build]` section of `voicetune.toml`.
#[derive(clap::Args, Debug, Default)]
pub struct BuildArgs {
    /// WordPress WXR exports (.xml), WordPress CSV exports (.csv/.tsv), folders of markdown
    /// posts, transcripts (.txt/.vtt/.srt/.md). Force a kind with KIND:PATH (wxr, csv, markdown,
    /// transcript).
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// The training file to write (with --split, also OUT.valid.jsonl).
    #[arg(short, long, value_name = "OUT.jsonl")]
    pub output: PathBuf,
    /// Keep one author's posts (WordPress login or display name, front matter author).
    #[arg(long)]
    pub author: Option<String>,
    /// Keep items dated on or after this (YYYY, YYYY-MM or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Keep items dated on or before this (YYYY, YYYY-MM or YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// Statuses to keep, comma-separated (default publish; `any` keeps all).
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Post types to keep, comma-separated (default post; `any` keeps all).
    #[arg(long = "type", value_delimiter = ',')]
    pub post_type: Vec<String>,
    /// Keep only titles or slugs matching this (case-insensitive regex, or literal text).
    #[arg(long)]
    pub include_title: Vec<String>,
    /// Drop titles or slugs matching this, e.g. --exclude-title "So What".
    #[arg(long)]
    pub exclude_title: Vec<String>,
    /// Keep only items with one of these tags (name or slug).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Keep only items in one of these categories (name or slug).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Drop examples with fewer tokens (whole example, as the target model's service counts).
    #[arg(long)]
    pub min_tokens: Option<usize>,
    /// Drop examples with more tokens (default: the target model's training limit).
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// chat (default) or prompt-completion (legacy; default for davinci-002/babbage-002).
    #[arg(long)]
    pub format: Option<String>,
    /// System prompt of chat examples ("" for none).
    #[arg(long)]
    pub system: Option<String>,
    /// User turn / prompt template: {title}, {date}, {author}, {tags}, {categories}, {slug}.
    #[arg(long)]
    pub user_template: Option<String>,
    /// Prompt separator for prompt-completion (default "\n\n###\n\n"; escapes \n \t allowed).
    #[arg(long)]
    pub separator: Option<String>,
    /// Completion stop sequence for prompt-completion (default " END").
    #[arg(long)]
    pub stop: Option<String>,
    /// Fraction of examples for a validation file, e.g. 0.1.
    #[arg(long)]
    pub split: Option<f64>,
    /// Seed of the train/validation split.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Transcripts: the speaker whose turns to keep (defaults to --author).
    #[arg(long)]
    pub speaker: Option<String>,
    /// Transcripts without speaker labels (and no `Speaker:` line): who speaks in them.
    #[arg(long, value_name = "NAME")]
    pub monologue_speaker: Option<String>,
    /// CSV: unknown columns are an error (by default they are ignored and listed in the report).
    #[arg(long)]
    pub strict_columns: bool,
    /// Stop on the first file that cannot be used (by default it is skipped, the report says
    /// why, and the exit status is 3).
    #[arg(long)]
    pub strict: bool,
    /// Target model for token counts and limits (overrides voicetune.toml).
    #[arg(long)]
    pub model: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `\n`, `\t` and `\\` escapes in separators and stop sequences typed on a command line.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The flag that sets `field`.
fn flag(field: BuildField) -> String {
    match field {
        BuildField::PostType => "--type".into(),
        BuildField::Tags => "--tag".into(),
        BuildField::Categories => "--category".into(),
        other => format!("--{}", other.key().replace('_', "-")),
    }
}

impl BuildArgs {
    /// The options given on the command line, as a config layer.
    fn to_config(&self) -> BuildConfig {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        BuildConfig {
            author: self.author.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            status: list(&self.status),
            post_type: list(&self.post_type),
            include_title: list(&self.include_title),
            exclude_title: list(&self.exclude_title),
            tags: list(&self.tags),
            categories: list(&self.categories),
            min_tokens: self.min_tokens,
            max_tokens: self.max_tokens,
            format: self.format.clone(),
            system: self.system.clone(),
            user_template: self.user_template.clone(),
            separator: self.separator.as_deref().map(unescape),
            stop: self.stop.as_deref().map(unescape),
            split: self.split,
            seed: self.seed,
            speaker: self.speaker.clone(),
            monologue_speaker: self.monologue_speaker.clone(),
            model: self.model.clone(),
            strict_columns: self.strict_columns.then_some(true),
            strict: self.strict.then_some(true),
        }
    }

    /// Resolves against the `voicetune.toml` found above the output file (or the defaults).
    fn resolve(&self) -> anyhow::Result<BuildOptions> {
        let (workspace, _) = lint::config_for_file(&std::path::absolute(&self.output)?)?;
        let base = BuildConfig::from_table(&workspace.build).map_err(anyhow::Error::msg)?;
        let cfg = base.overridden_by(self.to_config());
        let sources = self.sources.iter().map(|s| SourceSpec::parse(s)).collect();
        BuildOptions::resolve(sources, self.output.clone(), cfg, &workspace)
            .map_err(|e| anyhow::Error::msg(e.describe(flag)))
    }
}

/// Runs `voicetune build`: progress on stderr, the report on stdout. Exit code 0 on success,
/// 1 when nothing was written, 2 on errors (bad input, options), 3 when the output was written
/// but files that could not be used were skipped (a partial build).
pub(crate) fn run(args: BuildArgs) -> anyhow::Result<std::process::ExitCode> {
    let options = args.resolve()?;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |p: &Progress| {
        if interactive {
            let pct = (p.bytes_read * 100)
                .checked_div(p.bytes_total)
                .unwrap_or(100);
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "\r[{}/{}] {} {pct:>3}%  {} items, {} examples   ",
                p.source_index + 1,
                p.source_count,
                escape_controls(&p.source.display().to_string()),
                p.items_read,
                p.examples_written
            );
            let _ = err.flush();
        }
    };
    let result = build(&options, &mut progress);
    if interactive {
        eprintln!();
    }
    match result {
        Ok(mut report) => {
            report.name_options(flag);
            // A closed pipe (`| head`) is not an error worth a panic.
            let mut out = std::io::stdout().lock();
            let _ = if args.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)
            } else {
                writeln!(out, "{}", escape_controls_by_line(&report.to_string()))
            };
            Ok(if report.kept() == 0 {
                std::process::ExitCode::from(1)
            } else if report.is_partial() {
                std::process::ExitCode::from(3)
            } else {
                std::process::ExitCode::SUCCESS
            })
        }
        Err(err) => Err(anyhow::Error::msg(err.describe(flag))),
    }
}
