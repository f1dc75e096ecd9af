use super::*;
use crate::config::Config;
use crate::lint::LintOptions;

const DRAFT: &str = "---\ntitle: Morning tea\n---\n\nIntro paragraph here.\n\nI drink green tea \
                     every morning before";

fn accepted_at_end(document: &str, text: &str) -> Accepted {
    let shape = PromptShape::default();
    Accepted::new(
        document,
        document.len(),
        text,
        Some("katie".into()),
        &shape,
        "post.md".into(),
    )
}

fn temp_workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voicetune-learn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_acceptance_records_the_shape_title_and_the_paragraph_before() {
    let a = accepted_at_end(DRAFT, " the house wakes up.");
    assert_eq!(a.title, "Morning tea");
    assert_eq!(a.before, "I drink green tea every morning before");
    assert_eq!(a.system, crate::dataset::prompt_shape::DEFAULT_SYSTEM);
    assert_eq!(a.user_template, "Write a blog post titled: {title}");
    assert_eq!(a.voice.as_deref(), Some("katie"));
    assert_eq!(
        a.as_accepted(),
        "I drink green tea every morning before the house wakes up."
    );
    // A long paragraph keeps its tail; a cursor mid-character is moved back.
    let long = format!("# T\n\n{}é", "word ".repeat(2000));
    let before = paragraph_before(&long, long.len() - 1);
    assert!(
        before.len() <= MAX_BEFORE && before.ends_with("word "),
        "{before:?}"
    );
    assert_eq!(paragraph_before("one\n\n  two", 10), "two");
}

#[test]
fn the_log_is_appended_line_by_line_and_read_back() {
    let dir = temp_workspace("append");
    let learner = Learner::default();
    let a = accepted_at_end(DRAFT, " the house wakes up.");
    learner.accept(&dir, "file:///post.md", a.clone()).unwrap();
    let b = accepted_at_end(DRAFT, " work.");
    learner.accept(&dir, "file:///post.md", b.clone()).unwrap();
    assert!(learner.has_pending("file:///post.md"));
    let edited = DRAFT.replace("before", "before the house wakes, with honey and lemon.");
    assert_eq!(
        learner
            .document_done(&dir, "file:///post.md", &edited)
            .unwrap(),
        2
    );
    assert!(!learner.has_pending("file:///post.md"));
    assert_eq!(
        learner
            .document_done(&dir, "file:///post.md", &edited)
            .unwrap(),
        0
    );

    let text = std::fs::read_to_string(log_path(&dir)).unwrap();
    assert_eq!(text.lines().count(), 4);
    let (events, unreadable) = parse_log(&format!("{text}not json\n"));
    assert_eq!(unreadable, 1);
    assert_eq!(events[0], Event::Accepted(a.clone()));
    assert_eq!(
        events[2],
        Event::Kept {
            id: a.id.clone(),
            time: match &events[2] {
                Event::Kept { time, .. } => *time,
                _ => unreachable!(),
            },
            paragraph: Some(
                "I drink green tea every morning before the house wakes, with honey and lemon."
                    .into()
            ),
        }
    );
    assert_ne!(a.id, b.id);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_kept_paragraph_is_the_one_that_still_holds_the_suggestion() {
    let a = accepted_at_end(DRAFT, " the house wakes up.");
    let moved = "# Morning tea\n\nA new first paragraph about coffee.\n\nEvery morning, before \
                 the house wakes up, I drink green tea.\n\nIntro paragraph here.";
    assert_eq!(
        kept_paragraph(moved, &a).as_deref(),
        Some("Every morning, before the house wakes up, I drink green tea.")
    );
    assert_eq!(
        kept_paragraph("# Morning tea\n\nSomething else entirely.", &a),
        None
    );
}

fn accepted(id: &str, title: &str, before: &str, text: &str) -> Event {
    let shape = PromptShape::default();
    let mut a = Accepted::new(
        &format!("# {title}\n\n{before}"),
        usize::MAX,
        text,
        None,
        &shape,
        "post.md".into(),
    );
    a.id = id.into();
    Event::Accepted(a)
}

fn kept(id: &str, paragraph: Option<&str>) -> Event {
    Event::Kept {
        id: id.into(),
        time: 0,
        paragraph: paragraph.map(str::to_string),
    }
}

#[test]
fn entries_become_deduplicated_examples_of_the_final_words() {
    let long = "I drink green tea every morning before the house wakes up and the birds start";
    let events = vec![
        accepted("a", "Tea", long, " singing."),
        kept(
            "a",
            Some("Kept: I drink green tea at dawn, long before the house and the birds."),
        ),
        accepted("b", "Tea", long, " singing."),
        accepted("c", "Tea", long, " singing."),
        accepted("d", "Short", "Too", " short."),
        accepted("e", "Removed", long, " loudly."),
        kept("e", None),
    ];
    let examples = examples(&events);
    assert_eq!(examples.len(), 2, "{examples:?}");
    assert_eq!(
        examples[0].assistant,
        "Kept: I drink green tea at dawn, long before the house and the birds."
    );
    assert_eq!(examples[0].user, "Write a blog post titled: Tea");
    assert_eq!(examples[1].assistant, format!("{long} singing."));
    let line: serde_json::Value = serde_json::from_str(&examples[1].to_json_line()).unwrap();
    assert_eq!(line["messages"][0]["role"], "system");
    assert_eq!(line["messages"][2]["content"], format!("{long} singing."));
}

#[test]
fn the_dataset_lints_clean_and_flagged_examples_are_left_out() {
    let topics = [
        "tea", "coffee", "bread", "rivers", "trains", "gardens", "winter", "books", "cycling",
        "music", "letters", "lamps",
    ];
    let mut events: Vec<Event> = topics
        .iter()
        .enumerate()
        .map(|(i, topic)| {
            let before = format!(
                "Paragraph {i} is about {topic}: I keep coming back to {topic} because it \
                 teaches me patience, and patience is what"
            );
            accepted(&format!("id{i}"), topic, &before, " writing needs most.")
        })
        .collect();
    events.push(accepted(
        "html",
        "Markup",
        "This paragraph has <b>bold markup</b> in it and a few more words to be long enough",
        " for an example.",
    ));
    let config = Config::default();
    let opts = LintOptions::new(&config);
    let (text, report) = dataset(&events, &opts);
    assert_eq!(report.examples, topics.len(), "{report:?}\n{text}");
    assert_eq!(report.flagged, 1, "{report:?}");
    assert_eq!(report.dataset_findings.len(), 1, "{report:?}");
    let findings = crate::lint::lint_text(&text, crate::dataset::FileKind::Jsonl, &opts);
    assert!(
        findings.iter().all(|f| f.rule == "dataset-size"),
        "{findings:?}"
    );
    let mut config = Config::default();
    config.lint.recommended_examples = 10;
    let opts = LintOptions::new(&config);
    assert!(crate::lint::lint_text(&text, crate::dataset::FileKind::Jsonl, &opts).is_empty());
}
