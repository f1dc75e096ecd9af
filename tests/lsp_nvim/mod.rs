//! The Neovim plugin (editors/nvim) in a real headless Neovim: `setup()` over
//! `lsp/voicetune.lua`, every `:Voicetune*` command against the real server (the remote
//! fine-tune against the fake OpenAI API, the local training with the real model) and
//! `:checkhealth voicetune`. The script is tests/nvim/commands.lua; the accept key is tested
//! beside the other ghostwriting tests (lsp_ghost).

use super::{dataset, fake_openai, model_path, repo_root, run_neovim_with, tempdir};
use voicetune::voices::{Registry, Voice};

#[test]
fn neovim_plugin_sets_up_runs_every_command_and_checks_health() {
    const KEY_ENV: &str = "VOICETUNE_NVIM_TEST_KEY";
    let key = "sk-nvim-test-secret-42";
    let _ = model_path();
    let fake = fake_openai::FakeOpenAi::start(key);
    let dir = tempdir("nvim-commands");
    // The remote job is followed every 600 s, so it is still running when it is cancelled;
    // the local training is small.
    std::fs::write(
        dir.join("voicetune.toml"),
        format!(
            "[remote]\nbase_url = \"{}\"\napi_key_env = \"{KEY_ENV}\"\npoll_interval_secs = 600\n\
             \n[local]\nepochs = 1\nmax_seq_len = 64\ngrad_accum = 1\nwarmup_steps = 1\n",
            fake.base_url()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("train.jsonl"), dataset(&[], 12)).unwrap();
    std::fs::write(dir.join("messy.jsonl"), dataset(&[0, 5], 12)).unwrap();
    Registry::register(
        &dir,
        "katie",
        Voice::Remote {
            model: "ft:gpt-4o-mini-2024-07-18:org::katie1".into(),
            base_url: None,
            job_id: None,
            provider: None,
            api_key_env: None,
        },
    )
    .unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let posts = repo_root().join("tests/fixtures/blog");
    let workspace = dir.canonicalize().unwrap();

    let stderr = run_neovim_with(
        "tests/nvim/commands.lua",
        &dir,
        &dir.join("train.jsonl"),
        &out_dir,
        &[
            (KEY_ENV, key),
            ("VOICETUNE_WORKSPACE", workspace.to_str().unwrap()),
            ("VOICETUNE_POSTS", posts.to_str().unwrap()),
        ],
    );
    let read = |name: &str| {
        std::fs::read_to_string(out_dir.join(name))
            .unwrap_or_else(|e| panic!("{name} not written ({e}); nvim said:\n{stderr}"))
    };

    // setup(): lsp/voicetune.lua's filetypes and markers, the configured binary, every command.
    let setup = read("setup.txt");
    assert!(setup.contains("filetypes jsonl markdown"), "{setup}");
    assert!(
        setup.contains("root_markers voicetune.toml .voicetune .git"),
        "{setup}"
    );
    assert!(
        setup.contains(&format!("cmd {} lsp", super::binary().display())),
        "{setup}"
    );
    assert!(
        setup.contains(
            "commands VoicetuneBuild VoicetuneCancel VoicetuneFixAll VoicetuneJobs VoicetuneStats \
             VoicetuneTrain VoicetuneTune VoicetuneVoice"
        ),
        "{setup}"
    );
    assert_eq!(read("root.txt").trim(), workspace.to_str().unwrap());

    // :VoicetuneFixAll, then saved: what the library's fix-all gives.
    let fixed = read("fix_all.txt");
    assert!(
        !fixed.contains("<b>") && !fixed.contains("https://"),
        "{fixed}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("messy.jsonl")).unwrap(),
        fixed
    );

    // :VoicetuneStats
    let stats = read("stats.txt");
    assert!(
        stats.contains("12 examples") && stats.contains("to train on"),
        "{stats}"
    );

    // :VoicetuneBuild: a dataset from the blog posts, with progress, opened when done.
    let build = read("build.txt");
    assert!(
        build.contains("built ") && build.contains("built.jsonl"),
        "{build}"
    );
    assert!(build.contains("begin voicetune: build dataset"), "{build}");
    let built = std::fs::read_to_string(dir.join("built.jsonl")).unwrap();
    assert!(
        built.lines().count() > 0,
        "examples from the posts:\n{built}"
    );
    for line in built.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }

    // :VoicetuneVoice: the picker lists the base model and katie; katie chosen; unknown names
    // are refused with the list.
    let voice = read("voice.txt");
    assert!(
        voice.contains("(base model)") && voice.contains("katie  remote"),
        "{voice}"
    );
    assert!(voice.contains("ghostwriting with katie"), "{voice}");
    let unknown = read("voice_unknown.txt");
    assert!(
        unknown.contains("nosuch") && unknown.contains("katie"),
        "{unknown}"
    );

    // :VoicetuneTune: the cost prompt, then upload and a job (as progress).
    let tune = read("tune.txt");
    assert!(tune.contains("Start fine-tune ($"), "{tune}");
    assert!(tune.contains("begin voicetune: fine-tune"), "{tune}");
    assert!(tune.contains("created"), "{tune}");
    assert!(
        tune.contains("status voicetune: fine-tune: checking the dataset"),
        "vim.lsp.status() has the progress: {tune}"
    );

    // :VoicetuneJobs lists it; :VoicetuneCancel cancels it through the API.
    let jobs = read("jobs.txt");
    // A remote job names its provider.
    assert!(jobs.contains("ftjob-") && jobs.contains("openai"), "{jobs}");
    assert!(read("cancel_remote.txt").contains("Cancelled"));
    let posts: Vec<String> = fake
        .state
        .lock()
        .unwrap()
        .seen
        .iter()
        .filter(|s| s.method == "POST" && s.path.starts_with("/fine_tuning/jobs"))
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(
        posts,
        [
            "/fine_tuning/jobs".to_string(),
            "/fine_tuning/jobs/ftjob-000002/cancel".to_string()
        ],
        "one job created, then cancelled"
    );

    // :VoicetuneTrain with the real model, cancelled from :VoicetuneCancel with a checkpoint.
    let train = read("train.txt");
    assert!(
        train.contains("local  running  ") && train.contains("voice tiny"),
        "{train}"
    );
    assert!(train.contains("cancelled at step"), "{train}");
    assert!(train.contains("begin voicetune: train tiny"), "{train}");
    // The training a terminal started, cancelled from Neovim: it stopped as on Ctrl-C.
    let terminal = read("cancel_terminal.txt");
    assert!(
        terminal.contains("cancelling job local-terminal-"),
        "{terminal}"
    );
    assert!(terminal.contains("\nexit 130\n"), "{terminal}");
    assert!(
        terminal.contains("cancelled at step") && terminal.contains("--resume"),
        "{terminal}"
    );
    assert!(dir
        .join(".voicetune/voices/terminal/checkpoint/state.json")
        .exists());

    // :checkhealth voicetune: binary and version, model, voices, the key set but not shown.
    let health = read("health.txt");
    assert!(
        health.contains(&format!("voicetune {}", env!("CARGO_PKG_VERSION"))),
        "{health}"
    );
    assert!(
        health.contains("SmolLM2-135M-Instruct.Q4_1.gguf"),
        "{health}"
    );
    assert!(health.contains("katie"), "{health}");
    assert!(health.contains(&format!("{KEY_ENV} is set")), "{health}");
    assert!(!health.contains(key), "the key is never shown:\n{health}");
    assert!(!health.contains("ERROR"), "{health}");
    fake.assert_no_violations();
}
