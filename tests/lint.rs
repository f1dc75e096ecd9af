//! Lint engine and `voicetune lint` end to end: every rule on dirty and clean input, escape
//! mapping, fixes that keep lines valid JSON, CLI output formats, exit codes and bad input.

// Hostile structure through the parsers and the fix engine (issue 17).
#[path = "lint/hostile.rs"]
mod hostile;
// `voicetune lint --provider together` (issue 18).
mod lint_fuzz;
#[path = "lint/together.rs"]
mod together;

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use voicetune::config::Config;
use voicetune::dataset::FileKind;
use voicetune::lint::fix::fix_all;
use voicetune::lint::{apply_fixes, lint_text, Finding, FixMode, LintOptions};

mod lint_data;

fn opts() -> LintOptions {
    LintOptions::new(&Config::default())
}

/// Options for fine-tuning on Together (`provider = "together"`, a Llama 3.1 8B model).
fn together_opts() -> LintOptions {
    LintOptions::new(&Config {
        provider: voicetune::config::Provider::Together,
        target_model: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference".into(),
        ..Config::default()
    })
}

/// Options for a legacy completions target, where the separator/stop/leading-space rules run.
fn legacy_opts() -> LintOptions {
    LintOptions::new(&Config {
        target_model: "davinci-002".into(),
        ..Config::default()
    })
}

/// Clean chat lines before the line under test, so that dataset-size stays quiet.
const PAD: usize = 100;

fn padding() -> String {
    const WORDS: &[&str] = &[
        "tea", "rain", "garden", "bicycle", "letters", "harbour", "violin", "pepper", "maps",
        "orchard", "lantern", "granite", "meadow", "copper", "ferry", "thistle", "quartz",
        "saddle", "walnut", "ember",
    ];
    (0..PAD)
        .map(|i| {
            let word = |k: usize| {
                WORDS[((i * 31 + k) as u64)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .rotate_left(29) as usize
                    % WORDS.len()]
            };
            let reply: Vec<String> = (0..12)
                .map(|k| format!("{}{}", word(k), if k % 4 == 3 { "," } else { "" }))
                .collect();
            chat(
                &format!("Tell me about {} and {} ({i}).", word(1), word(2)),
                &format!("Honestly, {} matter to me.", reply.join(" ")),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn chat(user: &str, assistant: &str) -> String {
    serde_json::json!({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}).to_string()
}

fn lint_jsonl(line: &str) -> (String, Vec<Finding>) {
    let text = format!("{}\n{line}\n", padding());
    let findings = lint_text(&text, FileKind::Jsonl, &opts());
    (text, findings)
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

/// Lints `line`, asserts `rule` fires, applies all safe fixes and returns the fixed last line.
fn assert_fires_and_fix(line: &str, rule: &str) -> String {
    let (text, findings) = lint_jsonl(line);
    assert!(
        codes(&findings).contains(&rule),
        "{rule} not found in {:?} for {line}",
        codes(&findings)
    );
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe);
    let again = lint_text(&fixed, FileKind::Jsonl, &opts());
    assert!(
        !codes(&again).contains(&rule),
        "{rule} still there after fixing: {fixed}"
    );
    for l in fixed.lines() {
        serde_json::from_str::<serde_json::Value>(l)
            .unwrap_or_else(|e| panic!("fixed line is not JSON ({e}): {l}"));
    }
    fixed.lines().last().unwrap().to_string()
}

fn assistant_text(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn clean_dataset_has_no_findings() {
    let (_, findings) = lint_jsonl(&chat(
        "Write about tea.",
        "Tea is a leaf, steeped, and I drink far too much of it.",
    ));
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn html_document_is_converted_with_paragraphs_and_anchor_text() {
    let line = chat(
        "Post",
        "<p>Read <a href=\"https://x.com/a\">our post</a> &amp; more.</p><p>Second para.</p>",
    );
    let fixed = assert_fires_and_fix(&line, "html");
    assert_eq!(
        assistant_text(&fixed),
        "Read our post & more.\n\nSecond para."
    );
}

#[test]
fn inline_html_tag_and_entity_are_removed_precisely() {
    let line = chat("Post", "I <b>love</b> tea &mdash; really.");
    let (_, findings) = lint_jsonl(&line);
    let html: Vec<_> = findings.iter().filter(|f| f.rule == "html").collect();
    assert_eq!(html.len(), 3);
    let fixed = assert_fires_and_fix(&line, "html");
    assert_eq!(assistant_text(&fixed), "I love tea — really.");
}

#[test]
fn html_inside_code_is_left_alone() {
    let (_, findings) = lint_jsonl(&chat(
        "Post",
        "Use the `<div>` tag:\n```html\n<div>x</div>\n```\nDone, that is all.",
    ));
    assert!(!codes(&findings).contains(&"html"), "{findings:?}");
}

#[test]
fn urls_markdown_links_and_images() {
    let fixed = assert_fires_and_fix(
        &chat("Post", "See https://example.com/x?y=1 for more, friends."),
        "url",
    );
    assert_eq!(assistant_text(&fixed), "See for more, friends.");
    let fixed = assert_fires_and_fix(
        &chat(
            "Post",
            "Read [my post](https://e.com/p) and ![chart](c.png) today.",
        ),
        "markdown-link",
    );
    assert_eq!(assistant_text(&fixed), "Read my post and today.");
    let fixed = assert_fires_and_fix(
        &chat(
            "Post",
            "Read [our post][1] now, friends.\n\n[1]: https://example.com/post",
        ),
        "markdown-link",
    );
    assert!(!assistant_text(&fixed).contains("example.com"), "{fixed}");
}

#[test]
fn pii_is_redacted() {
    let fixed = assert_fires_and_fix(
        &chat(
            "Post",
            "Mail jane@example.com or call (555) 123-4567 today.",
        ),
        "email",
    );
    assert_eq!(
        assistant_text(&fixed),
        "Mail [email] or call [phone] today."
    );
    let (_, findings) = lint_jsonl(&chat(
        "Post",
        "In 2017-03-06 we had 12345678 users and it was great.",
    ));
    assert!(!codes(&findings).contains(&"phone"));
}

#[test]
fn transcript_and_boilerplate_lines_are_removed() {
    let fixed = assert_fires_and_fix(
        &chat(
            "Episode",
            "Katie Robbert 0:25\nSo what we did was measure it.\n[00:01:02] And it worked.",
        ),
        "transcript",
    );
    assert_eq!(
        assistant_text(&fixed),
        "So what we did was measure it.\nAnd it worked."
    );
    let fixed = assert_fires_and_fix(
        &chat(
            "Post",
            "My real paragraph about tea and biscuits.\nShare This\nLeave a Reply",
        ),
        "boilerplate",
    );
    assert_eq!(
        assistant_text(&fixed),
        "My real paragraph about tea and biscuits."
    );
}

#[test]
fn whitespace_padding_is_trimmed() {
    let fixed = assert_fires_and_fix(
        &chat("Post", "\n\n  Padded reply about tea and things.  "),
        "whitespace",
    );
    assert_eq!(assistant_text(&fixed), "Padded reply about tea and things.");
}

#[test]
fn structure_rules() {
    let cases = [
        (
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x"}"#,
            "invalid-json",
        ),
        (r#"["not", "an", "object"]"#, "not-an-object"),
        (r#"{"foo": 1}"#, "missing-key"),
        (
            r#"{"messages":[{"role":"user","content":"hi there"}]}"#,
            "missing-assistant",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi there"},{"role":"assistant","content":""}]}"#,
            "empty-content",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"A long enough reply.","weight":2}]}"#,
            "invalid-weight",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"A long enough reply."},{"role":"user","content":"and?"}]}"#,
            "role-order",
        ),
        (
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"A long enough reply."}],"id":7}"#,
            "unknown-key",
        ),
        (
            r#"{"prompt":"Q\n\n###\n\n","completion":" A long enough answer END"}"#,
            "mixed-formats",
        ),
    ];
    for (line, rule) in cases {
        let (_, findings) = lint_jsonl(line);
        assert!(
            codes(&findings).contains(&rule),
            "{rule} not found for {line}: {:?}",
            codes(&findings)
        );
    }
    let fixed = assert_fires_and_fix(
        r#"{"messages":[{"role":"human","content":"hi"},{"role":"bot","content":"A long enough reply here."}]}"#,
        "invalid-role",
    );
    assert!(
        fixed.contains(r#""role":"user""#) && fixed.contains(r#""role":"assistant""#),
        "{fixed}"
    );
}

