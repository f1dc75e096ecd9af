//! Markdown links, images, reference definitions and autolinks inside training text.

use crate::clean;
use crate::lint::text::{TextEdit, TextField};
use crate::lint::{Applicability, Finding, LintOptions, RuleInfo, Severity};

pub static MARKDOWN_LINK: RuleInfo = RuleInfo {
    code: "VT103",
    name: "markdown-link",
    severity: Severity::Warning,
    summary: "A markdown link or image in training text",
    doc: "`[anchor](https://...)` teaches the model to emit URLs; `![alt](image.png)` points at a \
picture the model never sees. html2text's default output also leaves `[1]: https://...` footnote \
definitions. The fix keeps a link's anchor text and removes images, definitions and autolinks.",
    fixable: true,
};

pub fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&MARKDOWN_LINK)
        || (!text.contains("](")
            && !text.contains("]:")
            && !text.contains("<http")
            && !text.contains("<ftp"))
    {
        return;
    }
    let mut push = |range: std::ops::Range<usize>, message: String, title: &str, edit: TextEdit| {
        if field.in_code(&range) {
            return;
        }
        let fix = (title.to_string(), vec![edit], Applicability::Safe);
        out.extend(field.finding(opts, &MARKDOWN_LINK, range, message, Some(fix)));
    };
    for caps in clean::MARKDOWN_LINK.captures_iter(text) {
        let whole = caps.get(0).expect("match");
        let anchor = &caps[2];
        if &caps[1] == "!" {
            let removal = clean::removal_range(text, whole.range());
            push(
                whole.range(),
                format!("markdown image `{}` in training text", whole.as_str()),
                "Remove the image",
                TextEdit {
                    range: removal,
                    text: String::new(),
                },
            );
        } else {
            push(
                whole.range(),
                format!("markdown link to `{}` in training text", &caps[3]),
                "Keep the anchor text only",
                TextEdit {
                    range: whole.range(),
                    text: anchor.to_string(),
                },
            );
        }
    }
    for definition in clean::LINK_DEFINITION.find_iter(text) {
        push(
            definition.range(),
            "link reference definition in training text".into(),
            "Remove the definition",
            TextEdit {
                // The whole line goes, with its line break.
                range: super::transcript::line_removal(text, definition.range()),
                text: String::new(),
            },
        );
    }
    for autolink in clean::AUTOLINK.find_iter(text) {
        let removal = clean::removal_range(text, autolink.range());
        push(
            autolink.range(),
            format!("autolink `{}` in training text", autolink.as_str()),
            "Remove the link",
            TextEdit {
                range: removal,
                text: String::new(),
            },
        );
    }
}
