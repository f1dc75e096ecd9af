//! Real data as it comes (issue 16): CSV exports with extra columns, header-less `wp_posts`
//! dumps, tab-separated files with CRLF and stray Latin-1 bytes; speech transcripts with metadata
//! headers, unlabelled monologues and stage directions; hard-wrapped markdown; folders with a
//! file that cannot be used. Every fixture is written for these tests (tests/fixtures/SOURCES.md).

use super::*;

fn since(date: &str) -> BuildConfig {
    BuildConfig {
        since: Some(date.into()),
        ..cfg()
    }
}

fn strict_columns() -> BuildConfig {
    BuildConfig {
        strict_columns: Some(true),
        ..cfg()
    }
}

#[test]
fn csv_extra_columns_are_ignored_and_listed() {
    let (_d, out, report) = run(&[fixture("csv/extra-columns.csv")], cfg());
    // 4 rows: 1 page, 1 draft.
    assert_eq!(report.summary_line(), "4 items -> 3 posts -> 2 published");
    assert_eq!(
        titles(&out),
        ["Walking in the rain", "A letter to my younger self"]
    );
    // `Permlink` is a known alias (ignored on purpose); `Comments` and `thumbnail` are unknown.
    assert_eq!(
        report.sources[0].ignored_columns,
        ["\"Comments\" (column 8)", "\"thumbnail\" (column 9)"]
    );
    assert!(
        report.to_string().contains(
            "ignored 2 unknown columns: \"Comments\" (column 8), \"thumbnail\" (column 9)"
        ),
        "{report}"
    );
    // "Title", "Post Type", "Categories" and "Tags" map case-insensitively.
    let (_d, out, _) = run(
        &[fixture("csv/extra-columns.csv")],
        BuildConfig {
            tags: Some(vec!["letters".into()]),
            ..cfg()
        },
    );
    assert_eq!(titles(&out), ["A letter to my younger self"]);
    // "September 26, 2004" and "October 3, 2004" are dates the filters can use.
    let (_d, out, report) = run(&[fixture("csv/extra-columns.csv")], since("2004-10-01"));
    assert_eq!(kept(&report, Stage::Date), 1);
    assert_eq!(titles(&out), ["A letter to my younger self"]);
    assert_lints_clean(&out);

    let (_d, err) = run_err(&[fixture("csv/extra-columns.csv")], strict_columns());
    assert!(
        err.message.contains(
            "extra-columns.csv:1: unknown columns \"Comments\" (column 8), \"thumbnail\" (column 9): rename"
        ) && err.describe(|f| format!("--{}", f.key().replace('_', "-")))
            .contains("are an error because of --strict-columns"),
        "{err}"
    );
}

#[test]
fn header_less_wp_posts_dump_is_read_in_wordpress_order() {
    let (_d, out, report) = run(&[fixture("csv/wp-posts-dump.csv")], cfg());
    // 5 rows: 4 of type post (1 revision), 2 published (1 draft, 1 auto-draft).
    assert_eq!(report.summary_line(), "5 items -> 4 posts -> 2 published");
    assert_eq!(titles(&out), ["Spring, early", "Fixing the chain"]);
    assert!(
        report.sources[0]
            .notes
            .iter()
            .any(|n| n.starts_with("no header row: read as a wp_posts table dump")),
        "{:?}",
        report.sources[0].notes
    );
    assert!(report.sources[0].ignored_columns.is_empty());
    let (_, text) = &examples(&out)[1];
    assert_eq!(
        text,
        "I finally fixed the bicycle chain myself, with a video, a rag and far too much patience.\n\nIt clicks now, but it goes."
    );
    assert_lints_clean(&out);
}

#[test]
fn csv_without_a_usable_header_says_how_to_name_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    std::fs::write(
        &csv,
        "1,Some title,Some text long enough to be a post\n2,Another,More text\n",
    )
    .unwrap();
    let (_d, err) = run_err(&[csv], cfg());
    assert!(
        err.message.contains(
            "rows.csv:1: no content column in the first row (found: \"1\", \"Some title\", \"Some text long enough to be a post\"): name the columns in a header row, at least post_content"
        ),
        "{err}"
    );
}

