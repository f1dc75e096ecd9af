//! Dataset builder end to end: every source kind, every filter, every cleaning step, broken
//! inputs, output formats and splits, the CLI, and the real exports in tests/fixtures.

#[path = "import/writes.rs"]
mod writes;

use std::path::{Path, PathBuf};
use std::process::Command;
use voicetune::clean::{self, SourceFormat};
use voicetune::config::Config;
use voicetune::import::{
    self, BuildConfig, BuildError, BuildField, BuildOptions, BuildReport, SourceSpec, Stage,
};
use voicetune::lint::{lint_file, LintOptions};

#[path = "import/messy_data.rs"]
mod messy_data;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/import")
        .join(rel)
}

/// Third-party and larger fixtures (`tests/fixtures/SOURCES.md` names each one's origin).
fn vendored(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel)
}

fn options(sources: &[PathBuf], out: &Path, cfg: BuildConfig) -> BuildOptions {
    let specs = sources
        .iter()
        .map(|p| SourceSpec {
            path: p.clone(),
            kind: None,
        })
        .collect();
    BuildOptions::resolve(specs, out.to_path_buf(), cfg, &Config::default()).expect("valid options")
}

fn run(sources: &[PathBuf], cfg: BuildConfig) -> (tempfile::TempDir, PathBuf, BuildReport) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = import::build(&options(sources, &out, cfg), &mut |_| {}).expect("build succeeds");
    (dir, out, report)
}

fn run_err(sources: &[PathBuf], cfg: BuildConfig) -> (tempfile::TempDir, BuildError) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let err = import::build(&options(sources, &out, cfg), &mut |_| {}).expect_err("build fails");
    // Never a partial output file, nor a leftover temp file.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "files left behind after an error: {left:?}"
    );
    (dir, err)
}

