//! The cases of Together's `check_file` unit tests (its file checks and its OpenAI preference
//! checks), written for this project from the tests' descriptions (`peers/together/`; Together's
//! verdict for each in `EXPECTED.txt`). voicetune "rejects" a file when a structural rule
//! (codes VT0xx: syntax, keys, roles, types, weights, images, preference, formats, shapes)
//! reports an error or warning, or when the file holds no record at all (Together's minimum is
//! one sample; voicetune's size rule asks for more, which these one-line cases never meet).

use super::super::{opts, together_opts, vendored};
use voicetune::lint::{lint_file, LintOptions, Severity};

/// Cases where voicetune (linting for OpenAI) disagrees with Together on purpose, and why.
const DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "valid_prompt_multimodal",
        "OpenAI's completion format types `prompt` as a string; the image data `...` is not base64",
    ),
    (
        "valid_chat_multimodal",
        "the image data URI `data:image/jpeg;base64,...` is not well-formed base64",
    ),
    (
        "weights_on_every_role",
        "OpenAI allows `weight` on assistant messages only",
    ),
    (
        "weights_some_missing",
        "OpenAI allows `weight` on assistant messages only",
    ),
];

/// Cases where voicetune linting for Together (`provider = "together"`) disagrees with its
/// checker on purpose, and why.
const TOGETHER_DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "valid_prompt_multimodal",
        "the image data URI `data:image/jpeg;base64,...` is not well-formed base64",
    ),
    (
        "valid_chat_multimodal",
        "the image data URI `data:image/jpeg;base64,...` is not well-formed base64",
    ),
];

#[test]
fn together_check_file_cases() {
    let agree = cases_agreeing(&opts(), DISAGREEMENTS);
    eprintln!("voicetune (OpenAI) agrees with Together on {agree} of 49 check_file cases");
}

#[test]
fn together_check_file_cases_with_provider_together() {
    let agree = cases_agreeing(&together_opts(), TOGETHER_DISAGREEMENTS);
    eprintln!(
        "voicetune (provider together) agrees with Together on {agree} of 49 check_file cases"
    );
}

/// Lints every case under `opts`; the cases whose verdict differs from Together's must be
/// exactly `explained`. Returns how many agree.
fn cases_agreeing(opts: &LintOptions, explained: &[(&str, &str)]) -> usize {
    let dir = vendored("peers/together");
    let expected = std::fs::read_to_string(dir.join("EXPECTED.txt")).unwrap();
    let mut agree = 0;
    let mut cases = 0;
    let mut differ = Vec::new();
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let (name, verdict) = line.split_once(' ').unwrap();
        cases += 1;
        let report = lint_file(&dir.join(format!("{name}.jsonl")), opts).unwrap();
        let structural = report.findings.iter().any(|f| {
            f.code.starts_with("VT0") && matches!(f.severity, Severity::Error | Severity::Warning)
        });
        let empty = report.text.trim().is_empty();
        let together_rejects = verdict == "fail";
        if (structural || empty) == together_rejects {
            agree += 1;
        } else {
            differ.push(name.to_string());
        }
    }
    let explained: Vec<String> = explained.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(differ, explained);
    assert_eq!(cases, 49);
    agree
}