#[test]
fn tab_separated_crlf_latin1_and_human_dates() {
    let bytes = std::fs::read(fixture("csv/tab-crlf-latin1.csv")).unwrap();
    assert!(
        bytes.ends_with(b"\r\n") && std::str::from_utf8(&bytes).is_err(),
        "the fixture must keep its CRLF and Windows-1252 bytes"
    );
    let (_d, out, report) = run(&[fixture("csv/tab-crlf-latin1.csv")], cfg());
    assert_eq!(report.summary_line(), "6 items -> 6 posts -> 6 published");
    assert_eq!(report.sources[0].notes[0], "tab-separated");
    // Rows 2 and 3 were saved as Windows-1252: title and content of each, decoded, not dropped.
    assert_eq!(report.sources[0].recoded_fields, 4);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0]
            .contains("4 fields in 2 rows not valid UTF-8, decoded as Windows-1252 (lines 2, 3)"),
        "{:?}",
        report.warnings
    );
    let ex = examples(&out);
    assert_eq!(
        titles(&out)[..2],
        ["Café mornings".to_string(), "Naïve questions".to_string()]
    );
    assert_eq!(
        ex[0].1,
        "The café on the corner opens at six and the owner knows my order by heart."
    );
    assert!(ex[5].1.contains("“curly quotes”"));
    assert!(!ex.iter().any(|(u, a)| u.contains('\r') || a.contains('\r')));
    assert_lints_clean(&out);
    // "September 26, 2004", "26 September 2004" and "2004-09-26 10:00:00" are the same day;
    // "09/30/2004", "Friday, October 1, 2004" and "October 2, 2004" are not.
    let (_d, out, report) = run(
        &[fixture("csv/tab-crlf-latin1.csv")],
        BuildConfig {
            since: Some("2004-09-26".into()),
            until: Some("2004-09-26".into()),
            ..cfg()
        },
    );
    assert_eq!(kept(&report, Stage::Date), 3);
    assert_eq!(
        titles(&out),
        ["Café mornings", "Naïve questions", "A quiet Sunday"]
    );
    let (_d, _, report) = run(&[fixture("csv/tab-crlf-latin1.csv")], since("2004-09-30"));
    assert_eq!(kept(&report, Stage::Date), 3);
}

#[test]
fn speeches_with_metadata_monologues_and_stage_directions() {
    let speaker = |name: &str| BuildConfig {
        speaker: Some(name.into()),
        ..cfg()
    };
    let (_d, out, report) = run(&[fixture("speeches")], speaker("Jane Doe"));
    let t = &report.transcripts;
    assert_eq!(t.files, 5);
    // Metadata: 4 + 4 + 3 + 3 lines (untitled-remarks.txt has none); never a turn.
    assert_eq!(t.metadata_lines, 14);
    // The town hall is labelled: Jane Doe's 3 turns kept, the moderator's and audience's dropped.
    assert_eq!((t.turns_kept, t.turns_dropped), (3, 3));
    // Unlabelled: rivers and bridges are Jane Doe's (`Speaker:`), the harbour speech is John
    // Smith's, the untitled remarks name no one.
    assert_eq!((t.monologues_kept, t.monologues_skipped), (2, 2));
    // (Applause.) x2, (Laughter.); [music], [laughter], [inaudible]; (Laughs), [applause].
    assert_eq!(report.clean.stage_directions, 8);
    assert_eq!(report.summary_line(), "3 items -> 3 posts -> 3 published");
    let ex = examples(&out);
    let by_title: std::collections::HashMap<_, _> =
        ex.iter().map(|(u, a)| (u.as_str(), a.as_str())).collect();
    assert_eq!(
        by_title["Write a blog post titled: On rivers"],
        "Good evening, and thank you for coming out on a wet night.\n\n\
         I grew up three streets from the river, and for most of my childhood I believed it belonged to me. It did not, of course. It belonged to the herons, the rowing club and a man called Albert who fished there every morning for forty years and never, as far as anyone knows, caught anything.\n\n\
         What the river taught me is that patience is not the same as waiting.\nAlbert was not waiting. He was paying attention."
    );
    assert_eq!(
        by_title["Write a blog post titled: Bridges"],
        "It is an odd thing to be asked to speak about bridges when you cannot swim. But bridges are not really about water. They are about the people on the other side, and whether we think they are worth the trouble of reaching.\n\n\
         The old footbridge cost the town eleven thousand pounds in 1911 and it has carried, by my rough count, every wedding party this town has ever had."
    );
    assert_eq!(
        by_title["Write a blog post titled: Town hall on the library"],
        "I will be honest with you, the hours are my fault. I signed the budget.\n\n\
         I can do better than that. We found the money for Saturday afternoons, starting in June, and the reading room stays open until eight on Thursdays.\n\n\
         Before the next one, a quick word of thanks to the volunteers who kept the doors open all winter without a single complaint."
    );
    for (_, text) in &ex {
        assert!(
            !text.contains(['(', '[']) && !text.contains("Speaker") && !text.contains("Title"),
            "{text}"
        );
    }
    assert_lints_clean(&out);
    // `Date:` metadata feeds the date filters.
    let (_d, _, report) = run(
        &[fixture("speeches")],
        BuildConfig {
            since: Some("2005".into()),
            ..speaker("Jane Doe")
        },
    );
    assert_eq!(kept(&report, Stage::Date), 2);

    // Naming the speaker of files without a `Speaker:` line keeps the untitled remarks.
    let (_d, out, report) = run(
        &[fixture("speeches")],
        BuildConfig {
            monologue_speaker: Some("Jane Doe".into()),
            ..speaker("jane")
        },
    );
    assert_eq!(
        (
            report.transcripts.monologues_kept,
            report.transcripts.monologues_skipped
        ),
        (3, 1)
    );
    assert_eq!(examples(&out).len(), 4);
    assert_lints_clean(&out);
}