/// (user prompt, assistant text) of each chat line.
fn examples(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let m = v["messages"].as_array().unwrap();
            let n = m.len();
            (
                m[n - 2]["content"].as_str().unwrap().to_string(),
                m[n - 1]["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn titles(path: &Path) -> Vec<String> {
    examples(path)
        .into_iter()
        .map(|(u, _)| {
            u.trim_start_matches("Write a blog post titled: ")
                .to_string()
        })
        .collect()
}

/// Kept count after each stage, by stage.
fn kept(report: &BuildReport, stage: Stage) -> usize {
    report
        .stages
        .iter()
        .find(|s| s.stage == stage)
        .unwrap()
        .kept
}

/// The output lints clean under the default rules; only the dataset-size rule (a property of
/// how many posts the author wrote, not of the cleaning) may remain.
fn assert_lints_clean(path: &Path) {
    let report = lint_file(path, &LintOptions::new(&Config::default())).unwrap();
    let left: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.rule != "dataset-size")
        .map(|f| format!("{} {} at {:?}", f.rule, f.message, f.span))
        .collect();
    assert!(
        left.is_empty(),
        "{} does not lint clean: {left:#?}",
        path.display()
    );
}

fn cfg() -> BuildConfig {
    BuildConfig::default()
}

// ----------------------------------------------------------------------------------------------
// Sources

#[test]
fn wxr_export_builds_with_default_filters() {
    let (_d, out, report) = run(&[fixture("wxr/blog.xml")], cfg());
    // 9 items: 7 posts (1 page, 1 attachment), 5 published (1 draft, 1 future).
    assert_eq!(kept(&report, Stage::Read), 9);
    assert_eq!(kept(&report, Stage::Type), 7);
    assert_eq!(kept(&report, Stage::Status), 5);
    assert_eq!(report.summary_line(), "9 items -> 7 posts -> 5 published");
    assert_eq!(
        titles(&out),
        [
            "Why I Walk to Work",
            "So What: the week in links",
            "Notes on slow mornings",
            "A guest post about bicycles",
            "Rain, again"
        ]
    );
    assert_lints_clean(&out);
}

#[test]
fn wxr_1_0_bare_categories_and_pubdate() {
    let (_d, out, report) = run(
        &[fixture("wxr/wxr-1.0.xml")],
        BuildConfig {
            tags: Some(vec!["history".into()]),
            since: Some("2010-10".into()),
            ..cfg()
        },
    );
    assert_eq!(kept(&report, Stage::Tokens), 1, "{report}");
    let (_, text) = &examples(&out)[0];
    // Classic content: blank-line paragraphs survive.
    assert_eq!(text, "Old posts were written without paragraph tags, like this one.\n\nA blank line made a paragraph, and WordPress added the tags when it showed the page.");
}

#[test]
fn csv_export_with_header_mapping() {
    let (_d, out, report) = run(&[fixture("csv/posts.csv")], cfg());
    assert_eq!(report.summary_line(), "5 items -> 4 posts -> 3 published");
    assert_eq!(
        titles(&out),
        [
            "Morning pages",
            "Commas, quotes and \"scare quotes\"",
            "Guest: on tea"
        ]
    );
    let (_, text) = &examples(&out)[0];
    assert_eq!(text, "Every morning I write three pages by hand, before the news, before the kettle has finished.\n\nMost of it is noise, and that is the point.");
    assert!(report.sources[0]
        .notes
        .contains(&"comma-separated".to_string()));
    // Tags split on `|`, categories by name.
    let (_d, out, _) = run(
        &[fixture("csv/posts.csv")],
        BuildConfig {
            tags: Some(vec!["habits".into()]),
            ..cfg()
        },
    );
    assert_eq!(titles(&out), ["Morning pages"]);
}

#[test]
fn tsv_export_is_detected() {
    let (_d, out, report) = run(&[fixture("csv/posts.tsv")], cfg());
    assert_eq!(report.sources[0].notes[0], "tab-separated");
    assert_eq!(titles(&out), ["Tabs, not commas", "Second tab row"]);
}

#[test]
fn csv_mixed_encodings_are_decoded_and_reported() {
    let (_d, out, report) = run(&[fixture("csv/mixed-encoding.csv")], cfg());
    assert_eq!(titles(&out), ["Café notes", "Naïve “quotes”"]);
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0]
            .contains("1 field in 1 row not valid UTF-8, decoded as Windows-1252 (lines 3)"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn markdown_folder_with_front_matter() {
    let (_d, out, report) = run(&[fixture("markdown/blog")], cfg());
    // 4 files: the draft: true one and the one under _drafts/ are drafts.
    assert_eq!(report.summary_line(), "4 items -> 4 posts -> 2 published");
    assert_eq!(titles(&out), ["First snow", "Notes from a train"]);
    let ex = examples(&out);
    assert_eq!(
        ex[0].1,
        "The first snow came overnight and the street was silent in a way it never is in summer.\n\n\
         I walked to the bakery in the wrong shoes. See my boots post for why that keeps happening, and the view from the corner.\n\n\
         By noon it had all melted, as it always does here. Follow for more."
    );
    assert_eq!(
        ex[1].1.lines().last().unwrap(),
        "Some posts still carry a little HTML from an old theme & that is fine."
    );
    assert_eq!(report.clean.code_blocks, 2);
    assert_eq!(report.clean.images, 1);
    assert_lints_clean(&out);
}

#[test]
fn transcripts_keep_one_speaker() {
    let cfg = BuildConfig {
        speaker: Some("alice".into()),
        ..cfg()
    };
    let (_d, out, report) = run(&[fixture("transcripts")], cfg);
    assert_eq!(report.transcripts.files, 3);
    assert_eq!(
        (
            report.transcripts.turns_kept,
            report.transcripts.turns_dropped
        ),
        (7, 7)
    );
    // 6 timestamps in the interview, 4 cue numbers + 4 timings in the VTT file, 4 Otter label
    // lines (its WEBVTT line is a metadata line); [laughter] and (inaudible) in the interview
    // are stage directions.
    assert_eq!(report.clean.transcript_artefacts, 18);
    assert_eq!(report.transcripts.metadata_lines, 1);
    assert_eq!(report.clean.stage_directions, 2);
    let ex = examples(&out);
    let by_title: std::collections::HashMap<_, _> =
        ex.iter().map(|(u, a)| (u.as_str(), a.as_str())).collect();
    assert_eq!(
        by_title["Write a blog post titled: interview"],
        "Thanks for having me. I started walking by accident, really, when the bus was late one morning.\n\n\
         Never. The walk is where I do my thinking now. I plan the day between the bridge and the bakery, and by the time I reach my desk the hard part is done.\n\n\
         It's the only meeting I never miss."
    );
    assert_eq!(
        by_title["Write a blog post titled: Episode 12, on mornings"],
        "Mornings are the only part of the day that belongs to me. I guard them like a dragon guards its gold.\n\n\
         No screens before nine, one cup of coffee, and a window. That is the whole system."
    );
    assert!(!ex
        .iter()
        .any(|(_, a)| a.contains("Host") || a.contains("Katie") || a.contains("-->")));
    assert_lints_clean(&out);
}

#[test]
fn garbage_vtt_timings_never_reach_training_text() {
    let dir = tempfile::tempdir().unwrap();
    let vtt = dir.path().join("talk.vtt");
    std::fs::write(
        &vtt,
        "WEBVTT\n\n-1:-1 --> 00:00:01.000\nJane: I keep a notebook because memory lies to me, \
         and paper does not.\n\n00:00:02.000 --> ??\nIt is the cheapest habit I have ever kept, \
         and the one I would give up last.\n",
    )
    .unwrap();
    let cfg = BuildConfig {
        speaker: Some("Jane".into()),
        ..cfg()
    };
    let (_d, out, _) = run(&[vtt], cfg);
    let ex = examples(&out);
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].1,
        "I keep a notebook because memory lies to me, and paper does not. It is the cheapest \
         habit I have ever kept, and the one I would give up last."
    );
}

#[test]
fn transcript_speaker_defaults_to_the_author() {
    // --author alice picks Alice's turns ("Alice", "Alice Writer") and keeps all three files.
    let (_d, out, report) = run(
        &[fixture("transcripts")],
        BuildConfig {
            author: Some("alice".into()),
            ..cfg()
        },
    );
    assert_eq!(kept(&report, Stage::Author), 3, "{report}");
    assert_eq!(examples(&out).len(), 3);
    assert_eq!(report.transcripts.turns_kept, 7);
}

#[test]
fn transcript_with_several_speakers_needs_a_speaker() {
    let (_d, err) = run_err(&[fixture("transcripts/interview.txt")], cfg());
    assert!(
        err.message.contains("interview.txt") && err.message.contains("2 speakers (Host, Alice)"),
        "{err}"
    );
}

// ----------------------------------------------------------------------------------------------
// Filters

#[test]
fn author_by_login_or_display_name() {
    for author in ["alice", "Alice Writer", "ALICE WRITER"] {
        let (_d, out, report) = run(
            &[fixture("wxr/blog.xml")],
            BuildConfig {
                author: Some(author.into()),
                ..cfg()
            },
        );
        assert_eq!(kept(&report, Stage::Author), 4, "{author}");
        assert!(!titles(&out).contains(&"A guest post about bicycles".to_string()));
    }
    let (_d, out, _) = run(
        &[fixture("wxr/blog.xml")],
        BuildConfig {
            author: Some("Bob Guest".into()),
            ..cfg()
        },
    );
    assert_eq!(titles(&out), ["A guest post about bicycles"]);
}