#[test]
fn blank_lines_separator_in_prompt_and_short_outputs() {
    let text = format!(
        "{}\n\n{}\n",
        padding(),
        chat("Post", "A reply that is long enough to count.")
    );
    let findings = lint_text(&text, FileKind::Jsonl, &opts());
    assert_eq!(codes(&findings), ["blank-line"]);
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe);
    assert_eq!(fixed.lines().count(), PAD + 1);

    let (_, findings) = lint_jsonl(&chat("Post", "OK."));
    assert!(codes(&findings).contains(&"too-short"));

    let mut lines: Vec<String> = (0..11)
        .map(|i| format!(r#"{{"prompt":"Q{i}\n\n###\n\n","completion":" Answer {i} here. END"}}"#))
        .collect();
    lines.push(
        r#"{"prompt":"Q\n\n###\n\nmore\n\n###\n\n","completion":" Answer here. END"}"#.into(),
    );
    let findings = lint_text(&lines.join("\n"), FileKind::Jsonl, &legacy_opts());
    assert_eq!(
        codes(&findings)
            .iter()
            .filter(|c| **c == "separator-in-prompt")
            .count(),
        1
    );
}

#[test]
fn unknown_keys_are_removed_only_with_unsafe_fixes() {
    let line = r#"{"messages":[{"role":"user","content":"Hello there friend","timestamp":3},{"role":"assistant","content":"Hello to you, my friend."}],"id":"x1"}"#;
    let (text, findings) = lint_jsonl(line);
    assert_eq!(
        findings.iter().filter(|f| f.rule == "unknown-key").count(),
        2
    );
    assert_eq!(
        fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe).0,
        text
    );
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::All);
    assert_eq!(
        fixed.lines().last().unwrap(),
        r#"{"messages":[{"role":"user","content":"Hello there friend"},{"role":"assistant","content":"Hello to you, my friend."}]}"#
    );
}

#[test]
fn invalid_json_reports_the_column() {
    let (text, findings) = lint_jsonl(r#"{"messages": [1,]}"#);
    let f = findings.iter().find(|f| f.rule == "invalid-json").unwrap();
    assert!(
        f.message.contains("column 17") && f.message.contains("trailing comma"),
        "{}",
        f.message
    );
    assert_eq!(&text[f.span.clone()], "]");
}

#[test]
fn duplicates_and_templates_and_dataset_size() {
    let a = chat(
        "Write about tea.",
        "Tea is a leaf, steeped, and I drink far too much of it.",
    );
    let b = chat(
        "Write about tea.",
        "Tea  is a LEAF, steeped, and I drink far too much of it.",
    );
    let text = format!("{}\n{a}\n{b}\n", padding());
    let findings = lint_text(&text, FileKind::Jsonl, &opts());
    let dup = findings
        .iter()
        .find(|f| f.rule == "duplicate")
        .expect("duplicate found");
    assert_eq!(dup.message, format!("duplicate of line {}", PAD + 1));
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe);
    assert_eq!(fixed.lines().count(), PAD + 1);

    let template = "This week in marketing: here is our weekly recap of everything that happened on the blog and beyond.";
    let recaps: Vec<String> = (0..4).map(|i| chat(&format!("Recap {i}"), &format!("{template} Item {i} was about a topic that differs from the others in every way, number {i}."))).collect();
    let text = format!("{}\n{}\n", padding(), recaps.join("\n"));
    let findings = lint_text(&text, FileKind::Jsonl, &opts());
    assert_eq!(
        findings.iter().filter(|f| f.rule == "templated").count(),
        4,
        "{findings:?}"
    );

    let few = chat(
        "Write about tea.",
        "Tea is a leaf, steeped, and I drink far too much of it.",
    );
    let findings = lint_text(&few, FileKind::Jsonl, &opts());
    let size = findings.iter().find(|f| f.rule == "dataset-size").unwrap();
    assert_eq!(size.severity, voicetune::lint::Severity::Error);
}