#[test]
fn speeches_without_a_speaker_keep_monologues_and_skip_the_conversation() {
    // No speaker asked for: every monologue is kept; the town hall has three speakers, so it
    // cannot be used without --speaker and is skipped with its reason (a partial build).
    let (_d, out, report) = run(&[fixture("speeches")], cfg());
    assert_eq!(report.transcripts.monologues_kept, 4);
    assert_eq!(report.files, 5);
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0].reason.contains(
            "2006-05-01-town-hall.txt: this transcript has 3 speakers (Moderator, Jane Doe, Audience Member); choose one with speaker"
        ),
        "{:?}",
        report.skipped
    );
    assert_eq!(examples(&out).len(), 4);
    assert!(report
        .to_string()
        .contains("partial build: 1 of 5 files skipped because they could not be used"));
    assert_lints_clean(&out);
}

#[test]
fn hard_wrapped_markdown_is_unwrapped() {
    let (_d, out, report) = run(&[fixture("markdown/wrapped")], cfg());
    assert_eq!(report.summary_line(), "1 items -> 1 posts -> 1 published");
    // 2 + 1 + 1 + 1 + 1 soft breaks in paragraphs, list items and the block quote.
    assert_eq!(report.clean.soft_breaks, 6);
    assert_eq!(report.clean.code_blocks, 1);
    let (_, text) = &examples(&out)[0];
    assert_eq!(
        text,
        "This post was written in an editor that wraps at seventy-two columns, the way many Hugo and Jekyll authors write, so every paragraph arrives as several short lines that are really one long one.\n\n\
         ## What grew\n\n\
         The list keeps its items, and an item that wraps stays one item:\n\n\
         - Broad beans, which went in late and came up anyway, as if nothing had happened.\n\
         - Sorrel.\n\
         - A single tulip nobody remembers planting.\n\n\
         > A garden is a slow argument, a neighbour told me over the fence, and you only win by turning up.\n\n\
         Two trailing spaces end this line\nand a backslash ends this one\nso both keep their line breaks.\n\n\
         The last paragraph is short and ends the post."
    );
    assert_lints_clean(&out);
}

/// A folder of posts with one file that cannot be used, written into a temp folder.
fn folder_with_a_bad_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["2021-01-02-first-snow.md", "hugo-style.md"] {
        std::fs::copy(fixture("markdown/blog").join(name), dir.path().join(name)).unwrap();
    }
    std::fs::copy(
        fixture("markdown/broken/2020-05-05-never-closed.md"),
        dir.path().join("2020-05-05-never-closed.md"),
    )
    .unwrap();
    std::fs::write(dir.path().join("latin1.md"), b"# Caf\xe9\n\nNot UTF-8.\n").unwrap();
    dir
}