#[test]
fn date_range_is_inclusive() {
    let c = BuildConfig {
        since: Some("2021-06-01".into()),
        until: Some("2022".into()),
        ..cfg()
    };
    let (_d, out, report) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(
        titles(&out),
        [
            "So What: the week in links",
            "Notes on slow mornings",
            "A guest post about bicycles"
        ]
    );
    assert_eq!(
        report
            .stages
            .iter()
            .find(|s| s.stage == Stage::Date)
            .unwrap()
            .label,
        "dated 2021-06-01..2022-12-31"
    );
}

#[test]
fn status_and_type_filters() {
    let c = BuildConfig {
        status: Some(vec!["draft".into(), "future".into()]),
        ..cfg()
    };
    let (_d, out, _) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(titles(&out), ["Unfinished thoughts", "Next year's garden"]);
    let c = BuildConfig {
        post_type: Some(vec!["page".into()]),
        ..cfg()
    };
    let (_d, out, _) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(titles(&out), ["About"]);
    // `any` turns a filter off: every item with text.
    let c = BuildConfig {
        post_type: Some(vec!["any".into()]),
        status: Some(vec!["any".into()]),
        ..cfg()
    };
    let (_d, _out, report) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(kept(&report, Stage::Status), 9);
    assert_eq!(
        kept(&report, Stage::Cleaned),
        8,
        "the attachment has no text"
    );
}

#[test]
fn title_include_and_exclude_patterns() {
    let c = BuildConfig {
        exclude_title: Some(vec!["So What".into()]),
        ..cfg()
    };
    let (_d, out, report) = run(&[fixture("wxr/blog.xml")], c);
    assert!(!titles(&out).iter().any(|t| t.starts_with("So What")));
    assert_eq!(
        report.summary_line(),
        "9 items -> 7 posts -> 5 published -> 4 after title filters"
    );
    // A regex, matched against title or slug; an invalid regex is a literal.
    let c = BuildConfig {
        include_title: Some(vec!["^(rain|why)".into(), "slow-mornings".into()]),
        ..cfg()
    };
    let (_d, out, _) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(
        titles(&out),
        [
            "Why I Walk to Work",
            "Notes on slow mornings",
            "Rain, again"
        ]
    );
    let c = BuildConfig {
        include_title: Some(vec!["So What:".into(), "(links".into()]),
        ..cfg()
    };
    let (_d, out, _) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(titles(&out), ["So What: the week in links"]);
}

#[test]
fn tag_and_category_filters() {
    let (_d, out, _) = run(
        &[fixture("wxr/blog.xml")],
        BuildConfig {
            tags: Some(vec!["walking".into()]),
            ..cfg()
        },
    );
    assert_eq!(
        titles(&out),
        [
            "Why I Walk to Work",
            "A guest post about bicycles",
            "Rain, again"
        ]
    );
    let c = BuildConfig {
        tags: Some(vec!["Walking".into()]),
        categories: Some(vec!["life".into()]),
        ..cfg()
    };
    let (_d, out, report) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(titles(&out), ["Why I Walk to Work", "Rain, again"]);
    assert_eq!(kept(&report, Stage::Terms), 2);
}

#[test]
fn token_limits() {
    let (_d, _o, all) = run(&[fixture("wxr/blog.xml")], cfg());
    let (min, max) = (all.tokens.min, all.tokens.max);
    assert!(min < max);
    let c = BuildConfig {
        max_tokens: Some(max - 1),
        ..cfg()
    };
    let (_d, _o, report) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(kept(&report, Stage::Tokens), 4);
    assert!(report.tokens.max < max);
    let c = BuildConfig {
        min_tokens: Some(min + 1),
        ..cfg()
    };
    let (_d, _o, report) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(kept(&report, Stage::Tokens), 4);
    assert!(
        report
            .summary_line()
            .ends_with(&format!("4 within {}-65,536 tokens", min + 1)),
        "{}",
        report.summary_line()
    );
    // The counts are the target model's: a different encoding gives different totals.
    let c = BuildConfig {
        model: Some("gpt-3.5-turbo-0125".into()),
        ..cfg()
    };
    let (_d, _o, report) = run(&[fixture("wxr/blog.xml")], c);
    assert_eq!(report.tokens.model, "gpt-3.5-turbo-0125");
    assert_eq!(report.tokens.examples, 5);
}

// ----------------------------------------------------------------------------------------------
// Cleaning steps (the shared implementation in clean.rs)

#[test]
fn cleaning_html_links_entities_and_paragraphs() {
    let (text, stats) = clean::clean_post(
        "<p>Read <a href=\"https://x.org/a\">our <strong>great</strong> post</a> &amp; more&nbsp;here.</p><p>Second para.</p>",
        SourceFormat::Html,
    );
    assert_eq!(text, "Read our great post & more here.\n\nSecond para.");
    assert_eq!((stats.links, stats.html_tags, stats.entities), (1, 8, 2));
}

#[test]
fn cleaning_classic_editor_paragraphs_and_line_breaks() {
    let (text, _) = clean::clean_post(
        "First line\nsecond line.\n\n<ul><li>one</li><li>two</li></ul>\n\nLast.",
        SourceFormat::Html,
    );
    // html2text puts a list right under the paragraph before it.
    assert_eq!(text, "First line\nsecond line.\none\ntwo\n\nLast.");
}