#[test]
fn near_duplicates_are_found_and_deleted_only_as_an_unsafe_fix() {
    let post: String = (0..60)
        .map(|i| format!("sentence {i} about writing in my own voice. "))
        .collect();
    let edited = post.replacen("sentence 7 about", "sentence 7 on", 1);
    let text = format!(
        "{}\n{}\n{}\n",
        padding(),
        chat("Post", &post),
        chat("Post", &edited)
    );
    let findings = lint_text(&text, FileKind::Jsonl, &opts());
    let near = findings
        .iter()
        .find(|f| f.rule == "near-duplicate")
        .expect("near duplicate found");
    assert!(
        near.message
            .starts_with(&format!("near duplicate of line {}", PAD + 1)),
        "{}",
        near.message
    );
    assert!(!codes(&findings).contains(&"duplicate"));
    assert_eq!(
        fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe)
            .0
            .lines()
            .count(),
        PAD + 2
    );
    assert_eq!(
        fix_all(&text, FileKind::Jsonl, &opts(), FixMode::All)
            .0
            .lines()
            .count(),
        PAD + 1
    );
}

#[test]
fn legacy_separator_stop_and_space() {
    let good = |i: usize| {
        format!(
            r#"{{"prompt":"Question {i}\n\n###\n\n","completion":" Answer number {i} is here. END"}}"#
        )
    };
    let mut lines: Vec<String> = (0..11).map(good).collect();
    lines.push(r#"{"prompt":"Question x","completion":"Answer without space or stop"}"#.into());
    lines.push(r#"{"prompt":"Question y ->","completion":" Another answer here. END"}"#.into());
    let text = lines.join("\n") + "\n";
    let findings = lint_text(&text, FileKind::Jsonl, &legacy_opts());
    for rule in [
        "missing-separator",
        "completion-leading-space",
        "missing-stop-sequence",
        "inconsistent-separator",
    ] {
        assert!(
            codes(&findings).contains(&rule),
            "{rule}: {:?}",
            codes(&findings)
        );
    }
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &legacy_opts(), FixMode::Safe);
    let last_two: Vec<&str> = fixed.lines().skip(11).collect();
    assert_eq!(
        last_two[0],
        r#"{"prompt":"Question x\n\n###\n\n","completion":" Answer without space or stop END"}"#
    );
    assert_eq!(
        last_two[1],
        r#"{"prompt":"Question y\n\n###\n\n","completion":" Another answer here. END"}"#
    );
}

#[test]
fn token_limit_and_split_fix() {
    let config = Config {
        target_model: "gpt-3.5-turbo-0613".into(),
        ..Config::default()
    }; // 4,096 tokens
    let opts = LintOptions::new(&config);
    let para = "word ".repeat(2500).trim_end().to_string();
    let other = "other ".repeat(2500).trim_end().to_string();
    let line = chat("Long post", &format!("{para}\n\n{other}"));
    let text = format!("{}\n{line}\n", padding());
    let findings = lint_text(&text, FileKind::Jsonl, &opts);
    let long = findings
        .iter()
        .find(|f| f.rule == "too-many-tokens")
        .expect("over limit");
    assert!(long.message.contains("4096"), "{}", long.message);
    // The split is unsafe: --fix alone leaves it.
    assert!(
        fix_all(&text, FileKind::Jsonl, &opts, FixMode::Safe).0 == text,
        "safe fixes changed the text"
    );
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts, FixMode::All);
    assert_eq!(fixed.lines().count(), PAD + 2);
    assert!(!lint_text(&fixed, FileKind::Jsonl, &opts)
        .iter()
        .any(|f| f.rule == "too-many-tokens"));
}

#[test]
fn chat_token_count_matches_the_cookbook_formula() {
    let line = chat("hello world", "hello world");
    let result = voicetune::lint::lint_line(&line, &opts());
    // 3 per message x 2 + ("user" 1 + 2) + ("assistant" 1 + 2) + 3 priming = 15
    assert_eq!(result.summary.tokens, Some(15));
}

#[test]
fn findings_point_inside_escaped_strings() {
    // Emoji, CJK and escapes before the tag: the span must still land on the raw `\u003cb>`.
    let line = r#"{"messages":[{"role":"user","content":"写 😀 \"q\" \n"},{"role":"assistant","content":"好 😀 \"x\"\n \u003cb>bold\u003c/b> done now"}]}"#;
    let (text, findings) = lint_jsonl(line);
    let tags: Vec<&str> = findings
        .iter()
        .filter(|f| f.rule == "html")
        .map(|f| &text[f.span.clone()])
        .collect();
    assert_eq!(tags, [r"\u003cb>", r"\u003c/b>"]);
    let fixed = assert_fires_and_fix(line, "html");
    assert_eq!(assistant_text(&fixed), "好 😀 \"x\"\n bold done now");
}

