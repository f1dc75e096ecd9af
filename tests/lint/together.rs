//! `voicetune lint --provider together` (issue 18): Together's four formats accepted as they
//! are, each broken case found on its line, the token limit from `--max-tokens` or
//! `lint.max_tokens`, and OpenAI's checks unchanged on the same files.

use super::{run, temp_dir, vendored, voicetune};
use std::path::Path;

/// (line, code, severity) of every finding of `voicetune lint FILE ARGS`, and the exit code.
fn lint(file: &Path, args: &[&str]) -> (i32, Vec<(u64, String, String)>) {
    let (code, stdout, stderr) = run(voicetune()
        .args(["lint", "--format", "json"])
        .args(args)
        .arg(file));
    let findings: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    let findings = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["start"]["line"].as_u64().unwrap(),
                f["code"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (code, findings)
}

/// The structural findings (codes VT0xx) as (line, code).
fn structural(findings: &[(u64, String, String)]) -> Vec<(u64, &str)> {
    findings
        .iter()
        .filter(|(_, code, _)| code.starts_with("VT0"))
        .map(|(line, code, _)| (*line, code.as_str()))
        .collect()
}

#[test]
fn each_together_format_is_accepted_clean() {
    for name in [
        "chat.jsonl",
        "instruction.jsonl",
        "text.jsonl",
        "preference.jsonl",
    ] {
        let file = vendored("together").join(name);
        let (_, findings) = lint(&file, &["--provider", "together"]);
        // Together takes a file of one example; fewer than 100 is only advice.
        let others: Vec<_> = findings
            .iter()
            .filter(|(_, code, severity)| !(code == "VT403" && severity == "warning"))
            .collect();
        assert!(others.is_empty(), "{name}: {others:?}");
        let (code, findings) = lint(
            &file,
            &["--provider", "together", "--ignore", "dataset-size"],
        );
        assert_eq!((code, findings), (0, Vec::new()), "{name}");
    }
}

#[test]
fn openai_checks_are_unchanged_on_the_same_files() {
    let dir = vendored("together");
    // Weights on system and user messages are Together's, not OpenAI's.
    let (code, findings) = lint(&dir.join("chat.jsonl"), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        structural(&findings),
        vec![(1, "VT016"), (1, "VT016"), (3, "VT016")]
    );
    // OpenAI wants 10 examples; its completion format has no content parts.
    let (_, findings) = lint(&dir.join("instruction.jsonl"), &[]);
    assert!(findings.contains(&(1, "VT403".into(), "error".into())));
    assert_eq!(structural(&findings), vec![(3, "VT020")]);
    // Two user turns in a row are fine for OpenAI.
    let (_, findings) = lint(&dir.join("broken-chat.jsonl"), &[]);
    assert!(!structural(&findings).contains(&(2, "VT013")));
}

#[test]
fn each_broken_case_is_found_on_its_line() {
    let dir = vendored("together");
    let cases: &[(&str, &[(u64, &str)])] = &[
        (
            "broken-chat.jsonl",
            &[
                (2, "VT013"), // two user turns in a row
                (3, "VT013"), // starts with the assistant
                (4, "VT012"), // the `function` role
                (5, "VT016"), // weight 2
                (6, "VT011"), // `parallel_tool_calls`: an extra column to Together
                (7, "VT021"), // an http image URL
                (8, "VT014"), // no assistant turn
            ],
        ),
        (
            "broken-preference.jsonl",
            &[
                (1, "VT017"), // input ends with the assistant
                (2, "VT017"), // two preferred outputs
                (3, "VT017"), // a non-preferred output from the user
            ],
        ),
        ("mixed.jsonl", &[(3, "VT019")]), // a text line in a chat file
        ("broken-text.jsonl", &[(2, "VT015"), (3, "VT020")]), // empty text, a number
    ];
    for (name, expected) in cases {
        let (code, findings) = lint(&dir.join(name), &["--provider", "together"]);
        assert_eq!(code, 1, "{name}");
        assert_eq!(structural(&findings), *expected, "{name}");
    }
}

#[test]
fn an_example_over_max_tokens_is_found_from_the_flag_or_the_config() {
    let dir = temp_dir("together-tokens");
    let file = dir.join("text.jsonl");
    let long = "The harbour wakes slowly, gulls first and then the ferry. ".repeat(20);
    let lines = [
        serde_json::json!({"text": "The kettle sang before the gulls woke, and I poured the first cup."}),
        serde_json::json!({ "text": long }),
        serde_json::json!({"text": "Windfall apples crunched under my boots in the cold orchard air."}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let flags = ["--provider", "together", "--max-tokens", "100"];
    let (code, findings) = lint(&file, &flags);
    assert_eq!(code, 1);
    let over: Vec<_> = findings.iter().filter(|f| f.1 == "VT301").collect();
    assert_eq!(over, vec![&(2, "VT301".to_string(), "error".to_string())]);
    let (_, stdout, _) = run(voicetune().args(["lint"]).args(flags).arg(&file));
    assert!(
        stdout.contains("over the 100-token training limit"),
        "{stdout}"
    );

    // The same from voicetune.toml, as `voicetune tune` writes the model's limit.
    std::fs::write(
        dir.join("voicetune.toml"),
        "provider = \"together\"\ntarget_model = \"meta-llama/Meta-Llama-3.1-8B-Instruct-Reference\"\n[lint]\nmax_tokens = 100\n",
    )
    .unwrap();
    let (_, findings) = lint(&file, &[]);
    assert_eq!(findings.iter().filter(|f| f.1 == "VT301").count(), 1);
    // `stats` counts against the same limit, with Together's default of one epoch.
    let (code, stdout, stderr) = run(voicetune().arg("stats").arg(&file));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("over the 100-token limit: 1"), "{stdout}");
    assert!(stdout.contains("default epochs: 1;"), "{stdout}");
    assert!(stdout.contains("Together quotes it per job"), "{stdout}");
    // Without a limit of its own, Llama 3.1 8B on Together takes 131,072 tokens.
    let (_, findings) = lint(&file, &["--max-tokens", "100000"]);
    assert!(findings.iter().all(|f| f.1 != "VT301"), "{findings:?}");
}

#[test]
fn a_model_of_no_known_family_gets_the_stated_default_limit() {
    let dir = temp_dir("together-default");
    let file = dir.join("text.jsonl");
    let long = "tea leaves ".repeat(4600);
    std::fs::write(&file, format!("{}\n", serde_json::json!({ "text": long }))).unwrap();
    let args = [
        "lint",
        "--provider",
        "together",
        "--target-model",
        "Qwen/Qwen2.5-7B-Instruct",
    ];
    let (code, stdout, stderr) = run(voicetune().args(args).arg(&file));
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains("over the 8192-token training limit of an unlisted Together model"),
        "{stdout}"
    );
    // For OpenAI the name is not a model it fine-tunes.
    let (code, _, stderr) = run(voicetune()
        .args(["lint", "--model", "Qwen/Qwen2.5-7B-Instruct"])
        .arg(&file));
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown model"), "{stderr}");
}
