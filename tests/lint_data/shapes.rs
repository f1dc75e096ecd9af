//! ShareGPT and Alpaca arrays, question/answer and chosen/rejected JSONL, and a shape nobody
//! named: lint checks them where they stand, and `voicetune convert` turns them into records
//! that lint clean.

use super::super::{opts, temp_dir, vendored, voicetune};
use std::path::Path;
use voicetune::dataset::FileKind;
use voicetune::lint::report::LineIndex;
use voicetune::lint::{lint_file, lint_text, Finding};

/// Findings other than the dataset's size (the fixtures hold a dozen examples).
fn findings_of(path: &Path) -> Vec<Finding> {
    lint_file(path, &opts())
        .unwrap()
        .findings
        .into_iter()
        .filter(|f| f.rule != "dataset-size")
        .collect()
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn each_shape_gets_one_file_finding_and_nothing_else() {
    for (file, shape) in [
        ("sharegpt.json", "ShareGPT"),
        ("alpaca.json", "Alpaca"),
        ("qa.jsonl", "question/answer"),
        ("chosen_rejected.jsonl", "chosen/rejected"),
    ] {
        let found = findings_of(&vendored(&format!("shapes/{file}")));
        assert_eq!(rules(&found), ["other-shape"], "{file}: {found:?}");
        assert!(
            found[0].message.contains(shape),
            "{file}: {}",
            found[0].message
        );
        assert!(
            found[0].message.contains("12 record"),
            "{}",
            found[0].message
        );
        assert!(found[0].message.contains("voicetune convert"));
    }
}

#[test]
fn one_unknown_shape_is_one_finding_with_the_command() {
    let found = findings_of(&vendored("shapes/unknown_shape.jsonl"));
    assert_eq!(rules(&found), ["other-shape"], "{found:?}");
    let message = &found[0].message;
    assert!(message.contains("all 12 records"), "{message}");
    assert!(
        message.contains("`query`, `response`, `source`"),
        "{message}"
    );
    assert!(
        message.contains("voicetune convert FILE -o OUT.jsonl --map query=user --map source=user --map response=assistant"),
        "{message}"
    );
}

#[test]
fn findings_land_on_the_right_element_of_a_json_array() {
    let text = std::fs::read_to_string(vendored("shapes/sharegpt.json")).unwrap();
    // Plant a tag (after an emoji and CJK text) in the third conversation's reply.
    let reply = "Wild yeast and lactic bacteria";
    let planted = text.replacen(reply, "😀 中文 <b>Wild</b> yeast and lactic bacteria", 1);
    let found = lint_text(&planted, FileKind::Json, &opts());
    let html: Vec<&Finding> = found.iter().filter(|f| f.rule == "html").collect();
    assert_eq!(html.len(), 2, "{found:?}");
    assert_eq!(&planted[html[0].span.clone()], "<b>");
    let index = LineIndex::new(&planted);
    let line = planted[..html[0].span.start].matches('\n').count() + 1;
    assert_eq!(index.line_col(html[0].span.start).line, line);
    assert!(planted
        .lines()
        .nth(line - 1)
        .unwrap()
        .contains("\"value\": \"😀 中文 <b>"));
    // The fix edits the array in place and keeps it valid JSON.
    let (fixed, _) = voicetune::lint::apply_fixes(&planted, &found, voicetune::lint::FixMode::Safe);
    let value: serde_json::Value = serde_json::from_str(&fixed).expect("still JSON");
    assert_eq!(value.as_array().unwrap().len(), 12);
    assert!(!fixed.contains("<b>"));
    // A duplicate element is removed with its comma.
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut doubled = items.clone();
    doubled.push(items[3].clone());
    let doubled = serde_json::to_string_pretty(&doubled).unwrap();
    let found = lint_text(&doubled, FileKind::Json, &opts());
    let dup: Vec<&Finding> = found.iter().filter(|f| f.rule == "duplicate").collect();
    assert_eq!(dup.len(), 1, "{found:?}");
    assert_eq!(&doubled[dup[0].span.start..dup[0].span.start + 1], "{");
    let (fixed, _) = voicetune::lint::apply_fixes(&doubled, &found, voicetune::lint::FixMode::All);
    let value: Vec<serde_json::Value> = serde_json::from_str(&fixed).expect("still JSON");
    assert_eq!(value.len(), 12);
}

#[test]
fn a_json_file_that_is_not_an_array_says_so() {
    let found = lint_text("{\"name\": \"x\"}\n", FileKind::Json, &opts());
    assert_eq!(rules(&found), ["not-an-object"], "{found:?}");
    assert!(found[0].message.contains("array of records"));
    let found = lint_text("[{\"text\": \"a\"},]\n", FileKind::Json, &opts());
    assert_eq!(rules(&found), ["invalid-json"], "{found:?}");
}

/// Converts `input` (with `args`), checks the summary line, and returns the output's findings
/// (size aside) and the output text.
fn convert(input: &Path, args: &[&str], records: usize, dir: &Path) -> (Vec<Finding>, String) {
    let out = dir.join(format!(
        "{}.chat.jsonl",
        input.file_name().unwrap().to_string_lossy()
    ));
    let run = voicetune()
        .arg("convert")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}: {stdout}{}",
        input.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains(&format!("{records} records written")) && stdout.contains("0 skipped"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), records);
    (findings_of(&out), text)
}

#[test]
fn converted_files_lint_clean() {
    let dir = temp_dir("convert");
    for file in [
        "sharegpt.json",
        "alpaca.json",
        "qa.jsonl",
        "chosen_rejected.jsonl",
    ] {
        let (found, text) = convert(&vendored(&format!("shapes/{file}")), &[], 12, &dir);
        assert!(found.is_empty(), "{file}: {found:?}\n{text}");
    }
    // ShareGPT's own system prompts are kept; chosen/rejected becomes preference records.
    let (_, text) = convert(&vendored("shapes/sharegpt.json"), &[], 12, &dir);
    assert_eq!(text.matches(r#""role":"system""#).count(), 3);
    let (_, text) = convert(&vendored("shapes/chosen_rejected.jsonl"), &[], 12, &dir);
    assert_eq!(text.matches("preferred_output").count(), 24);
    // --system fills in a system message where there is none.
    let (found, text) = convert(
        &vendored("shapes/qa.jsonl"),
        &["--system", "You answer like a friendly neighbour."],
        12,
        &dir,
    );
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(text.matches("friendly neighbour").count(), 12);
}

#[test]
fn an_unknown_shape_converts_with_the_suggested_map() {
    let dir = temp_dir("convert-map");
    let input = vendored("shapes/unknown_shape.jsonl");
    let run = voicetune()
        .arg("convert")
        .arg(&input)
        .arg("-o")
        .arg(dir.join("out.jsonl"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("line 1: skipped: unknown shape"),
        "{stderr}"
    );
    assert!(stderr.contains("--map"), "{stderr}");
    assert!(!dir.join("out.jsonl").exists());
    let (found, text) = convert(
        &input,
        &["--map", "query=user", "--map", "response=assistant"],
        12,
        &dir,
    );
    assert!(found.is_empty(), "{found:?}");
    assert!(!text.contains("notes"), "unmapped fields are dropped");
    let bad = voicetune()
        .args(["convert", "x.jsonl", "-o", "y.jsonl", "--map", "query"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected FIELD=ROLE"));
}