#[test]
fn markdown_drafts() {
    let text = "---\ntitle: \"My post\"\n---\nHello <b>there</b>, see https://x.io now.  \n\n```\n<div>code</div>\n```\n";
    let findings = lint_text(text, FileKind::Markdown, &opts());
    assert_eq!(codes(&findings), ["html", "html", "url", "whitespace"]);
    let (fixed, _) = fix_all(text, FileKind::Markdown, &opts(), FixMode::Safe);
    assert_eq!(
        fixed,
        "---\ntitle: \"My post\"\n---\nHello there, see now.\n\n```\n<div>code</div>\n```\n"
    );
}

#[test]
fn bad_input_never_panics() {
    let cases: Vec<String> = vec![
        String::new(),
        "\u{feff}".to_string() + &chat("a", "b"),
        "\r\n\r\n".into(),
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\r\n".repeat(3),
        "[".repeat(10_000),
        "{\"a\":\"\\ud800\"}".into(),
        "{\"messages\":{}}".into(),
        "{\"messages\":[null, 1, {\"role\": 5, \"content\": {}}]}".into(),
        "{\"prompt\": 1, \"completion\": null}".into(),
        "{\"input\": [], \"preferred_output\": {}, \"non_preferred_output\": [1]}".into(),
    ];
    for text in cases {
        let findings = lint_text(&text, FileKind::Jsonl, &opts());
        let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::All);
        let _ = lint_text(&fixed, FileKind::Jsonl, &opts());
        let _ = findings;
        let _ = lint_text(&text, FileKind::Markdown, &opts());
    }
}

#[test]
fn crlf_and_bom_keep_their_offsets() {
    let text = format!(
        "\u{feff}{}\r\n{}\r\n",
        chat("hi", "<b>Bold</b> reply that is long enough."),
        padding().replace('\n', "\r\n")
    );
    let findings = lint_text(&text, FileKind::Jsonl, &opts());
    assert!(codes(&findings).contains(&"bom"));
    let tag = findings.iter().find(|f| f.rule == "html").unwrap();
    assert_eq!(&text[tag.span.clone()], "<b>");
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe);
    assert!(!fixed.starts_with('\u{feff}') && fixed.contains("\r\n") && !fixed.contains("<b>"));
}

// ---- fix-all property: idempotent, every line stays valid JSON, text outside edits kept ----

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("plain words here".to_string()),
        Just("<p>para</p>".to_string()),
        Just("<b>bold</b>".to_string()),
        Just("&amp; &#8217; &nbsp;".to_string()),
        Just("https://example.com/a?b=1".to_string()),
        Just("[link](http://x.y/z)".to_string()),
        Just("![img](a.png)".to_string()),
        Just("mail a.b@example.org".to_string()),
        Just("call 555-123-4567".to_string()),
        Just("Katie Robbert 0:25".to_string()),
        Just("Share This".to_string()),
        Just("  ".to_string()),
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just("\"quoted\" \\ back".to_string()),
        Just("😀 写 é\u{301}".to_string()),
        Just("\t".to_string()),
        Just("`<code>`".to_string()),
    ]
}

#[test]
fn emptying_one_example_does_not_make_an_untouched_blank_one_its_duplicate() {
    // Found by the property test below: fixing line 1 (URL, speaker label) leaves it without
    // words, like line 2; line 2 had nothing to fix and must come through unchanged.
    let text =
        chat("https://example.com/a?b=1", "Katie Robbert 0:25") + "\n" + &chat("  ", "\t") + "\n";
    let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::All);
    assert!(
        fixed.lines().any(|l| l == text.lines().nth(1).unwrap()),
        "{fixed}"
    );
    assert!(!lint_text(&text, FileKind::Jsonl, &opts())
        .iter()
        .any(|f| f.rule == "duplicate"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn fix_all_is_idempotent_and_keeps_lines_valid_json(
        rows in proptest::collection::vec((proptest::collection::vec(fragment(), 1..6), proptest::collection::vec(fragment(), 1..8)), 1..14)
    ) {
        let text: String = rows.iter().map(|(u, a)| chat(&u.concat(), &a.concat()) + "\n").collect();
        let opts = opts();
        let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts, FixMode::All);
        for line in fixed.lines() {
            prop_assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "invalid JSON: {}", line);
        }
        // Lines without a fixable finding come through byte for byte.
        let before = lint_text(&text, FileKind::Jsonl, &opts);
        let index = voicetune::lint::report::LineIndex::new(&text);
        let touched: std::collections::HashSet<usize> = before.iter().filter(|f| f.fix.is_some()).map(|f| index.line_col(f.span.start).line).collect();
        let fixed_lines: std::collections::HashSet<&str> = fixed.lines().collect();
        for (i, line) in text.lines().enumerate() {
            if !touched.contains(&(i + 1)) {
                prop_assert!(fixed_lines.contains(line), "untouched line {} changed: {}", i + 1, line);
            }
        }
        let findings = lint_text(&fixed, FileKind::Jsonl, &opts);
        let (again, applied) = apply_fixes(&fixed, &findings, FixMode::All);
        prop_assert_eq!(applied, 0, "fixable findings left: {:?}", findings.iter().filter(|f| f.fix.is_some()).map(|f| (&f.rule, &f.message)).collect::<Vec<_>>());
        prop_assert_eq!(again, fixed);
    }
}

// ---- the CLI ----