#[test]
fn a_folder_build_skips_files_that_cannot_be_used() {
    let posts = folder_with_a_bad_file();
    let (_d, out, report) = run(&[posts.path().to_path_buf()], cfg());
    assert_eq!(report.files, 4);
    let reasons: Vec<&str> = report.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].ends_with(
            "2020-05-05-never-closed.md:1: front matter opened with --- on line 1 is never closed; add a --- line after it"
        ) && reasons[1].ends_with("latin1.md:1: not valid UTF-8; save the file as UTF-8"),
        "{reasons:?}"
    );
    // Only the usable files' posts are counted and written.
    assert_eq!(kept(&report, Stage::Read), 2);
    assert_eq!(examples(&out).len(), kept(&report, Stage::Templated));
    assert_lints_clean(&out);

    let (_d, err) = run_err(
        &[posts.path().to_path_buf()],
        BuildConfig {
            strict: Some(true),
            ..cfg()
        },
    );
    assert!(err.message.contains("never-closed.md:1"), "{err}");
}

#[test]
fn a_skipped_file_leaves_nothing_of_what_was_read_from_it() {
    // truncated.xml has posts before the error: they are taken back with the file.
    let (_d, out, report) = run(
        &[fixture("wxr/blog.xml"), fixture("wxr/truncated.xml")],
        cfg(),
    );
    let (_d, alone, alone_report) = run(&[fixture("wxr/blog.xml")], cfg());
    assert_eq!(report.summary_line(), alone_report.summary_line());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&alone).unwrap()
    );
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].reason.contains("truncated.xml:"));
}

#[test]
fn cli_partial_build_exits_3_and_strict_exits_2() {
    let posts = folder_with_a_bad_file();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("train.jsonl");
    let build = |source: &Path, extra: &[&str]| {
        voicetune()
            .arg("build")
            .arg(source)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = build(posts.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("skipped ") && stdout.contains("never closed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("partial build: 2 of 4 files skipped"),
        "{stdout}"
    );
    assert!(out.exists());
    std::fs::remove_file(&out).unwrap();
    let o = build(posts.path(), &["--strict"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());

    // Without a speaker, a transcript with several speakers names the flag that settles it.
    let o = build(&fixture("speeches"), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("choose one with --speaker"), "{stdout}");
}

/// Entries in a folder that look like posts but cannot be opened are skipped per file, like
/// any other unusable file: a link to a file that is gone and a link to a folder, both named
/// `.md` (chmod 000 would not do: the tests may run as root, who reads it anyway).
#[cfg(unix)]
#[test]
fn a_folder_build_skips_md_entries_that_cannot_be_opened() {
    let posts = tempfile::tempdir().unwrap();
    for name in ["2021-01-02-first-snow.md", "hugo-style.md"] {
        std::fs::copy(fixture("markdown/blog").join(name), posts.path().join(name)).unwrap();
    }
    std::os::unix::fs::symlink("deleted-draft.md", posts.path().join("gone.md")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), posts.path().join("folder-link.md")).unwrap();

    let (_d, out, report) = run(&[posts.path().to_path_buf()], cfg());
    assert_eq!(report.files, 4);
    let reasons: Vec<&str> = report.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("folder-link.md: cannot read: ")
            && reasons[1].contains("gone.md: cannot read: "),
        "{reasons:?}"
    );
    assert_eq!(kept(&report, Stage::Read), 2);
    assert_eq!(examples(&out).len(), kept(&report, Stage::Templated));

    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("train.jsonl");
    let build = |extra: &[&str]| {
        voicetune()
            .arg("build")
            .arg(posts.path())
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = build(&[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("gone.md: cannot read: ")
            && stdout.contains("partial build: 2 of 4 files skipped"),
        "{stdout}"
    );
    std::fs::remove_file(&out).unwrap();
    let o = build(&["--strict"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("folder-link.md: cannot read: "), "{stderr}");
    assert!(!out.exists());
}
