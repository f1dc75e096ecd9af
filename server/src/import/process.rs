//! The parallel part of the pipeline: one post cleaned, formatted as a record and linted, with
//! the linter's safe fixes applied to what cleaning left.

use super::{output, BodyFormat, Format, Post};
use crate::clean::{self, CleanStats, SourceFormat};
use crate::lint::{self, FixMode, LintOptions, RecordSummary};

/// What the parallel part of the pipeline decided for one item.
pub(super) enum Outcome {
    Empty,
    Lint(Vec<String>),
    Kept {
        line: String,
        summary: Box<RecordSummary>,
        fixes: Vec<String>,
    },
}

pub(super) struct Processed {
    pub(super) stats: CleanStats,
    pub(super) outcome: Outcome,
}

/// Cleans one post and lints its record, applying the linter's safe fixes to what cleaning left.
pub(super) fn process(post: &Post, format: &Format, lint: &LintOptions) -> Processed {
    let source_format = match post.format {
        BodyFormat::Html => SourceFormat::Html,
        BodyFormat::Markdown => SourceFormat::Markdown,
        BodyFormat::Text => SourceFormat::Text,
    };
    let (text, stats) = clean::clean_post(&post.body, source_format);
    let mut title = clean::clean_title(&post.title);
    if title.is_empty() && !post.slug.is_empty() && !post.slug.bytes().all(|b| b.is_ascii_digit()) {
        title = post.slug.replace('-', " ");
    }
    if text.trim().is_empty() || title.is_empty() {
        return Processed {
            stats,
            outcome: Outcome::Empty,
        };
    }
    let fields = output::TemplateFields {
        title: &title,
        date: post.date.map(|d| d.to_string()).unwrap_or_default(),
        author: post
            .author_display
            .as_deref()
            .or(post.author.as_deref())
            .unwrap_or(""),
        tags: post.tags.join(", "),
        categories: post.categories.join(", "),
        slug: &post.slug,
    };
    let mut line = output::format_record(format, &fields, &text);
    let mut fixes = Vec::new();
    // Token limits are the builder's own stage; everything else must be clean or fixable.
    let blocking = |f: &&lint::Finding| f.rule != "too-many-tokens";
    for _ in 0..3 {
        let result = lint::lint_line(&line, lint);
        if !result.findings.iter().any(|f| blocking(&f)) {
            return Processed {
                stats,
                outcome: Outcome::Kept {
                    line,
                    summary: Box::new(result.summary),
                    fixes,
                },
            };
        }
        let (fixed, applied) = lint::apply_fixes(&line, &result.findings, FixMode::Safe);
        if applied == 0 || fixed == line {
            let mut rules: Vec<String> = result
                .findings
                .iter()
                .filter(blocking)
                .map(|f| f.rule.clone())
                .collect();
            rules.sort();
            rules.dedup();
            return Processed {
                stats,
                outcome: Outcome::Lint(rules),
            };
        }
        fixes.extend(
            result
                .findings
                .iter()
                .filter(|f| f.fix.is_some())
                .map(|f| f.rule.clone()),
        );
        line = fixed;
    }
    let result = lint::lint_line(&line, lint);
    let rules: Vec<String> = result
        .findings
        .iter()
        .filter(blocking)
        .map(|f| f.rule.clone())
        .collect();
    if rules.is_empty() {
        return Processed {
            stats,
            outcome: Outcome::Kept {
                line,
                summary: Box::new(result.summary),
                fixes,
            },
        };
    }
    Processed {
        stats,
        outcome: Outcome::Lint(rules),
    }
}