fn voicetune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voicetune"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voicetune-lint-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn cli_text_output_exit_codes_and_fix() {
    let dir = temp_dir("cli");
    let file = dir.join("data.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            padding(),
            chat("Post", "Read <b>this</b> at https://x.io today, friends.")
        ),
    )
    .unwrap();
    let (code, stdout, _) = run(voicetune().arg("lint").arg(&file));
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!("data.jsonl:{}:", PAD + 1))
            && stdout.contains("VT101 [html]")
            && stdout.contains("^^^"),
        "{stdout}"
    );
    let (code, _, stderr) = run(voicetune().args(["lint", "--fix"]).arg(&file));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("fixed"), "{stderr}");
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("Read this at today, friends."));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let (code, _, stderr) = run(voicetune().arg("lint").arg(dir.join("missing.jsonl")));
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.jsonl"), "{stderr}");
    let (code, _, _) = run(voicetune()
        .args(["lint", "--select", "nonsense"])
        .arg(&file));
    assert_eq!(code, 2);
}

/// Issue 17: every finding of an HTML document carried its own copy of the whole converted
/// text, so memory grew with tags x length (an 88 KB draft with 2,000 `<p>` pairs took
/// 376 MB, a 1.2 MB one 21 GB; one 290 KB JSONL line aborted). With 6,000 pairs (12,000
/// findings, a 330 KB text) that copying needs about 4 GB; the lint must finish within a
/// 2 GiB data limit, as a draft and as one JSONL line.
#[test]
fn many_html_findings_in_one_text_lint_in_bounded_memory() {
    let dir = temp_dir("html-memory");
    let body: String = (0..6_000)
        .map(|i| format!("<p>Paragraph {i} about tea and the morning light.</p>\n"))
        .collect();
    let draft = dir.join("draft.md");
    std::fs::write(&draft, format!("---\ntitle: Tea\n---\n{body}")).unwrap();
    let jsonl = dir.join("data.jsonl");
    std::fs::write(&jsonl, chat("Tell me about tea.", &body) + "\n").unwrap();
    // `voicetune lint FORMAT FILE` with 2 GiB of data memory at most.
    let lint_in_2_gib = |format: &str, file: &std::path::Path| {
        run(Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -d 2097152 && exec "$0" lint --format "$1" "$2""#)
            .arg(env!("CARGO_BIN_EXE_voicetune"))
            .arg(format)
            .arg(file))
    };
    for file in [&draft, &jsonl] {
        let (code, stdout, stderr) = lint_in_2_gib("text", file);
        assert_eq!(code, 1, "{}: {stderr}", file.display());
        let tags = stdout
            .lines()
            .filter(|l| l.contains("VT101 [html]"))
            .count();
        assert_eq!(tags, 12_000, "{}", file.display());
        // JSON carries the shared whole-text fix once, not once per tag.
        let (code, stdout, stderr) = lint_in_2_gib("json", file);
        assert_eq!(code, 1, "{}: {stderr}", file.display());
        let size = std::fs::metadata(file).unwrap().len() as usize;
        assert!(stdout.len() < 20 * size, "{} bytes of JSON", stdout.len());
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let all = json.as_array().unwrap();
        let html: Vec<usize> = (0..all.len())
            .filter(|&i| all[i]["code"] == "VT101")
            .collect();
        assert_eq!(html.len(), 12_000);
        let carrier = html[0];
        assert!(all[carrier]["fix"]["edits"][0]["new_text"].is_string());
        assert!(html[1..]
            .iter()
            .all(|&i| all[i]["fix_same_as"] == carrier && all[i]["fix"].is_null()));
    }
}

#[test]
fn cli_json_and_github_formats() {
    let dir = temp_dir("formats");
    let file = dir.join("d.jsonl");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            padding(),
            chat("Post", "Contact me at me@example.com please, friends.")
        ),
    )
    .unwrap();
    let (code, stdout, _) = run(voicetune().args(["lint", "--format", "json"]).arg(&file));
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let first = &json[0];
    assert_eq!(first["code"], "VT104");
    assert_eq!(first["start"]["line"], PAD + 1);
    assert_eq!(first["fix"]["edits"][0]["new_text"], "[email]");
    let (_, stdout, _) = run(voicetune().args(["lint", "--format", "github"]).arg(&file));
    assert!(
        stdout.starts_with("::warning file=")
            && stdout.contains(&format!("line={}", PAD + 1))
            && stdout.contains("title=VT104 email"),
        "{stdout}"
    );
    // A reader that goes away (`| head`): no panic, no error message, SIGPIPE's status.
    for format in ["json", "text"] {
        let mut child = voicetune()
            .args(["lint", "--format", format])
            .arg(&file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{format}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{stderr}"
        );
    }
}

#[test]
fn cli_bad_input_files() {
    let dir = temp_dir("bad");
    let latin1 = dir.join("latin1.jsonl");
    let mut bytes = chat("caf", "A reply that is long enough").into_bytes();
    bytes.splice(38..38, [0xE9]);
    std::fs::write(&latin1, &bytes).unwrap();
    let (code, stdout, _) = run(voicetune().arg("lint").arg(&latin1));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("invalid UTF-8 at byte offset 38"),
        "{stdout}"
    );
    let before = std::fs::read(&latin1).unwrap();
    run(voicetune().args(["lint", "--fix"]).arg(&latin1));
    assert_eq!(
        std::fs::read(&latin1).unwrap(),
        before,
        "a file with invalid UTF-8 is never rewritten"
    );

    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (code, stdout, _) = run(voicetune().arg("lint").arg(&empty));
    assert_eq!(code, 1);
    assert!(stdout.contains("0 examples"), "{stdout}");

    // One 50 MB line: linted, reported, no crash.
    let huge = dir.join("huge.jsonl");
    let big = "word ".repeat(10_000_000);
    std::fs::write(&huge, chat("Huge", &big)).unwrap();
    let (code, stdout, _) = run(voicetune().arg("lint").arg(&huge));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("too-many-tokens"),
        "{}",
        &stdout[..stdout.len().min(2000)]
    );
}