#[test]
fn cleaning_shortcodes() {
    let html = "[caption id=\"a\" width=\"300\"]<img src=\"x.jpg\"> A caption[/caption]Before [gallery ids=\"1,2\"] after [embed]https://youtu.be/x[/embed] and [audio https://x.org/a.mp3]. [column]Kept text[/column] [sic] stays.";
    let (text, stats) = clean::clean_post(html, SourceFormat::Html);
    assert_eq!(text, "Before after and . Kept text [sic] stays.");
    assert_eq!(stats.shortcodes, 6);
}

#[test]
fn cleaning_bare_urls_and_markdown_links() {
    let (text, stats) = clean::clean_post("See https://a.example/x. And [the docs](https://d.io) ![img](i.png) <https://auto.link>\n\n[ref]: https://r.io", SourceFormat::Markdown);
    assert_eq!(text, "See. And the docs");
    assert_eq!((stats.urls, stats.links, stats.images), (2, 2, 1));
}

#[test]
fn cleaning_code_blocks() {
    let (text, stats) = clean::clean_post("<p>Before</p><pre><code>&lt;div&gt;x&lt;/div&gt;</code></pre><p>Use <code>ls</code> or <code>&lt;br&gt;</code>.</p>", SourceFormat::Html);
    assert_eq!(text, "Before\n\nUse ls or .");
    assert_eq!(stats.code_blocks, 2);
    let md = "Intro.\n\n```js\nlet a = '<b>';\n```\n\n    indented code\n\n- a list\n    continued item\n\nUse `x` and `<div>` here.\n\n{% highlight ruby %}\nputs 1\n{% endhighlight %}\nEnd.";
    let (text, stats) = clean::clean_post(md, SourceFormat::Markdown);
    assert_eq!(
        text,
        // The indented line continues the list item's paragraph: one line, as markdown renders it.
        "Intro.\n\n- a list continued item\n\nUse `x` and here.\n\nEnd."
    );
    assert_eq!(stats.code_blocks, 4);
}

#[test]
fn cleaning_boilerplate_and_whitespace() {
    let (text, stats) = clean::clean_post(
        "  Real  text\u{200b} here.\t \n\n\n\nShare this:\nLeave a Reply\nMore\u{a0}text.  ",
        SourceFormat::Text,
    );
    assert_eq!(text, "Real text here.\n\nMore text.");
    assert_eq!(stats.boilerplate_lines, 2);
}

#[test]
fn cleaning_transcript_artefacts() {
    let (text, stats) = clean::clean_post("Katie Robbert 0:25\nSo what we did [laughter] was this.\n[00:01:02] next (inaudible 00:12) part", SourceFormat::Text);
    assert_eq!(text, "So what we did was this.\nnext part");
    assert_eq!(stats.transcript_artefacts, 2);
    assert_eq!(stats.stage_directions, 2);
}

// ----------------------------------------------------------------------------------------------
// Output

#[test]
fn chat_format_with_system_prompt_and_template() {
    let c = BuildConfig {
        system: Some("You are Alice.".into()),
        user_template: Some("Write a post for {date} titled \"{title}\" about {tags}".into()),
        tags: Some(vec!["mornings".into()]),
        ..cfg()
    };
    let (_d, out, _) = run(&[fixture("wxr/blog.xml")], c);
    let line = std::fs::read_to_string(&out).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["messages"][0]["role"], "system");
    assert_eq!(v["messages"][0]["content"], "You are Alice.");
    assert_eq!(
        v["messages"][1]["content"],
        "Write a post for 2022-01-09 titled \"Notes on slow mornings\" about Mornings"
    );
    assert_eq!(v["messages"][2]["role"], "assistant");
    // No system prompt when it is empty.
    let (_d, out, _) = run(
        &[fixture("csv/posts.tsv")],
        BuildConfig {
            system: Some(String::new()),
            ..cfg()
        },
    );
    let v: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["messages"][0]["role"], "user");
}

#[test]
fn prompt_completion_format() {
    let c = BuildConfig {
        format: Some("prompt-completion".into()),
        separator: Some("\n\n###\n\n".into()),
        stop: Some(" END".into()),
        model: Some("davinci-002".into()),
        ..cfg()
    };
    let (_d, out, _) = run(&[fixture("csv/posts.tsv")], c);
    let first = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        v["prompt"],
        "Write a blog post titled: Tabs, not commas\n\n###\n\n"
    );
    assert_eq!(v["completion"], " This export uses tabs between fields, so commas inside the text are harmless, like these. END");
    let report = lint_file(
        &out,
        &LintOptions::new(&Config {
            target_model: "davinci-002".into(),
            ..Config::default()
        }),
    )
    .unwrap();
    assert!(
        report.findings.iter().all(|f| f.rule == "dataset-size"),
        "{:?}",
        report.findings
    );
}

#[test]
fn seeded_split_is_deterministic() {
    let src = [vendored("blog")];
    let c = || BuildConfig {
        split: Some(0.3),
        seed: Some(42),
        ..cfg()
    };
    let (_d1, out1, r1) = run(&src, c());
    let (_d2, out2, _) = run(&src, c());
    assert_eq!(r1.outputs.len(), 2);
    assert_eq!(r1.outputs[1].examples, 3, "round(10 * 0.3)");
    assert_eq!(r1.outputs[0].examples + r1.outputs[1].examples, 10);
    let valid1 = std::fs::read_to_string(out1.with_file_name("out.valid.jsonl")).unwrap();
    let valid2 = std::fs::read_to_string(out2.with_file_name("out.valid.jsonl")).unwrap();
    assert_eq!(valid1, valid2);
    assert_eq!(
        std::fs::read_to_string(&out1).unwrap(),
        std::fs::read_to_string(&out2).unwrap()
    );
    let (_d3, out3, _) = run(
        &src,
        BuildConfig {
            seed: Some(7),
            ..c()
        },
    );
    assert_ne!(
        valid1,
        std::fs::read_to_string(out3.with_file_name("out.valid.jsonl")).unwrap()
    );
    // Train and validation together are exactly the unsplit output.
    let (_d4, whole, _) = run(&src, cfg());
    let mut joined: Vec<String> = std::fs::read_to_string(&out1)
        .unwrap()
        .lines()
        .chain(valid1.lines())
        .map(String::from)
        .collect();
    let mut all: Vec<String> = std::fs::read_to_string(&whole)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    joined.sort();
    all.sort();
    assert_eq!(joined, all);
}

