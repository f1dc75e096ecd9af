//! The markdown reader: one draft, one example (front matter title -> prompt, body ->
//! completion). The text rules check both; the draft's own title and length are checked here.

use super::options::LintOptions;
use super::rules;
use super::text::{FieldRole, TextField};
use super::types::{Finding, Severity};
use crate::dataset::markdown;

pub fn lint_document(text: &str, opts: &LintOptions) -> Vec<Finding> {
    let doc = markdown::parse(text);
    let mut out = Vec::new();
    let body = TextField::raw(FieldRole::Body, &text[doc.body.clone()], doc.body.start);
    let mut fields = vec![body];
    match doc.fields.get("title") {
        Some((title, span)) if !title.trim().is_empty() => fields.insert(
            0,
            TextField::raw(FieldRole::Prompt, &text[span.clone()], span.start),
        ),
        _ => {
            let at = doc.front_matter.as_ref().map_or(0, |fm| fm.start);
            out.extend(
                opts.finding(
                    &rules::keys::MISSING_KEY,
                    at..at,
                    "draft without a `title` in its front matter: the title becomes the prompt"
                        .into(),
                    None,
                )
                .map(|mut f| {
                    f.severity = Severity::Warning;
                    f
                }),
            );
        }
    }
    super::engine::run_text_rules(&fields, opts, &mut out);
    let counter = &opts.counter;
    let title_tokens = fields
        .iter()
        .filter(|f| f.role == FieldRole::Prompt)
        .map(|f| counter.count(f.text()))
        .sum::<usize>();
    let body_tokens = counter.count(fields.last().expect("body").text());
    let total = title_tokens
        + body_tokens
        + 2 * crate::tokens::TOKENS_PER_MESSAGE
        + crate::tokens::REPLY_PRIMING_TOKENS;
    let limit = opts.config.max_training_tokens();
    if total > limit {
        out.extend(opts.finding(
            &rules::tokens::TOO_MANY_TOKENS,
            doc.body.start..doc.body.start,
            format!(
                "{total} tokens: over the {limit}-token training limit of {}",
                counter.model.name
            ),
            None,
        ));
    }
    if body_tokens < opts.config.lint.min_tokens {
        out.extend(opts.finding(
            &rules::tokens::TOO_FEW_TOKENS,
            doc.body.start..doc.body.start,
            format!(
                "only {body_tokens} tokens in the body (minimum {})",
                opts.config.lint.min_tokens
            ),
            None,
        ));
    }
    out
}