#[test]
fn cli_rule_docs_and_config() {
    let (code, stdout, _) = run(voicetune().args(["rule", "html"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("VT101 html") && stdout.contains("html2text"),
        "{stdout}"
    );
    let (_, list, _) = run(voicetune().arg("rule"));
    assert_eq!(list.lines().count(), voicetune::lint::all_rules().len());

    let dir = temp_dir("config");
    std::fs::write(
        dir.join("voicetune.toml"),
        "target_model = \"gpt-4o-mini\"\n[lint]\nignore = [\"url\"]\n",
    )
    .unwrap();
    let sub = dir.join("data");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        sub.join("a.jsonl"),
        format!(
            "{}\n{}\n",
            padding(),
            chat("x", "See https://x.io for the rest of it.")
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run(voicetune().arg("lint").arg(&dir));
    assert_eq!(code, 0, "{stdout}{stderr}");
    std::fs::write(dir.join("voicetune.toml"), "[lint]\nignore = [\"nope\"]\n").unwrap();
    let (code, _, stderr) = run(voicetune().arg("lint").arg(&dir));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("voicetune.toml") && stderr.contains("nope"),
        "{stderr}"
    );
}

/// An unknown rule name in `voicetune.toml` fails every command that reads the config, naming
/// the file, as it did when the config loader checked the names: `build` with exit status 2 like
/// `lint`, the remote `jobs` commands with their own status 1.
#[test]
fn cli_unknown_rule_in_the_config_fails_build_and_jobs() {
    let dir = temp_dir("unknown-rule");
    std::fs::write(dir.join("voicetune.toml"), "[lint]\nignore = [\"nope\"]\n").unwrap();
    std::fs::write(
        dir.join("post.md"),
        "# A post\n\nA paragraph that is long enough to keep.\n",
    )
    .unwrap();
    for (args, status) in [
        (&["build", "post.md", "-o", "out.jsonl"][..], 2),
        (&["jobs", "list", "--remote"][..], 1),
    ] {
        let (code, _, stderr) = run(voicetune().args(args).current_dir(&dir));
        assert_eq!(code, status, "{args:?}: {stderr}");
        assert!(
            stderr.contains("voicetune.toml: lint: unknown rule \"nope\""),
            "{args:?}: {stderr}"
        );
    }
    assert!(!dir.join("out.jsonl").exists());
}

/// The README's rules table is what `voicetune rule --list --format markdown` prints: adding or
/// changing a rule without updating the README fails here.
#[test]
fn readme_rules_table_matches_the_rules() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("| code | rule |")
        .expect("README has a rules table");
    let end = readme[start..]
        .find("\n\n")
        .map_or(readme.len(), |i| start + i + 1);
    let (code, printed, stderr) = run(voicetune().args(["rule", "--list", "--format", "markdown"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(printed, voicetune::lint::rules_table_markdown());
    assert_eq!(
        &readme[start..end],
        printed,
        "README.md's rules table is out of date: paste `voicetune rule --list --format markdown`"
    );
    let (_, listed, _) = run(voicetune().args(["rule", "--list"]));
    let (_, default, _) = run(voicetune().arg("rule"));
    assert_eq!(listed, default);
}

#[test]
fn cli_stats_matches_a_hand_computed_cost() {
    let dir = temp_dir("stats");
    let file = dir.join("s.jsonl");
    // Each line: 3+1+2 (user "hello world") + 3+1+2 (assistant) + 3 = 15 tokens.
    let lines: Vec<String> = (0..20)
        .map(|_| chat("hello world", "hello world"))
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, stdout, _) = run(voicetune()
        .args(["stats", "--json", "--model", "gpt-4o-mini-2024-07-18"])
        .arg(&file));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["examples"], 20);
    assert_eq!(v["billed_tokens"], 300);
    assert_eq!(v["epochs"], 5); // 20 x 3 < 100 -> min(25, 100 / 20)
                                // 300 x 5 x $3 / 1M
    assert!((v["cost_usd"].as_f64().unwrap() - 0.0045).abs() < 1e-12);
}

// ---- parity with the peer checkers, on the samples their wrappers are run on ----

fn vendored(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(path)
}

#[test]
fn planted_problems_are_all_found() {
    let dir = temp_dir("samples");
    let status = Command::new("python3")
        .arg(vendored("peers/make_samples.py"))
        .arg(&dir)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    // (file, 1-based line, rule we must report there) for every real problem a peer reports.
    let expected: &[(&str, usize, &str)] = &[
        ("chat.jsonl", 2, "html"),
        ("chat.jsonl", 3, "url"),
        ("chat.jsonl", 4, "duplicate"),
        ("chat.jsonl", 5, "invalid-role"),
        ("chat.jsonl", 6, "invalid-json"),
        ("chat.jsonl", 7, "missing-assistant"),
        ("chat.jsonl", 8, "empty-content"),
        ("chat.jsonl", 9, "unknown-key"),
        ("chat.jsonl", 10, "empty-content"),
        ("chat.jsonl", 12, "too-many-tokens"),
        ("chat.jsonl", 13, "not-an-object"),
        ("chat.jsonl", 14, "invalid-weight"),
        ("chat.jsonl", 15, "whitespace"),
        ("chat.jsonl", 16, "unknown-key"),
        // Line 18 (assistant content as a list of text parts) is valid: OpenAI's fine-tuning
        // format allows it, though three peers flag it.
        ("chat.jsonl", 19, "role-order"),
        ("chat.jsonl", 20, "empty-content"),
        ("legacy.jsonl", 2, "missing-separator"),
        ("legacy.jsonl", 2, "completion-leading-space"),
        ("legacy.jsonl", 2, "missing-stop-sequence"),
        ("legacy.jsonl", 3, "html"),
        ("legacy.jsonl", 4, "url"),
        ("legacy.jsonl", 5, "duplicate"),
        ("legacy.jsonl", 6, "empty-content"),
        ("legacy.jsonl", 9, "unknown-key"),
        ("legacy.jsonl", 10, "missing-stop-sequence"),
        ("legacy.jsonl", 12, "inconsistent-separator"),
        ("legacy_invalid.jsonl", 5, "invalid-json"),
        ("dpo.jsonl", 2, "identical-preference"),
        ("dpo.jsonl", 3, "preference-structure"),
        ("dpo.jsonl", 4, "preference-structure"),
        ("dpo.jsonl", 5, "preference-structure"),
        ("dpo.jsonl", 6, "html"),
        ("dpo.jsonl", 7, "missing-key"),
        ("dpo.jsonl", 8, "unknown-key"),
        ("dpo.jsonl", 9, "duplicate"),
        // An output that is not a list: a type error.
        ("dpo.jsonl", 10, "field-type"),
        ("rft.jsonl", 1, "invalid-role"),
    ];
    for (file, line, rule) in expected {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        // The legacy samples are for a legacy completions model, as prepare_data assumes.
        let opts = if file.starts_with("legacy") {
            legacy_opts()
        } else {
            opts()
        };
        let findings = lint_text(&text, FileKind::Jsonl, &opts);
        let index = voicetune::lint::report::LineIndex::new(&text);
        let found = findings
            .iter()
            .any(|f| f.rule == *rule && index.line_col(f.span.start).line == *line);
        assert!(
            found,
            "{file}:{line}: expected {rule}; found {:?}",
            findings
                .iter()
                .filter(|f| index.line_col(f.span.start).line == *line)
                .map(|f| &f.rule)
                .collect::<Vec<_>>()
        );
    }
    // finelint's near duplicate (the two long filler examples), and the cookbook's 16,385-token
    // limit when the target is gpt-3.5.
    let chat_text = std::fs::read_to_string(dir.join("chat.jsonl")).unwrap();
    let index = voicetune::lint::report::LineIndex::new(&chat_text);
    let line_of = |f: &Finding| index.line_col(f.span.start).line;
    assert!(lint_text(&chat_text, FileKind::Jsonl, &opts())
        .iter()
        .any(|f| f.rule == "near-duplicate" && line_of(f) == 12));
    let gpt35 = LintOptions::new(&Config {
        target_model: "gpt-3.5-turbo-0125".into(),
        ..Config::default()
    });
    let over: Vec<usize> = lint_text(&chat_text, FileKind::Jsonl, &gpt35)
        .iter()
        .filter(|f| f.rule == "too-many-tokens")
        .map(line_of)
        .collect();
    assert_eq!(over, [11, 12]);
    let draft = std::fs::read_to_string(dir.join("draft.md")).unwrap();
    let rules: Vec<String> = lint_text(&draft, FileKind::Markdown, &opts())
        .into_iter()
        .map(|f| f.rule)
        .collect();
    for rule in ["html", "url", "markdown-link", "whitespace"] {
        assert!(
            rules.iter().any(|r| r == rule),
            "draft.md: {rule} missing from {rules:?}"
        );
    }
    // The clean legacy file is clean apart from its size.
    let clean = std::fs::read_to_string(dir.join("legacy_clean.jsonl")).unwrap();
    let rules: Vec<String> = lint_text(&clean, FileKind::Jsonl, &legacy_opts())
        .into_iter()
        .map(|f| f.rule)
        .filter(|r| r != "dataset-size" && r != "too-short")
        .collect();
    assert!(rules.is_empty(), "{rules:?}");
}

#[test]
fn real_jsonl_files_lint_without_crashing() {
    for name in [
        "openai-cookbook_toy_chat_fine_tuning.jsonl",
        "mlx-examples_lora_wikisql_valid.jsonl",
        "gsm8k_test.jsonl",
        "self-instruct_seed_tasks.jsonl",
    ] {
        let text = std::fs::read_to_string(vendored("jsonl").join(name)).unwrap();
        let findings = lint_text(&text, FileKind::Jsonl, &opts());
        let (fixed, _) = fix_all(&text, FileKind::Jsonl, &opts(), FixMode::Safe);
        for line in fixed.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "{name}: {line}"
            );
        }
        if name.starts_with("gsm8k") {
            // {question, answer} is no fine-tuning format: said once, with the way out, and the
            // 1,319 records are checked where they stand.
            let shape: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.rule == "other-shape")
                .collect();
            assert_eq!(shape.len(), 1, "{shape:?}");
            assert!(shape[0]
                .message
                .contains("1319 record(s) in question/answer shape"));
            assert!(!findings.iter().any(|f| f.rule == "missing-key"));
        }
        if name.starts_with("self-instruct") {
            // {id, name, instruction, instances, is_classification}: one unknown shape, one
            // finding naming its keys and the --map flags.
            let shape: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.rule == "other-shape")
                .collect();
            assert_eq!(shape.len(), 1, "{shape:?}");
            assert!(
                shape[0].message.contains("all 175 records"),
                "{}",
                shape[0].message
            );
            assert!(shape[0].message.contains("--map"), "{}", shape[0].message);
        }
    }
}

