//! `voicetune complete --voice NAME FILE:LINE:COL`: what the editor would show at that place.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use voicetune::ghost::{DocKind, GhostConfig, Ghostwriter, SuggestRequest, Suggestion};

#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// Where the cursor is: FILE:LINE:COL (1-based; COL counts characters).
    pub location: String,
    /// A voice registered in this workspace; the local base model when omitted.
    #[arg(long)]
    pub voice: Option<String>,
    /// Most tokens in the suggestion.
    #[arg(long, default_value_t = 32)]
    pub max_tokens: usize,
    /// Print timing and counters to stderr.
    #[arg(long)]
    pub verbose: bool,
}

/// `FILE:LINE:COL`, split from the right (a path may hold colons).
pub fn parse_location(location: &str) -> Result<(PathBuf, usize, usize)> {
    let mut parts = location.rsplitn(3, ':');
    let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("expected FILE:LINE:COL, got `{location}`");
    };
    let number = |s: &str, what: &str| -> Result<usize> {
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => bail!("{what} `{s}` in `{location}` is not a number from 1"),
        }
    };
    Ok((
        PathBuf::from(file),
        number(line, "line")?,
        number(col, "column")?,
    ))
}

/// The byte offset of 1-based `line` and character `col` in `text`, clamped to the line's end.
pub fn byte_offset(text: &str, line: usize, col: usize) -> Result<usize> {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => bail!("line {line} is past the end of the file"),
        }
    }
    let line_text = &text[start..start + text[start..].find('\n').unwrap_or(text.len() - start)];
    let within = line_text
        .char_indices()
        .nth(col - 1)
        .map_or(line_text.len(), |(i, _)| i);
    Ok(start + within)
}

pub(crate) fn run(args: &CompleteArgs) -> Result<()> {
    let (file, line, col) = parse_location(&args.location)?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let kind = DocKind::from_path(&file).unwrap_or(DocKind::Markdown);
    let cursor = byte_offset(&text, line, col)?;
    let workspace = std::env::current_dir().context("cannot read the current folder")?;
    let mut config = GhostConfig::default();
    config.sampling.max_tokens = args.max_tokens;
    config.sampling.validate()?;
    let ghost = Ghostwriter::new(&workspace, config);
    let load = std::time::Instant::now();
    ghost.preload(args.voice.as_deref())?;
    let load_ms = load.elapsed().as_secs_f64() * 1e3;
    let request = SuggestRequest {
        voice: args.voice.clone(),
        text,
        kind,
        cursor,
    };
    let suggestion = ghost.suggest(&request, &AtomicBool::new(false))?;
    match &suggestion {
        Some(s) => println!("{}", s.insert_text),
        None => eprintln!("(no suggestion here)"),
    }
    if args.verbose {
        print_timing(&file, load_ms, suggestion.as_ref(), &ghost);
    }
    Ok(())
}

fn print_timing(file: &Path, load_ms: f64, s: Option<&Suggestion>, ghost: &Ghostwriter) {
    eprintln!("{}: model loaded in {load_ms:.0} ms", file.display());
    if let Some(s) = s {
        let t = &s.timing;
        eprintln!(
            "{} prompt tokens ({} from cache), first token {:.0} ms, {} tokens in {:.0} ms",
            t.prompt_tokens, t.reused_tokens, t.first_token_ms, t.generated_tokens, t.total_ms
        );
    }
    let stats = ghost.stats();
    if stats.html_tags_stripped + stats.urls_stripped + stats.dropped_repeats > 0 {
        eprintln!(
            "stripped {} HTML tags and {} URLs; {} suggestions dropped as repeats",
            stats.html_tags_stripped, stats.urls_stripped, stats.dropped_repeats
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_offsets() {
        let (f, l, c) = parse_location("C:/drafts/a.md:3:7").unwrap();
        assert_eq!((f, l, c), (PathBuf::from("C:/drafts/a.md"), 3, 7));
        assert!(parse_location("a.md:0:1").is_err());
        assert!(parse_location("a.md:3").is_err());
        let text = "# 日本\n私は🎉書く\nend";
        assert_eq!(byte_offset(text, 2, 4).unwrap(), text.find("書").unwrap());
        assert_eq!(
            byte_offset(text, 2, 99).unwrap(),
            text.find("\nend").unwrap()
        );
        assert_eq!(byte_offset(text, 3, 4).unwrap(), text.len());
        assert!(byte_offset(text, 9, 1).is_err());
    }
}