#[test]
fn report_counts_cleaning_and_progress_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let mut calls = Vec::new();
    let report = import::build(
        &options(
            &[fixture("wxr/blog.xml"), fixture("csv/posts.csv")],
            &out,
            cfg(),
        ),
        &mut |p| calls.push((p.source_index, p.items_read)),
    )
    .unwrap();
    assert_eq!(report.sources.len(), 2);
    assert_eq!((report.sources[0].items, report.sources[1].items), (9, 5));
    assert_eq!(calls.last(), Some(&(1, 14)));
    // blog.xml published posts: one [caption], one [gallery]; one bare URL; two boilerplate lines;
    // one <pre> block; one e-mail address redacted by the linter's fix.
    let c = report.clean;
    assert_eq!(
        (c.shortcodes, c.urls, c.boilerplate_lines, c.code_blocks),
        (2, 1, 2, 1)
    );
    assert_eq!(report.lint_fixes.get("email"), Some(&1));
    let text = report.to_string();
    assert!(
        text.contains("14 items -> 11 posts -> 8 published"),
        "{text}"
    );
    assert!(text.contains("tokens (gpt-4o-mini-2024-07-18)"), "{text}");
}

// ----------------------------------------------------------------------------------------------
// Broken input

#[test]
fn truncated_wxr_names_file_line_and_what_was_read() {
    let (_d, err) = run_err(&[fixture("wxr/truncated.xml")], cfg());
    let source = err.source_error.as_ref().unwrap();
    assert!(source.path.ends_with("wxr/truncated.xml"));
    assert_eq!(source.line, Some(42));
    assert!(source.message.contains("truncated"), "{err}");
    assert!(
        source
            .read_so_far
            .contains("1 items read before it, the last \"Why I Walk to Work\""),
        "{err}"
    );
    assert_eq!(err.report.as_ref().unwrap().sources[0].items, 1);
}

#[test]
fn not_a_wxr_file() {
    let (_d, err) = run_err(&[fixture("wxr/not-wxr.xml")], cfg());
    assert!(
        err.message.contains("not-wxr.xml:2:") && err.message.contains("root element is <feed>"),
        "{err}"
    );
}

#[test]
fn csv_unknown_column_and_ragged_rows() {
    let strict = BuildConfig {
        strict_columns: Some(true),
        ..cfg()
    };
    let (_d, err) = run_err(&[fixture("csv/unknown-column.csv")], strict);
    assert!(
        err.message
            .contains("unknown-column.csv:1: unknown column \"Mood\" (column 3)"),
        "{err}"
    );
    let (_d, err) = run_err(&[fixture("csv/ragged.csv")], cfg());
    assert!(
        err.message
            .contains("ragged.csv:4: this row has 5 fields but the header has 3"),
        "{err}"
    );
    assert!(
        err.message
            .contains("2 rows read before it, the last \"Second\""),
        "{err}"
    );
}

#[test]
fn markdown_front_matter_never_closed() {
    let (_d, err) = run_err(&[fixture("markdown/broken")], cfg());
    assert!(
        err.message.contains(
            "2020-05-05-never-closed.md:1: front matter opened with --- on line 1 is never closed"
        ),
        "{err}"
    );
}

#[test]
fn an_error_in_a_later_source_leaves_no_output() {
    // With --strict (without it, the bad file is skipped: see messy_data).
    let (_d, err) = run_err(
        &[fixture("wxr/blog.xml"), fixture("wxr/truncated.xml")],
        BuildConfig {
            strict: Some(true),
            ..cfg()
        },
    );
    // The first source was fully read (and its posts processed) before the error.
    assert!(
        err.to_string().contains(
            "read before the error: 10 items -> 8 posts -> 6 published; no output written"
        ),
        "{err}"
    );
}

#[test]
fn a_source_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("posts.csv");
    std::fs::copy(fixture("csv/posts.csv"), &src).unwrap();
    let before = std::fs::read(&src).unwrap();
    let err = import::build(
        &options(std::slice::from_ref(&src), &src, cfg()),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        err.message.contains("refusing to overwrite a source file"),
        "{err}"
    );
    assert_eq!(std::fs::read(&src).unwrap(), before);
}

