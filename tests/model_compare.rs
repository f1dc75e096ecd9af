//! The bake-off's scores on fixtures written for this project: author A is the invented
//! blogger of `tests/fixtures/blog`, author B the gadget-tips writer of
//! `tests/fixtures/compare/author-b.jsonl`. The distance must tell them apart both ways, the
//! leak checks must catch planted junk, and the report must render in a real browser.

use std::path::{Path, PathBuf};
use voicetune::compare::heldout::{load_author_texts, load_heldout, HeldOut};
use voicetune::compare::leaks::{find_leaks, LeakKind, TrainingIndex};
use voicetune::compare::stylometry::{delta, DEFAULT_MFW};
use voicetune::compare::voices::{Output, VoiceSource, VoiceSpec};
use voicetune::compare::{report, score, CompareRequest, Perplexity};
use voicetune::config::Config;
use voicetune::lint::LintOptions;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Author A's post bodies (front matter removed), oldest first; the image-only and link posts
/// (a line or two each) are left out.
fn author_a() -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("blog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let fence = if text.starts_with("+++") {
                "+++"
            } else {
                "---"
            };
            text.splitn(3, fence)
                .nth(2)
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .filter(|body| body.split_whitespace().count() > 60)
        .collect()
}

fn author_b() -> Vec<String> {
    load_author_texts(&fixtures().join("compare/author-b.jsonl")).unwrap()
}

/// (training texts, held-out texts): every other text is held out. (With every third, three
/// held-out texts of ~130 words each, author B's own texts came out farther than A's at 50
/// words and more: a few hundred words are too few for word-rate profiles.)
fn split(texts: &[String]) -> (Vec<&str>, Vec<&str>) {
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, t) in texts.iter().enumerate() {
        if i % 2 == 1 {
            held.push(t.as_str())
        } else {
            train.push(t.as_str())
        }
    }
    (train, held)
}

#[test]
fn distance_ranks_each_authors_held_out_texts_closer_to_that_author() {
    let (a, b) = (author_a(), author_b());
    assert!(a.len() >= 8 && b.len() >= 9, "{} {}", a.len(), b.len());
    let ((a_train, a_held), (b_train, b_held)) = (split(&a), split(&b));
    for mfw in [30, 50, DEFAULT_MFW, 150] {
        let to_a = delta(&a_train, &[a_held.clone(), b_held.clone()], mfw);
        let to_b = delta(&b_train, &[b_held.clone(), a_held.clone()], mfw);
        for (what, d) in [("author A", &to_a), ("author B", &to_b)] {
            assert!(
                d[0].burrows < d[1].burrows && d[0].cosine < d[1].cosine,
                "{what}, {mfw} words: own held-out texts {:?}, the other author's {:?}",
                d[0],
                d[1]
            );
        }
    }
}

#[test]
fn leak_checks_catch_planted_html_urls_loops_copies_and_templates() {
    let opts = LintOptions::new(&Config::default());
    let mut train: Vec<String> = author_b();
    // A closing the training file repeats: a template.
    for t in train.iter_mut().take(3) {
        t.push_str("\n\nThanks for reading, see you next week!");
    }
    let index = TrainingIndex::build(&train);
    let kinds = |text: &str, finish: &str| -> Vec<LeakKind> {
        find_leaks(text, finish, Some(&index), &opts)
            .into_iter()
            .map(|l| l.kind)
            .collect()
    };
    let clean = "I went out to the shed this morning and found the old radio still works. \
                 It hums a little before it finds a station, the way it always did.";
    assert_eq!(kinds(clean, "stop"), Vec::<LeakKind>::new());

    let html = "Here is the plan. <div class=\"post\">Read <b>this</b> first.</div> Then we go.";
    assert!(
        kinds(html, "stop").contains(&LeakKind::Html),
        "{:?}",
        kinds(html, "stop")
    );
    let url = "The details are at https://example.com/posts/2019/backup-guide if you want them.";
    assert!(kinds(url, "stop").contains(&LeakKind::Url));
    let email = "Write to me at someone.person@example.org and I will answer.";
    assert!(kinds(email, "stop").contains(&LeakKind::Email));

    let looped = "and then we went to the shop and then we went to the shop and then we went \
                  to the shop and then we went to the shop and then we went to the shop.";
    let leaks = find_leaks(looped, "stop", Some(&index), &opts);
    let lp = leaks
        .iter()
        .find(|l| l.kind == LeakKind::Loop)
        .expect("a loop");
    assert!(
        looped[lp.span.clone()].starts_with("and then we went"),
        "{lp:?}"
    );

    // A passage lifted from the training file inside new text (28 words in a row).
    let source: Vec<&str> = train[1].split_whitespace().skip(10).take(28).collect();
    let copied = format!(
        "My own opening here. {} And my own ending.",
        source.join(" ")
    );
    let leaks = find_leaks(&copied, "stop", Some(&index), &opts);
    let cp = leaks
        .iter()
        .find(|l| l.kind == LeakKind::Copied)
        .expect("a copy");
    assert!(
        cp.detail.starts_with("2") && cp.detail.contains("words in a row"),
        "{cp:?}"
    );
    let (_, words) = index.longest_copy(&copied).unwrap();
    assert!((24..=32).contains(&words), "{words}");
    assert!(!kinds(clean, "stop").contains(&LeakKind::Copied));

    let templated = "A short note on keyboards and why they matter to me. Thanks for reading, see you next week!";
    assert!(kinds(templated, "stop").contains(&LeakKind::TemplateClosing));

    assert_eq!(kinds("  ", "stop"), [LeakKind::Empty]);
    assert!(kinds("This answer stops in the middle of a", "length").contains(&LeakKind::CutOff));
    assert!(!kinds("This answer ends properly.", "length").contains(&LeakKind::CutOff));
}

