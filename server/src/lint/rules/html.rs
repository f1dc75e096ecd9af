//! HTML tags and entities inside training text.

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{Cover, TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

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

pub struct Html;

impl TextRule for Html {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&HTML];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&HTML) || memchr::memchr2(b'<', b'&', text.as_bytes()).is_none() {
        return;
    }
    let tags: Vec<_> = clean::HTML_TAG
        .find_iter(text)
        .filter(|m| !field.in_code(&m.range()))
        .collect();
    // A document's structure lives in its tags: clean it as a whole, never tag by tag. Converted
    // once; every finding's fix shares the one converted text (a copy per tag would make memory
    // quadratic in the number of tags).
    let document_fix = if clean::is_html_document(text) && field.code.is_empty() {
        Some(field.fix(TextFix::replace(
            "Convert the HTML to plain text",
            0..text.len(),
            clean::html_to_text(text),
        )))
    } else {
        None
    };
    for tag in &tags {
        let fix = document_fix.clone().unwrap_or_else(|| {
            field.fix(TextFix::remove(
                format!("Remove `{}`", short(tag.as_str())),
                tag.range(),
            ))
        });
        out.extend(field.finding_with_fix(
            opts,
            &HTML,
            tag.range(),
            format!("HTML tag `{}` in training text", short(tag.as_str())),
            Some(fix),
        ));
    }
    let in_tags = Cover::new(tags.iter().map(|t| t.range()).collect());
    for entity in clean::HTML_ENTITY.find_iter(text) {
        if field.in_code(&entity.range()) || in_tags.covers(&entity.range()) {
            continue;
        }
        let decoded = clean::decode_entities(entity.as_str());
        if decoded == entity.as_str() {
            continue; // Not a real entity ("AT&T;").
        }
        let fix = document_fix.clone().unwrap_or_else(|| {
            field.fix(TextFix::replace(
                format!("Replace `{}` with `{decoded}`", entity.as_str()),
                entity.range(),
                decoded.clone(),
            ))
        });
        out.extend(field.finding_with_fix(
            opts,
            &HTML,
            entity.range(),
            format!("HTML entity `{}` in training text", entity.as_str()),
            Some(fix),
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

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn flags_tags_and_entities_with_fixes() {
        let line = reply("Tea is <b>very</b> good &amp; warm for the soul.");
        assert_eq!(line_findings(&line, "html").len(), 3);
        let fixed = fixed(&line, "html");
        assert!(fixed.contains("Tea is very good & warm"), "{fixed}");
    }

    #[test]
    fn leaves_code_and_plain_text_alone() {
        assert!(line_findings(&reply("Write `<b>` to make the tea menu bold."), "html").is_empty());
        assert!(line_findings(&reply("AT&T; made the kettle, or so they say."), "html").is_empty());
    }
}