#[test]
fn bad_options_are_refused() {
    let bad = |c: BuildConfig| {
        BuildOptions::resolve(
            vec![SourceSpec::parse("x.xml")],
            "o.jsonl".into(),
            c,
            &Config::default(),
        )
        .unwrap_err()
    };
    assert!(
        bad(BuildConfig {
            since: Some("last week".into()),
            ..cfg()
        })
        .field_at_fault()
            == Some(BuildField::Since)
    );
    assert!(
        bad(BuildConfig {
            split: Some(1.5),
            ..cfg()
        })
        .field_at_fault()
            == Some(BuildField::Split)
    );
    assert!(
        bad(BuildConfig {
            format: Some("xml".into()),
            ..cfg()
        })
        .field_at_fault()
            == Some(BuildField::Format)
    );
    assert!(bad(BuildConfig {
        user_template: Some("Write {name}".into()),
        ..cfg()
    })
    .to_string()
    .contains("{title}"));
    assert!(bad(BuildConfig {
        model: Some("gpt-99".into()),
        ..cfg()
    })
    .to_string()
    .contains("unknown model"));
    assert!(bad(BuildConfig {
        since: Some("2022".into()),
        until: Some("2021".into()),
        ..cfg()
    })
    .to_string()
    .contains("after"));
    // Issue 17: numbers that mean nothing are refused, not run.
    for split in [f64::NAN, -0.1, 1.0] {
        let err = bad(BuildConfig {
            split: Some(split),
            ..cfg()
        });
        assert!(err.field_at_fault() == Some(BuildField::Split), "{split}");
    }
    assert!(
        bad(BuildConfig {
            max_tokens: Some(0),
            ..cfg()
        })
        .field_at_fault()
            == Some(BuildField::MaxTokens)
    );
}

#[test]
fn build_section_of_voicetune_toml() {
    let config = Config::from_toml(
        "[build]\nauthor = \"alice\"\nexclude_title = [\"So What\"]\nsplit = 0.2\nseed = 3\n\
         strict = true\nstrict_columns = true\nmonologue_speaker = \"Alice Writer\"\n",
        Path::new("voicetune.toml"),
    )
    .unwrap();
    let b = BuildConfig::from_table(&config.build).unwrap();
    assert_eq!(b.author.as_deref(), Some("alice"));
    assert_eq!(
        (b.strict, b.strict_columns, b.monologue_speaker.as_deref()),
        (Some(true), Some(true), Some("Alice Writer"))
    );
    let merged = b.overridden_by(BuildConfig {
        author: Some("bob".into()),
        ..cfg()
    });
    assert_eq!(
        (merged.author.as_deref(), merged.split),
        (Some("bob"), Some(0.2))
    );
    let bad = Config::from_toml("[build]\nauthr = \"x\"\n", Path::new("voicetune.toml")).unwrap();
    assert!(BuildConfig::from_table(&bad.build)
        .unwrap_err()
        .contains("authr"));
}

// ----------------------------------------------------------------------------------------------
// CLI

fn voicetune() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voicetune"))
}

#[test]
fn cli_build_writes_output_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alice.jsonl");
    let o = voicetune()
        .args(["build"])
        .arg(fixture("wxr/blog.xml"))
        .arg(format!("csv:{}", fixture("csv/posts.tsv").display()))
        .args(["-o"])
        .arg(&out)
        .args([
            "--author",
            "alice",
            "--exclude-title",
            "So What",
            "--split",
            "0.34",
            "--seed",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // blog.xml: 4 published by alice, one "So What"; posts.tsv: 2 by alice.
    assert!(
        stdout.starts_with(
            "11 items -> 9 posts -> 7 published -> 6 by alice -> 5 after title filters"
        ),
        "{stdout}"
    );
    // round(5 * 0.34) = 2 for validation.
    assert!(
        stdout.contains("wrote 3 examples to") && stdout.contains("wrote 2 examples to"),
        "{stdout}"
    );
    assert_eq!(examples(&out).len(), 3);
    assert_eq!(examples(&dir.path().join("alice.valid.jsonl")).len(), 2);
    // --json: the same report, machine-readable.
    let o = voicetune()
        .arg("build")
        .arg(fixture("csv/posts.csv"))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["stages"][0]["kept"], 5);
    assert_eq!(report["outputs"][0]["examples"], 3);
}