// ---- token counts: the fast counter must agree with tiktoken exactly ----

#[test]
fn counts_match_tiktoken_on_real_text() {
    let o200k = tiktoken_rs::o200k_base().unwrap();
    let cl100k = tiktoken_rs::cl100k_base().unwrap();
    let fast_o200k =
        voicetune::tokens::Counter::for_model(voicetune::tokens::lookup("gpt-4o-mini").unwrap());
    let fast_cl100k = voicetune::tokens::Counter::for_model(
        voicetune::tokens::lookup("gpt-3.5-turbo-0125").unwrap(),
    );
    let mut texts: Vec<String> = vec![
        "<|endoftext|> and <|im_start|>user".into(),
        "😀👍🏽 写 é\u{301} русский ‘quote’ \u{0}\t\n\n  x".into(),
        "I'm can't WE'LL they'RE 1234567890 3.14159".into(),
    ];
    for name in [
        "openai-cookbook_toy_chat_fine_tuning.jsonl",
        "mlx-examples_lora_wikisql_valid.jsonl",
        "gsm8k_test.jsonl",
        "self-instruct_seed_tasks.jsonl",
    ] {
        texts.extend(
            std::fs::read_to_string(vendored("jsonl").join(name))
                .unwrap()
                .lines()
                .map(str::to_string),
        );
    }
    for entry in std::fs::read_dir(vendored("blog")).unwrap() {
        texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(texts.len() > 1500);
    for text in &texts {
        assert_eq!(
            fast_o200k.count(text),
            o200k.encode_ordinary(text).len(),
            "o200k: {}",
            &text[..text.len().min(80)]
        );
        assert_eq!(
            fast_cl100k.count(text),
            cl100k.encode_ordinary(text).len(),
            "cl100k: {}",
            &text[..text.len().min(80)]
        );
    }
}

// ---- a fresh clone has nothing beside it ----

/// Runs `scripts/check-repo-paths.py` on `root`; true when it finds nothing.
fn repo_paths_clean(root: &Path) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-repo-paths.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(root)
        .output()
        .expect("python3 runs");
    out.status.success()
}

