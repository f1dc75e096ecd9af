//! Fuzzing the parsers and the fix engine with hostile structure (issue 17): many findings in
//! one string, deep nesting, huge lines, escapes and surrogates (lone ones too), CJK, emoji,
//! control characters, BOM and CRLF. Properties: nothing panics, every span and edit lies
//! inside the text on character boundaries, fixes applied to a fixed point leave every line
//! that was JSON valid JSON, and the language server's diagnostics stay within the document
//! and within its cap. Case counts are bounded so a debug build runs this in well under a
//! minute.

use proptest::prelude::*;
use std::ops::Range;
use voicetune::config::Config;
use voicetune::dataset::FileKind;
use voicetune::lint::fix::fix_all;
use voicetune::lint::{apply_fixes, lint_text, Finding, FixMode, LintOptions};
use voicetune::lsp::document::{Document, MAX_PUBLISHED};
use voicetune::lsp::position::Encoding;

fn opts() -> LintOptions {
    LintOptions::new(&Config::default())
}

/// Pieces of training text that rules find things in, and text that trips up decoders.
fn piece() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "plain words",
        " ",
        "\n",
        "\r\n",
        "\t",
        "<p>",
        "</p>",
        "<b>x</b>",
        "<!-- c -->",
        "&amp;",
        "&#8217;",
        "&nbsp;",
        "AT&T;",
        "https://x.example/a?b=1",
        "www.example.com",
        "[l](http://y.z)",
        "![i](a.png)",
        "<http://a.b>",
        "[1]: http://c.d",
        "a.b@example.org",
        "555-123-4567",
        "+44 20 7946 0958",
        "Katie Robbert 0:25",
        "[00:12:05]",
        "00:00:01,000 --> 00:00:04,000",
        "Share This",
        "`<code>`",
        "```\n<div>\n```",
        "😀",
        "中文",
        "e\u{301}",
        "\u{200b}",
        "\u{feff}",
        "\u{1}",
        "\u{1b}]0;T\u{7}",
        "\u{2028}",
        "\"",
        "\\",
        "\u{ffff}",
        "𝕏",
    ])
    .prop_map(str::to_string)
}

/// A training text: pieces, some repeated many times (many findings in one string).
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec((piece(), 1usize..200), 1..8).prop_map(|runs| {
        runs.iter()
            .map(|(p, n)| p.repeat(if *n > 40 { *n } else { 1 }))
            .collect()
    })
}

/// A JSON string literal of `text`, with non-ASCII escaped as `\u` (surrogate pairs for
/// astral characters) or left raw.
fn literal(text: &str, ascii: bool) -> String {
    let plain = serde_json::to_string(text).unwrap();
    if !ascii {
        return plain;
    }
    plain
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect()
}

/// A JSONL line: a chat record (maybe deeply nested, maybe with extra keys), a legacy or text
/// record, or broken JSON (truncated, a lone surrogate, raw control bytes, nesting past the cap).
fn line() -> impl Strategy<Value = String> {
    (text(), text(), any::<bool>(), 0usize..6, 0usize..300).prop_map(
        |(user, reply, ascii, shape, depth)| {
            let (u, r) = (literal(&user, ascii), literal(&reply, ascii));
            let chat = format!(
                r#"{{"messages": [{{"role": "user", "content": {u}}}, {{"role": "assistant", "content": {r}}}]}}"#
            );
            match shape {
                0 => chat,
                1 => format!(r#"{{"prompt": {u}, "completion": {r}}}"#),
                2 => format!(
                    r#"{{"messages": [{{"role": "assistant", "content": {r}, "x": {}1{}}}], "extra": {u}}}"#,
                    "[".repeat(depth),
                    "]".repeat(depth)
                ),
                3 => {
                    // Truncated anywhere (on a character boundary).
                    let mut cut = chat.len() * depth.min(99) / 100;
                    while !chat.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    chat[..cut].to_string()
                }
                4 => chat.replacen("\"content\": \"", "\"content\": \"\\ud83d", 1),
                _ => format!(r#"{{"text": {r}}}"#),
            }
        },
    )
}

fn jsonl() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(line(), 1..8),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, bom)| {
            let body = lines.join(if crlf { "\r\n" } else { "\n" });
            if bom {
                format!("\u{feff}{body}\n")
            } else {
                body + "\n"
            }
        })
}

fn markdown() -> impl Strategy<Value = String> {
    (text(), text(), any::<bool>()).prop_map(|(title, body, toml)| {
        let title = title.replace(['\n', '\r'], " ");
        if toml {
            format!(
                "+++\ntitle = {}\n+++\n{body}",
                serde_json::to_string(&title).unwrap()
            )
        } else {
            format!("---\ntitle: {title}\n---\n{body}")
        }
    })
}