#[test]
fn cli_build_errors_exit_2_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let o = voicetune()
        .arg("build")
        .arg(vendored("wordpress/importer-fixtures/malformed.xml"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("malformed.xml:90:") && stderr.contains("expected `</notachanneltag>`"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// ----------------------------------------------------------------------------------------------
// Real data in tests/fixtures (third-party exports; origins in tests/fixtures/SOURCES.md) (counts verified by hand: see the comments)

#[test]
fn real_theme_unit_test_export() {
    let (_d, out, report) = run(
        &[vendored("wordpress/wptt-themeunittestdata.wordpress.xml")],
        cfg(),
    );
    // SOURCES.md: 186 items, 58 posts (56 publish, 1 draft, 1 future). Four published posts have
    // no text once cleaned: "Post Format: Image", "... (Caption)", "... (Linked)" (an image and
    // its caption shortcode only) and "Edge Case: No Content". The seven "WP 6.1 ..." posts all
    // open with "This test post was generated using the block theme Emptytheme": templated.
    // "Edge Case: Many Categories" ("This post has many categories.") is a near-duplicate of
    // "Edge Case: Many Tags" ("This post has many tags."), and "Template: Featured Image
    // (Vertical)" of "(Horizontal)" (the same three sentences but one word; word 3-shingle
    // Jaccard ~0.77, on the 0.8 threshold within MinHash's error of 64 bins, so it counts).
    assert_eq!(
        report.summary_line(),
        "186 items -> 58 posts -> 56 published -> 52 with text after cleaning -> 50 not near-duplicates -> 43 not templated"
    );
    let t = titles(&out);
    assert_eq!(t.len(), 43);
    assert!(!t.contains(&"Template: Featured Image (Vertical)".to_string()));
    assert!(
        t.contains(&"Edge Case: Many Tags".to_string())
            && !t.contains(&"Edge Case: Many Categories".to_string())
    );
    assert!(!t
        .iter()
        .any(|t| t.starts_with("WP 6.1") || t.starts_with("Post Format: Image")));
    // The title with markup is cleaned; the post without a title takes its slug.
    assert!(
        t.contains(&"Markup: Title With Markup".to_string()),
        "{t:?}"
    );
    assert!(
        report.clean.shortcodes >= 10 && report.clean.links > 50,
        "{report}"
    );
    assert_lints_clean(&out);
}

#[test]
fn real_theme_preview_export() {
    let (_d, out, report) = run(&[vendored("wordpress/wptt-theme-preview.xml")], cfg());
    // 7 published posts by one author; "Worth A Thousand Words" is an image whose caption
    // ("Boat") is all the text left: too short for the linter, so it is dropped.
    assert_eq!(
        report.summary_line(),
        "7 items -> 7 posts -> 7 published -> 6 lint-clean"
    );
    assert_eq!(report.lint_drops.get("too-short"), Some(&1));
    assert!(!titles(&out).contains(&"Worth A Thousand Words".to_string()));
    assert_lints_clean(&out);
}

#[test]
fn real_importer_fixtures_build_or_fail_cleanly() {
    let dir = vendored("wordpress/importer-fixtures");
    // (file, summary line) for the well-formed ones, counted by hand from the XML.
    let good = [
        // 154 items, 48 of type post (one "Page with comments" item has no wp:post_type and
        // takes WordPress's default, post; it has no wp:status either, so it is a draft),
        // 45 published; 4 have no text (the image-only posts and "Edge Case: No Content").
        (
            "a11y-unit-test-data.xml",
            "154 items -> 48 posts -> 45 published -> 41 with text after cleaning",
        ),
        (
            "crazy-cdata-escaped.xml",
            "1 items -> 1 posts -> 1 published",
        ),
        (
            "post-content-blank-lines.xml",
            "1 items -> 1 posts -> 1 published",
        ),
        ("slashes.xml", "1 items -> 1 posts -> 1 published"),
        // 11 items: 6 posts (1 private).
        ("small-export.xml", "11 items -> 6 posts -> 5 published"),
        // Both posts' text is a "Tagged in ..." line: boilerplate.
        (
            "valid-wxr-1.0.xml",
            "6 items -> 3 posts -> 3 published -> 1 with text after cleaning",
        ),
        ("valid-wxr-1.1.xml", "2 items -> 1 posts -> 1 published"),
        (
            "wxr-utf-8-challenges.xml",
            "1 items -> 1 posts -> 1 published",
        ),
    ];
    for (file, summary) in good {
        let (_d, out, report) = run(&[dir.join(file)], cfg());
        assert!(
            report.summary_line().starts_with(summary),
            "{file}: {}",
            report.summary_line()
        );
        assert_lints_clean(&out);
    }
    let (_d, out, _) = run(&[dir.join("post-content-blank-lines.xml")], cfg());
    assert_eq!(
        examples(&out)[0].1,
        "This is an example of a WordPress post.\nIt has lines with text (and one blank line).\n\nAnd more lines with text."
    );
    // Deliberately malformed: Python's expat reports the same lines (90 and 18).
    let (_d, err) = run_err(&[dir.join("malformed.xml")], cfg());
    assert_eq!(err.source_error.as_ref().unwrap().line, Some(90), "{err}");
    assert!(
        err.message
            .contains("expected `</notachanneltag>`, but `</channel>` was found"),
        "{err}"
    );
    let (_d, err) = run_err(&[dir.join("crazy-cdata.xml")], cfg());
    assert_eq!(err.source_error.as_ref().unwrap().line, Some(18), "{err}");
    assert!(
        err.message.contains("\"]]>\" outside a CDATA section"),
        "{err}"
    );
}

#[test]
fn real_markdown_blog() {
    let (_d, out, report) = run(&[vendored("blog")], cfg());
    // 12 posts (one with TOML front matter), none draft. "Photo from the pier" is a single
    // image and nothing else once it goes; "Link" keeps under the linter's 5-token minimum (an
    // autolink and the word "lovely"). Two posts have a fenced code block.
    assert_eq!(kept(&report, Stage::Read), 12);
    assert_eq!(kept(&report, Stage::Status), 12);
    assert_eq!(
        report.summary_line(),
        "12 items -> 12 posts -> 12 published -> 11 with text after cleaning -> 10 lint-clean"
    );
    assert_eq!(report.lint_drops.get("too-short"), Some(&1));
    let t = titles(&out);
    for dropped in ["Photo from the pier", "Link"] {
        assert!(!t.contains(&dropped.to_string()), "{dropped}");
    }
    assert!(t.contains(&"Fixing the kitchen chair".to_string()), "{t:?}");
    assert_eq!(report.clean.code_blocks, 2, "{report}");
    assert_lints_clean(&out);
}

#[test]
fn fast_paragraph_path_matches_html2text() {
    // Every paragraph-only post in the real exports: the fast path and html2text agree (after the
    // whitespace normalisation both go through).
    let norm = |t: &str| clean::clean_post(t, SourceFormat::Text).0;
    let mut checked = 0;
    for file in [
        "wordpress/wptt-themeunittestdata.wordpress.xml",
        "wordpress/importer-fixtures/a11y-unit-test-data.xml",
        "wordpress/importer-fixtures/wxr-utf-8-challenges.xml",
    ] {
        import::wxr::read(&vendored(file), &mut |_| {}, &mut |post| {
            let html = if post.body.contains("<!-- wp:") {
                post.body.clone()
            } else {
                clean::autop(&post.body)
            };
            if let Some(fast) = clean::simple_paragraphs_to_text(&html) {
                assert_eq!(
                    norm(&fast),
                    norm(&clean::html_to_text(&html)),
                    "{}",
                    post.title
                );
                checked += 1;
            }
            Ok(())
        })
        .unwrap();
    }
    let sample = "<p>One <a href=\"x\">two</a>\n  three&nbsp;&amp; <em>four</em></p>\n\n<p class=\"c\"> Five &#8217;six&#8217; </p><p></p>";
    assert_eq!(
        clean::simple_paragraphs_to_text(sample).unwrap(),
        "One two three & four\n\nFive ’six’"
    );
    assert_eq!(
        norm(&clean::html_to_text(sample)),
        "One two three & four\n\nFive ’six’"
    );
    assert_eq!(clean::simple_paragraphs_to_text("<p>a<br>b</p>"), None);
    assert!(checked > 40, "only {checked} posts took the fast path");
}

#[test]
fn server_build_request() {
    // What the server's voicetune.buildDataset command receives, resolved against a workspace.
    let request: import::BuildRequest = serde_json::from_value(serde_json::json!({
        "sources": ["wxr/blog.xml", "csv:csv/posts.tsv"],
        "output": "out.jsonl",
        "options": {"author": "alice", "exclude_title": ["So What"]}
    }))
    .unwrap();
    let workspace = Config::from_toml(
        "[build]\nauthor = \"bob\"\nsystem = \"You are Alice.\"\n",
        Path::new("voicetune.toml"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = request.resolve(&workspace, &fixture("")).unwrap();
    options.output = dir.path().join("out.jsonl");
    assert_eq!(options.sources[1].kind, Some(import::SourceKind::Csv));
    let report = import::build(&options, &mut |_| {}).unwrap();
    assert!(
        report.summary_line().starts_with(
            "11 items -> 9 posts -> 7 published -> 6 by alice -> 5 after title filters"
        ),
        "{}",
        report.summary_line()
    );
    let first = std::fs::read_to_string(&options.output).unwrap();
    assert!(
        first.starts_with(r#"{"messages":[{"role":"system","content":"You are Alice."}"#),
        "{first}"
    );
    assert!(serde_json::from_value::<import::BuildRequest>(
        serde_json::json!({"sources": [], "optons": {}})
    )
    .is_err());
}

// ----------------------------------------------------------------------------------------------
// The builder's cleaning and the linter agree: whatever clean_post leaves, the content rules find
// nothing to report (without the lint-fix pass the builder runs as a safety net).

fn fragment() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        "[A-Za-z]{2,9}( [a-z]{1,8}){3,12}[.!?]".prop_map(|s| s),
        "[a-z]{3,8}".prop_map(|w| format!("<a href=\"https://example.com/{w}\">the {w} page</a>")),
        "[a-z]{3,8}".prop_map(|w| format!("https://{w}.example.org/path?q={w}")),
        "[a-z]{3,8}".prop_map(|w| format!("www.{w}.com")),
        "[a-z]{3,8}".prop_map(|w| format!("[{w} link](https://x.io/{w})")),
        "[a-z]{3,8}".prop_map(|w| format!("![{w}](/img/{w}.png)")),
        Just("&amp; &nbsp; &#8217; &hellip;".to_string()),
        Just("<strong>bold</strong> and <em>em</em>".to_string()),
        Just("[caption id=\"a1\" width=\"300\"]<img src=\"a.jpg\"> Caption[/caption]".to_string()),
        Just("[gallery ids=\"1,2\"]".to_string()),
        Just("<pre><code>&lt;div&gt;x&lt;/div&gt;</code></pre>".to_string()),
        Just("Share this:".to_string()),
        Just("Leave a Reply".to_string()),
        Just("<ul><li>one item</li><li>two items</li></ul>".to_string()),
        Just("<h2>A heading here</h2>".to_string()),
        Just("line one<br>line two".to_string()),
        Just("<p>A paragraph of text.</p>".to_string()),
        Just("\u{200b}zero\u{a0}width\t tabs  ".to_string()),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    #[test]
    fn cleaned_text_lints_clean(parts in proptest::collection::vec(fragment(), 1..12), seps in proptest::collection::vec(0usize..3, 12), markdown: bool) {
        let mut body = String::new();
        for (i, p) in parts.iter().enumerate() {
            body.push_str(p);
            body.push_str(["\n\n", "\n", " "][seps[i]]);
        }
        let format = if markdown { SourceFormat::Markdown } else { SourceFormat::Html };
        let (text, _) = clean::clean_post(&body, format);
        let line = serde_json::json!({"messages": [{"role": "user", "content": "Write a blog post titled: x"}, {"role": "assistant", "content": text}]}).to_string();
        let opts = LintOptions::new(&Config::default());
        let findings: Vec<String> = voicetune::lint::lint_line(&line, &opts)
            .findings
            .into_iter()
            .filter(|f| !matches!(f.rule.as_str(), "too-short" | "empty-content"))
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect();
        proptest::prop_assert!(findings.is_empty(), "{body:?}\n-> {text:?}\n{findings:#?}");
    }
}

#[test]
fn cleaning_reference_links_and_liquid_raw_blocks() {
    let md = "See [raspbian][] and [the docs][d] or [Where is it?].\n\n{% raw %}\n    $ docker ps --format '{{.ID}}'\n{% endraw %}\n\n[raspbian]: https://raspbian.org\n[d]: https://d.io \"Docs\"\n[Where is it?]: /post/x\n[not a link] stays. [d](https://inline.io) too.";
    let (text, stats) = clean::clean_post(md, SourceFormat::Markdown);
    assert_eq!(
        text,
        "See raspbian and the docs or Where is it?.\n\n[not a link] stays. d too."
    );
    assert_eq!(stats.code_blocks, 1);
    assert_eq!(
        stats.links, 7,
        "three references, three definitions, one inline link"
    );
}
