//! `repetition` on the OpenAI cookbook's flawed chat example (an assistant reply that is one
//! sentence repeated about 2,000 times), and its silence on real prose.

use super::super::{opts, vendored};
use voicetune::dataset::FileKind;
use voicetune::lint::report::LineIndex;
use voicetune::lint::{apply_fixes, lint_file, lint_text, FixMode};

#[test]
fn the_cookbook_reply_that_loops_is_found_and_cut_to_one_sentence() {
    let path = vendored("jsonl/openai-cookbook_toy_chat_fine_tuning.jsonl");
    let report = lint_file(&path, &opts()).unwrap();
    let found: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "repetition")
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let index = LineIndex::new(&report.text);
    assert_eq!(index.line_col(found[0].span.start).line, 5);
    assert!(
        found[0].message.contains("2000 times"),
        "{}",
        found[0].message
    );
    let (fixed, _) = apply_fixes(&report.text, &report.findings, FixMode::All);
    let line: serde_json::Value = serde_json::from_str(fixed.lines().nth(4).unwrap()).unwrap();
    let reply = line["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    assert_eq!(reply["content"], "Eat a banana!");
    // The fix is unsafe (it drops text): a safe --fix leaves the reply alone.
    let (safe, _) = apply_fixes(&report.text, &report.findings, FixMode::Safe);
    assert!(safe.contains("Eat a banana!Eat a banana!"));
}

#[test]
fn real_datasets_and_posts_have_no_repetition() {
    for name in [
        "jsonl/mlx-examples_lora_wikisql_valid.jsonl",
        "jsonl/gsm8k_test.jsonl",
        "jsonl/self-instruct_seed_tasks.jsonl",
    ] {
        let report = lint_file(&vendored(name), &opts()).unwrap();
        let found: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.rule == "repetition")
            .collect();
        assert!(found.is_empty(), "{name}: {found:?}");
    }
    for entry in std::fs::read_dir(vendored("blog")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let found: Vec<_> = lint_text(&text, FileKind::Markdown, &opts())
            .into_iter()
            .filter(|f| f.rule == "repetition")
            .collect();
        assert!(found.is_empty(), "{}: {found:?}", path.display());
    }
}