fn in_text(text: &str, span: &Range<usize>) -> bool {
    span.start <= span.end
        && span.end <= text.len()
        && text.is_char_boundary(span.start)
        && text.is_char_boundary(span.end)
}

/// Spans and edits inside the text, on character boundaries.
fn check_findings(text: &str, findings: &[Finding]) -> Result<(), TestCaseError> {
    for f in findings {
        prop_assert!(
            in_text(text, &f.span),
            "{} span {:?} outside the text",
            f.rule,
            f.span
        );
        for e in f.fix.iter().flat_map(|fix| &fix.edits) {
            prop_assert!(
                in_text(text, &e.span),
                "{} edit {:?} outside the text",
                f.rule,
                e.span
            );
        }
    }
    Ok(())
}

/// The fix engine to a fixed point: lines that were JSON stay JSON, and nothing is left to fix.
fn check_fixes(text: &str, kind: FileKind, opts: &LintOptions) -> Result<(), TestCaseError> {
    let (fixed, _) = fix_all(text, kind, opts, FixMode::All);
    if kind == FileKind::Jsonl {
        // Fixes may delete or split records, never break one: no more lines fail to parse
        // after fixing than before.
        let broken = |text: &str| {
            text.lines()
                .map(|l| l.trim_start_matches('\u{feff}'))
                .filter(|l| !l.trim().is_empty())
                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
                .count()
        };
        prop_assert!(
            broken(&fixed) <= broken(text),
            "a fix broke a line: {:?}",
            fixed
        );
    }
    let again = lint_text(&fixed, kind, opts);
    check_findings(&fixed, &again)?;
    let (_, applied) = apply_fixes(&fixed, &again, FixMode::All);
    prop_assert_eq!(applied, 0, "not a fixed point: {:?}", fixed);
    Ok(())
}

/// The server's view: diagnostics inside the document (UTF-16 columns within each line),
/// at most the cap plus its summary.
fn check_document(text: &str, kind: FileKind, opts: &LintOptions) -> Result<(), TestCaseError> {
    let doc = Document::new(text, kind, 1, Encoding::Utf16, opts);
    let lines: Vec<&str> = text.split('\n').collect();
    let diagnostics = doc.diagnostics("file");
    prop_assert!(diagnostics.len() <= MAX_PUBLISHED + 1);
    for d in diagnostics {
        for p in [d.range.start, d.range.end] {
            let line = p.line as usize;
            prop_assert!(line < lines.len(), "line {} of {}", line, lines.len());
            let width = lines[line].trim_end_matches('\r').encode_utf16().count();
            prop_assert!(
                p.character as usize <= width,
                "column {} of {}",
                p.character,
                width
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn hostile_jsonl_lints_fixes_and_publishes_within_bounds(text in jsonl()) {
        let opts = opts();
        let findings = lint_text(&text, FileKind::Jsonl, &opts);
        check_findings(&text, &findings)?;
        check_fixes(&text, FileKind::Jsonl, &opts)?;
        check_document(&text, FileKind::Jsonl, &opts)?;
    }

    #[test]
    fn hostile_markdown_lints_fixes_and_publishes_within_bounds(text in markdown()) {
        let opts = opts();
        let findings = lint_text(&text, FileKind::Markdown, &opts);
        check_findings(&text, &findings)?;
        check_fixes(&text, FileKind::Markdown, &opts)?;
        check_document(&text, FileKind::Markdown, &opts)?;
    }

    /// Random bytes (decoded as the CLI does) through both readers.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4000)) {
        let (text, _) = voicetune::lint::engine::decode_lossless_offsets(bytes);
        let opts = opts();
        for kind in [FileKind::Jsonl, FileKind::Markdown] {
            let findings = lint_text(&text, kind, &opts);
            check_findings(&text, &findings)?;
            let _ = fix_all(&text, kind, &opts, FixMode::All);
        }
    }
}

/// One huge line: 100,000 findings in one string (a URL every 20 bytes, escaped newlines
/// between), linted and fixed; every finding maps inside the line.
#[test]
fn a_line_with_a_hundred_thousand_findings() {
    let reply: String = (0..100_000)
        .map(|i| format!("x https://t.co/{i}\n"))
        .collect();
    let text = format!(
        r#"{{"messages": [{{"role": "user", "content": "q"}}, {{"role": "assistant", "content": {}}}]}}"#,
        serde_json::to_string(&reply).unwrap()
    ) + "\n";
    let opts = opts();
    let findings = lint_text(&text, FileKind::Jsonl, &opts);
    assert!(findings.iter().filter(|f| f.rule == "url").count() == 100_000);
    check_findings(&text, &findings).unwrap();
    let (fixed, applied) = apply_fixes(&text, &findings, FixMode::Safe);
    assert!(applied >= 100_000);
    assert!(serde_json::from_str::<serde_json::Value>(fixed.trim_end()).is_ok());
    assert!(!fixed.contains("https://"));
}
