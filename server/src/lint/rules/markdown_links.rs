//! Markdown links, images, reference definitions and autolinks inside training text.

use crate::clean;
use crate::lint::rule::TextRule;
use crate::lint::text::{TextField, TextFix};
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};

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

pub struct MarkdownLinks;

impl TextRule for MarkdownLinks {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&MARKDOWN_LINK];
        RULES
    }

    fn check_text(&self, field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
        check(field, opts, out);
    }
}

fn check(field: &TextField, opts: &LintOptions, out: &mut Vec<Finding>) {
    let text = field.text();
    if !opts.enabled(&MARKDOWN_LINK)
        || (!text.contains("](")
            && !text.contains("]:")
            && !text.contains("<http")
            && !text.contains("<ftp"))
    {
        return;
    }
    let mut push = |range: std::ops::Range<usize>, message: String, fix: TextFix| {
        if field.in_code(&range) {
            return;
        }
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
                TextFix::remove("Remove the image", removal),
            );
        } else {
            push(
                whole.range(),
                format!("markdown link to `{}` in training text", &caps[3]),
                TextFix::replace("Keep the anchor text only", whole.range(), anchor),
            );
        }
    }
    for definition in clean::LINK_DEFINITION.find_iter(text) {
        push(
            definition.range(),
            "link reference definition in training text".into(),
            // The whole line goes, with its line break.
            TextFix::remove(
                "Remove the definition",
                super::transcript::line_removal(text, definition.range()),
            ),
        );
    }
    for autolink in clean::AUTOLINK.find_iter(text) {
        let removal = clean::removal_range(text, autolink.range());
        push(
            autolink.range(),
            format!("autolink `{}` in training text", autolink.as_str()),
            TextFix::remove("Remove the link", removal),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    #[test]
    fn keeps_the_anchor_and_removes_images() {
        let line = reply("Read [my notes](https://tea.example.com) now ![cup](cup.png) please.");
        assert_eq!(line_findings(&line, "markdown-link").len(), 2);
        let fixed = fixed(&line, "markdown-link");
        assert!(fixed.contains("Read my notes now please."), "{fixed}");
    }

    #[test]
    fn leaves_brackets_without_links_alone() {
        assert!(line_findings(
            &reply("Tea [the green kind] is my favourite drink."),
            "markdown-link"
        )
        .is_empty());
    }
}
