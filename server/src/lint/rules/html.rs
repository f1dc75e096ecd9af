//! HTML tags and entities inside training text.

use crate::clean;
use crate::lint::text::{TextEdit, TextField};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};

pub static HTML: RuleInfo = RuleInfo {
    code: "VT101",
    name: "html",
    severity: Severity::Warning,
    summary: "HTML tags or entities in training text",
    doc: "Text exported from a CMS keeps its markup: `<p>`, `<a href=...>`, `&nbsp;`, `&#8217;`. \
A model trained on it learns to write markup. The fix converts the text with html2text when it is \
an HTML document (paragraphs kept, links reduced to their anchor text), or removes the inline tag \
and decodes the entity otherwise. Code blocks and `code spans` are left alone.",
    fixable: true,
};

pub fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&HTML) || memchr::memchr2(b'<', b'&', text.as_bytes()).is_none() {
        return;
    }
    let tags: Vec<_> = clean::HTML_TAG
        .find_iter(text)
        .filter(|m| !field.in_code(&m.range()))
        .collect();
    // A document's structure lives in its tags: clean it as a whole, never tag by tag.
    let document_fix = if clean::is_html_document(text) && field.code.is_empty() {
        Some((
            "Convert the HTML to plain text".to_string(),
            vec![TextEdit {
                range: 0..text.len(),
                text: clean::html_to_text(text),
            }],
            Applicability::Safe,
        ))
    } else {
        None
    };
    for tag in &tags {
        let fix = document_fix.clone().or_else(|| {
            Some((
                format!("Remove `{}`", short(tag.as_str())),
                vec![TextEdit {
                    range: tag.range(),
                    text: String::new(),
                }],
                Applicability::Safe,
            ))
        });
        out.extend(field.finding(
            opts,
            &HTML,
            tag.range(),
            format!("HTML tag `{}` in training text", short(tag.as_str())),
            fix,
        ));
    }
    for entity in clean::HTML_ENTITY.find_iter(text) {
        if field.in_code(&entity.range())
            || tags
                .iter()
                .any(|t| t.start() <= entity.start() && entity.end() <= t.end())
        {
            continue;
        }
        let decoded = clean::decode_entities(entity.as_str());
        if decoded == entity.as_str() {
            continue; // Not a real entity ("AT&T;").
        }
        let fix = document_fix.clone().or_else(|| {
            Some((
                format!("Replace `{}` with `{decoded}`", entity.as_str()),
                vec![TextEdit {
                    range: entity.range(),
                    text: decoded.clone(),
                }],
                Applicability::Safe,
            ))
        });
        out.extend(field.finding(
            opts,
            &HTML,
            entity.range(),
            format!("HTML entity `{}` in training text", entity.as_str()),
            fix,
        ));
    }
}

fn short(tag: &str) -> String {
    if tag.chars().count() > 40 {
        format!("{}…", tag.chars().take(39).collect::<String>())
    } else {
        tag.to_string()
    }
}
