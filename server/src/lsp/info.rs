//! Token and cost information: hover on a JSONL line or message, the code lens at the top of a
//! dataset, and `voicetune.stats`. All from the per-line summaries the linter already computed.

use super::document::Document;
use super::position;
use crate::config::Provider;
use crate::dataset::json::{self, Value};
use crate::dataset::FileKind;
use crate::lint::LintOptions;
use crate::tokens::stats::{cost_usd, DatasetStats};
use crate::tokens::TOKENS_PER_MESSAGE;
use tower_lsp_server::ls_types::{
    CodeLens, Command, Hover, HoverContents, MarkupContent, MarkupKind, Position, Range,
};

/// Dataset statistics of a JSONL document (examples = lines that are records with a count).
pub fn stats(doc: &Document, opts: &LintOptions) -> DatasetStats {
    let counts: Vec<usize> = doc
        .summaries()
        .filter(|s| s.is_record)
        .filter_map(|s| s.tokens)
        .collect();
    opts.config.dataset_stats(&counts)
}

pub fn stats_line(s: &DatasetStats, opts: &LintOptions) -> String {
    let price = if opts.config.provider == Provider::Together {
        format!("{} (Together quotes the price per job)", s.model)
    } else {
        format!("≈ ${:.2} to train on {}", s.cost_usd, s.model)
    };
    format!(
        "{} examples · {} tokens · {} epochs · {price}",
        thousands(s.examples),
        thousands(s.total_tokens),
        s.epochs,
    )
}

/// The lens at the top of a JSONL file; its command shows the full stats.
pub fn code_lens(
    doc: &Document,
    uri: &tower_lsp_server::ls_types::Uri,
    opts: &LintOptions,
) -> Option<CodeLens> {
    if doc.kind != FileKind::Jsonl {
        return None;
    }
    let s = stats(doc, opts);
    Some(CodeLens {
        range: Range::new(Position::new(0, 0), Position::new(0, 0)),
        command: Some(Command::new(
            format!("voicetune: {}", stats_line(&s, opts)),
            super::commands::STATS.to_string(),
            Some(vec![serde_json::json!(uri.as_str())]),
        )),
        data: None,
    })
}

pub fn hover(doc: &Document, pos: Position, opts: &LintOptions) -> Option<Hover> {
    let model = opts.config.model();
    let limit = opts.config.max_training_tokens();
    let line = pos.line as usize;
    let text = match doc.kind {
        FileKind::Markdown | FileKind::Json => {
            let tokens = opts.counter.count(&doc.text());
            format!(
                "**{}** tokens in this draft ({} counts up to {} per training example)",
                thousands(tokens),
                model.name,
                thousands(limit)
            )
        }
        FileKind::Jsonl => {
            let summary = &doc.line_result(line)?.summary;
            let tokens = summary.tokens?;
            let s = stats(doc, opts);
            let billed = tokens.min(limit);
            let mut out = format!(
                "**{} tokens** of {} allowed per example ({})",
                thousands(tokens),
                thousands(limit),
                model.name
            );
            if tokens > limit {
                out.push_str("  \n**Over the limit**: the service truncates this example.");
            }
            if opts.config.provider == Provider::Together {
                out.push_str(&format!(
                    "  \nTraining: {} tokens × {} epochs (Together quotes the price per job)",
                    thousands(billed),
                    s.epochs,
                ));
            } else {
                out.push_str(&format!(
                    "  \nTraining: {} tokens × {} epochs ≈ ${:.4} (whole file ≈ ${:.2})",
                    thousands(billed),
                    s.epochs,
                    cost_usd(billed * s.epochs, model),
                    s.cost_usd
                ));
            }
            let line_text = position::line_text(doc.rope(), line);
            let byte = position::byte_in_line(&line_text, pos.character, doc.encoding);
            if let Some((index, role, n)) = message_at(&line_text, byte, opts) {
                out.push_str(&format!(
                    "  \nMessage {} ({role}): {} tokens",
                    index + 1,
                    thousands(n)
                ));
            }
            out
        }
    };
    let end = position::line_text(doc.rope(), line).len();
    let range = doc.range_of(&(doc.line_start(line)..doc.line_start(line) + end));
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(range),
    })
}

/// The chat message under byte `at` of a line: its index, role and tokens (content plus the
/// per-message overhead, as OpenAI counts).
fn message_at(line: &str, at: usize, opts: &LintOptions) -> Option<(usize, String, usize)> {
    let node = json::parse(line).ok()?;
    let messages = node
        .get("messages")
        .or_else(|| node.get("input")?.get("messages"))?
        .as_array()?;
    let (index, message) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| m.span.contains(&at))?;
    let role = message
        .get("role")
        .and_then(|r| r.as_str())
        .map(|s| s.text.to_string())
        .unwrap_or_default();
    let content = match message.get("content").map(|c| &c.value) {
        Some(Value::String(s)) => opts.counter.count(&s.text),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text")?.as_str())
            .map(|s| opts.counter.count(&s.text))
            .sum(),
        _ => 0,
    };
    Some((index, role, content + TOKENS_PER_MESSAGE))
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
