//! The service's settings problems, without a model: reported once, then silence until the
//! settings change.

use super::*;
use crate::voices::{Registry, Voice};

fn workspace_with(voice: Voice, toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Registry::register(dir.path(), "v", voice).unwrap();
    std::fs::write(dir.path().join(crate::config::CONFIG_FILE), toml).unwrap();
    dir
}

fn ask(ghost: &Ghostwriter, voice: &str) -> Result<Option<Suggestion>, GhostError> {
    let text = "# Title\n\nSome words";
    let request = SuggestRequest {
        voice: Some(voice.to_string()),
        text: text.to_string(),
        kind: DocKind::Markdown,
        cursor: text.len(),
    };
    ghost.suggest(&request, &AtomicBool::new(false))
}

#[test]
fn unknown_voice_is_reported_once_until_settings_change() {
    let dir = tempfile::tempdir().unwrap();
    let ghost = Ghostwriter::new(dir.path(), GhostConfig::default());
    assert!(matches!(
        ask(&ghost, "nope"),
        Err(GhostError::UnknownVoice(_))
    ));
    assert_eq!(ask(&ghost, "nope"), Ok(None), "silent the second time");
    assert!(ghost.reported_problem(Some("nope")).is_some());
    ghost.settings_changed();
    assert!(
        ask(&ghost, "nope").is_err(),
        "reported again after a change"
    );
}

#[test]
fn missing_model_file_and_missing_key_are_settings_problems() {
    let dir = workspace_with(
        Voice::Local {
            base_model: "/nonexistent/base.gguf".into(),
            adapter: None,
            job_id: None,
        },
        "",
    );
    let ghost = Ghostwriter::new(dir.path(), GhostConfig::default());
    assert!(matches!(ask(&ghost, "v"), Err(GhostError::ModelMissing(_))));
    assert_eq!(ask(&ghost, "v"), Ok(None));

    let dir = workspace_with(
        Voice::Remote {
            model: "ft:gpt-4o-mini:me::x".into(),
            base_url: Some("https://api.openai.com/v1".into()),
            job_id: None,
            provider: None,
            api_key_env: None,
        },
        "[remote]\napi_key_env = \"VOICETUNE_GHOST_TEST_UNSET_KEY\"\n",
    );
    let ghost = Ghostwriter::new(dir.path(), GhostConfig::default());
    let err = ask(&ghost, "v").unwrap_err();
    assert!(matches!(err, GhostError::MissingKey { .. }), "{err:?}");
    assert!(err.to_string().contains("VOICETUNE_GHOST_TEST_UNSET_KEY"));
    assert_eq!(ask(&ghost, "v"), Ok(None));
}

#[test]
fn unreachable_endpoint_is_reported_once() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = workspace_with(
        Voice::Remote {
            model: "my-voice".into(),
            base_url: Some(format!("http://127.0.0.1:{port}/v1")),
            job_id: None,
            provider: None,
            api_key_env: None,
        },
        "",
    );
    let ghost = Ghostwriter::new(dir.path(), GhostConfig::default());
    let err = ask(&ghost, "v").unwrap_err();
    assert!(matches!(err, GhostError::Unreachable(_)), "{err:?}");
    let start = std::time::Instant::now();
    assert_eq!(ask(&ghost, "v"), Ok(None));
    assert!(
        start.elapsed().as_millis() < 50,
        "no new attempt per keystroke"
    );
}

#[test]
fn doc_kinds_from_paths() {
    assert_eq!(
        DocKind::from_path(Path::new("a/b.JSONL")),
        Some(DocKind::Jsonl)
    );
    assert_eq!(
        DocKind::from_path(Path::new("post.md")),
        Some(DocKind::Markdown)
    );
    assert_eq!(DocKind::from_path(Path::new("x.txt")), None);
}

#[test]
fn registry_records_the_prompt_shape_and_reads_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::voices::registry_path(dir.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A registry written before shapes were recorded.
    std::fs::write(
        &path,
        r#"{"voices":{"v":{"kind":"remote","model":"m","base_url":null,"job_id":null}}}"#,
    )
    .unwrap();
    let registry = Registry::load(dir.path()).unwrap();
    assert!(registry.get("v").is_some() && registry.prompt("v").is_none());
    let shape = crate::dataset::prompt_shape::PromptShape {
        system: "S".into(),
        user_template: "Post: {title}".into(),
    };
    Registry::record_prompt(dir.path(), "v", shape.clone()).unwrap();
    assert_eq!(
        Registry::load(dir.path()).unwrap().prompt("v"),
        Some(&shape)
    );
    // Registered again (other data, perhaps): the old shape is forgotten.
    let voice = registry.get("v").unwrap().clone();
    Registry::register(dir.path(), "v", voice).unwrap();
    assert_eq!(Registry::load(dir.path()).unwrap().prompt("v"), None);
}