#[test]
fn nothing_refers_to_paths_outside_the_repository() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        repo_paths_clean(&repo),
        "run scripts/check-repo-paths.py to see the references"
    );
    // The guard catches a planted reference (in a scratch repository, not this one).
    let dir = temp_dir("planted");
    let git = |args: &[&str]| {
        assert!(Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .unwrap()
            .status
            .success());
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(
        dir.join("tests/ok.rs"),
        "let p = \"../tests/fixtures/a\";\n",
    )
    .unwrap();
    assert!(repo_paths_clean(&dir));
    // Spelled in pieces so that this file does not trip the guard itself.
    let up = "..";
    for planted in [
        format!("let p = \"{up}/shared/data/x.xml\";\n"),
        format!("let p = Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"{up}/{up}/data/x\");\n"),
        format!("let p = \"/{}/someone/data.jsonl\";\n", "home"),
    ] {
        std::fs::write(dir.join("tests/planted.rs"), &planted).unwrap();
        assert!(!repo_paths_clean(&dir), "{planted}");
    }
}

/// `voicetune learn` on a hand-written log: the kept paragraphs (the accepted one when the
/// draft was never saved), deduplicated and without short ones, lint clean; the log is
/// untouched and cannot be the output.
#[test]
fn learn_turns_the_accepted_suggestions_log_into_a_clean_dataset() {
    use serde_json::{json, Value};
    let dir = temp_dir("learn");
    std::fs::write(
        dir.join("voicetune.toml"),
        "[lint]\nmin_examples = 5\nrecommended_examples = 5\n",
    )
    .unwrap();
    let topics = [
        "tea", "bread", "rivers", "trains", "gardens", "winter", "letters",
    ];
    let mut log = String::new();
    for (i, topic) in topics.iter().enumerate() {
        let accepted = json!({
            "event": "accepted", "id": format!("id{i}"), "time": 1_700_000_000 + i,
            "file": "drafts/post.md", "voice": "katie",
            "system": "You are a writer who writes blog posts in the author's own voice.",
            "user_template": "Write about: {title}", "title": topic,
            "before": format!("Post {i}: I keep coming back to {topic} because it"),
            "text": " teaches me patience, which is what writing needs most.",
        });
        log.push_str(&format!("{accepted}\n"));
        if i % 2 == 0 {
            let kept = json!({"event": "kept", "id": format!("id{i}"), "time": 1_800_000_000,
                "paragraph": format!("Post {i}: I return to {topic} again and again, since it \
                                      teaches me the patience that my writing needs most.")});
            log.push_str(&format!("{kept}\n"));
        }
    }
    // A repeat (of the never-saved id1) and a short one are left out.
    let repeat = log.lines().nth(2).unwrap().replace("\"id1\"", "\"again\"");
    assert!(repeat.contains("again"), "{repeat}");
    log.push_str(&format!("{repeat}\n"));
    log.push_str(&format!(
        "{}\n",
        json!({"event": "accepted", "id": "short", "time": 1, "file": "a.md", "voice": null,
               "system": "", "user_template": "{title}", "title": "T", "before": "Too",
               "text": " short."})
    ));
    let log_path = dir.join(".voicetune/learn/accepted.jsonl");
    std::fs::create_dir_all(log_path.parent().unwrap()).unwrap();
    std::fs::write(&log_path, &log).unwrap();

    let out = dir.join("learned.jsonl");
    let (code, _, stderr) = run(voicetune()
        .arg("learn")
        .arg("--workspace")
        .arg(&dir)
        .arg("-o")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("7 examples from 9 accepted"), "{stderr}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), topics.len(), "{written}");
    let first: Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert_eq!(first["messages"][1]["content"], "Write about: tea");
    assert!(first["messages"][2]["content"]
        .as_str()
        .unwrap()
        .contains("I return to tea again and again"));
    assert_eq!(std::fs::read_to_string(&log_path).unwrap(), log);

    let (code, _, stderr) = run(voicetune().arg("lint").arg(&out));
    assert_eq!(code, 0, "{stderr}\n{written}");

    let (code, _, stderr) = run(voicetune()
        .arg("learn")
        .arg("--workspace")
        .arg(&dir)
        .arg("-o")
        .arg(&log_path));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(std::fs::read_to_string(&log_path).unwrap(), log);
    std::fs::remove_dir_all(&dir).unwrap();
}