fn output(text: &str) -> Output {
    Output {
        text: text.to_string(),
        finish: "stop".into(),
        tokens: text.split_whitespace().count(),
        first_token_secs: 0.05,
        tokens_per_sec: 40.0,
    }
}

/// A report from fixed outputs: voice "b-like" answers with author B's texts, voice "a-like"
/// with author A's plus planted junk, scored against author A's held-out posts.
fn fixture_report(dir: &Path) -> (CompareRequest, voicetune::compare::Report) {
    let a = author_a();
    let b = author_b();
    let (a_train, a_held) = split(&a);
    let examples: Vec<HeldOut> = a_held
        .iter()
        .enumerate()
        .map(|(i, t)| HeldOut {
            line: i + 1,
            prompt: vec![voicetune::model::tokenizer::Message::new(
                "user",
                "Write a blog post about your week 🚲 (自転車).",
            )],
            reference: t.to_string(),
        })
        .collect();
    let a_like: Vec<Output> = a_train
        .iter()
        .take(examples.len())
        .enumerate()
        .map(|(i, t)| {
            output(&if i == 0 {
                format!("{t}\n\nRead <b>more</b> at https://example.com/x today.")
            } else {
                t.to_string()
            })
        })
        .collect();
    let b_like: Vec<Output> = b.iter().take(examples.len()).map(|t| output(t)).collect();
    let spec = |name: &str| VoiceSpec {
        name: name.into(),
        source: VoiceSource::Local {
            base_model: "model.gguf".into(),
            adapter: None,
        },
    };
    let request = CompareRequest::new(
        dir.to_path_buf(),
        vec!["a-like".into(), "b-like".into()],
        dir.join("heldout.jsonl"),
        dir.join("report.html"),
    );
    let train: Vec<String> = a_train.iter().map(|t| t.to_string()).collect();
    let report = score(
        &request,
        &examples,
        &[spec("a-like"), spec("b-like")],
        vec![a_like, b_like],
        vec![
            Some(Perplexity {
                nll: 2.9,
                perplexity: 2.9f64.exp(),
                tokens: 100,
            }),
            None,
        ],
        Some(&TrainingIndex::build(&train)),
        &LintOptions::new(&Config::default()),
    );
    (request, report)
}

#[test]
fn report_scores_rank_the_closer_voice_and_count_its_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let (request, report) = fixture_report(dir.path());
    let (a_like, b_like) = (&report.voices[0], &report.voices[1]);
    assert!(
        a_like.delta.cosine < b_like.delta.cosine,
        "{:?} {:?}",
        a_like.delta,
        b_like.delta
    );
    assert!(a_like.leaks.count(LeakKind::Html) >= 1 && a_like.leaks.count(LeakKind::Url) >= 1);
    // Its answers are training texts: copied, by construction.
    assert!(a_like.leaks.count(LeakKind::Copied) >= 1 && a_like.longest_copy_words > 50);
    assert_eq!(b_like.leaks.count(LeakKind::Copied), 0);
    assert_eq!(a_like.usd_per_1000_tokens, Some(0.0));
    report::write_all(&report, &request).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(request.json_path()).unwrap()).unwrap();
    assert_eq!(json["voices"][1]["perplexity"], serde_json::Value::Null);
    assert!(json["voices"][0]["delta"]["cosine"].as_f64().unwrap() >= 0.0);
    let md = std::fs::read_to_string(request.markdown_path()).unwrap();
    assert!(md.contains("| a-like |") && md.contains("**Cosine Delta and Burrows' Delta.**"));
    let summary = report::summary(&report);
    assert!(
        summary.contains("a-like") && summary.contains("perplexity"),
        "{summary}"
    );
}

/// The Debian package's binary, or another Chromium on PATH.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

#[test]
fn report_renders_in_headless_chromium_with_its_table_and_chart() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "\n\n!!!!! SKIPPED: no chromium on PATH; the report was not rendered \
             (install it: apt-get install -y chromium; scripts/test.sh does) !!!!!\n"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (request, report) = fixture_report(dir.path());
    report::write_all(&report, &request).unwrap();
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compare");
    std::fs::create_dir_all(&artefacts).unwrap();
    let screenshot = artefacts.join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    let profile = dir.path().join("chromium-profile");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", request.output.display()))
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(&[
        &format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,900",
    ]);
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot of the report: {}", screenshot.display());
    // The DOM as the browser built it: the score table with a row per voice and the author,
    // and the chart with a bar per voice and panel.
    let dom = String::from_utf8(run(&["--dump-dom"]).stdout).unwrap();
    let table = &dom[dom.find("<table id=\"scores\">").expect("the score table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 1 + 2 + 1, "{table}");
    assert!(table.contains("a-like") && table.contains("b-like"));
    let chart = &dom[dom.find("<svg id=\"chart\"").expect("the chart")..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert!(chart.matches("class=\"bar\"").count() >= 6, "{chart}");
    assert!(dom.contains("<mark title=\"html"), "leaks are highlighted");
    assert!(dom.contains("🚲 (自転車)"));
    assert!(!dom.contains("http-equiv") && !dom.contains("<script") && !dom.contains("<link"));
}

#[test]
fn held_out_file_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.jsonl");
    std::fs::write(
        &path,
        "{\"prompt\": \"p\", \"completion\": \"c\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n",
    )
    .unwrap();
    let err = load_heldout(&path, None).unwrap_err().to_string();
    assert!(
        err.contains("held.jsonl:2:") && err.contains("no assistant message"),
        "{err}"
    );
    assert_eq!(load_heldout(&path, Some(1)).unwrap().len(), 1);
}
