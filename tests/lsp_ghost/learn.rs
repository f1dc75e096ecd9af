//! Opt-in learning through the language server, on a remote voice (the fake OpenAI server, no
//! model): with learning off, inline items carry no command and accepting records nothing;
//! with `learn` on in the client's settings, each item carries `voicetune.acceptSuggestion`,
//! running it appends one line to `.voicetune/learn/accepted.jsonl`, and saving the draft
//! appends the paragraph the user kept.

use super::super::lsp_support::{file_uri, Client};
use super::super::{fake_openai, tempdir};
use super::{inline_params, register, start};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const KEY_ENV: &str = "VOICETUNE_LSP_LEARN_KEY";
const KEY: &str = "sk-learn-test-0123456789";

fn log_lines(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn accept(client: &mut Client, arguments: Value) -> Value {
    client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.acceptSuggestion", "arguments": arguments}),
    )
}

#[test]
fn accepting_a_suggestion_is_logged_locally_only_with_learning_on() {
    let fake = fake_openai::FakeOpenAi::start(KEY);
    let dir = tempdir("ghost-learn");
    register(
        &dir,
        json!({"katie": {"kind": "remote", "model": "gpt-4o-mini-2024-07-18",
                         "base_url": fake.base_url(), "job_id": null}}),
    );
    std::fs::write(
        dir.join("voicetune.toml"),
        format!("voice = \"katie\"\n[remote]\napi_key_env = \"{KEY_ENV}\"\n"),
    )
    .unwrap();
    let log = dir.join(".voicetune/learn/accepted.jsonl");
    let uri = file_uri(&dir.join("post.md"));
    let text = "# Tea\n\nI drink green tea every morning ";
    let end = text.lines().last().unwrap().len();
    let at = json!({"line": 2, "character": end});

    // Off by default: no command, and an acceptance records nothing.
    let (mut client, init) = start(&dir, true, Value::Null, &[(KEY_ENV, KEY)]);
    let commands = &init["capabilities"]["executeCommandProvider"]["commands"];
    assert!(
        commands
            .as_array()
            .unwrap()
            .contains(&json!("voicetune.acceptSuggestion")),
        "{init}"
    );
    client.open(&uri, "markdown", 1, text);
    let reply = client.request("textDocument/inlineCompletion", inline_params(&uri, 2, end));
    let item = &reply["items"][0];
    assert!(item["insertText"].is_string(), "{reply}");
    assert!(item.get("command").is_none_or(Value::is_null), "{reply}");
    let args = json!([{"uri": uri, "position": at, "text": " and tea.", "voice": "katie"}]);
    assert_eq!(accept(&mut client, args)["recorded"], false);
    assert!(!log.exists());
    assert!(client.shutdown().success());

    // On, from the client's settings.
    let options = json!({"voicetune": {"completion": {"learn": true}}});
    let (mut client, _) = start(&dir, true, options, &[(KEY_ENV, KEY)]);
    client.open(&uri, "markdown", 1, text);
    let reply = client.request("textDocument/inlineCompletion", inline_params(&uri, 2, end));
    let item = &reply["items"][0];
    let inserted = item["insertText"].as_str().unwrap().to_string();
    let command = &item["command"];
    assert_eq!(command["command"], "voicetune.acceptSuggestion", "{reply}");
    let args = command["arguments"].clone();
    assert_eq!(args[0]["uri"], uri.as_str(), "{reply}");
    assert_eq!(args[0]["position"], at, "{reply}");
    assert_eq!(args[0]["voice"], "katie", "{reply}");
    assert_eq!(args[0]["text"], inserted.as_str(), "{reply}");

    // The client inserts the item, then runs its command.
    client.change(&uri, 2, json!([{"text": format!("{text}{inserted}")}]));
    assert_eq!(accept(&mut client, args)["recorded"], true);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let entry = &lines[0];
    assert_eq!(entry["event"], "accepted", "{entry}");
    assert_eq!(entry["title"], "Tea", "{entry}");
    assert_eq!(
        entry["before"], "I drink green tea every morning ",
        "{entry}"
    );
    assert_eq!(entry["text"], inserted.as_str(), "{entry}");
    assert_eq!(entry["voice"], "katie", "{entry}");
    assert_eq!(entry["file"], "post.md", "{entry}");
    assert_eq!(entry["user_template"], "Write a blog post titled: {title}");

    // The user rewrites the paragraph around it and saves: the paragraph kept is logged.
    let edited = format!("# Tea\n\nEvery day, I drink green tea every morning {inserted} Honey.\n");
    client.change(&uri, 3, json!([{"text": edited}]));
    client.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while log_lines(&log).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["event"], "kept");
    assert_eq!(lines[1]["id"], lines[0]["id"]);
    let kept = lines[1]["paragraph"].as_str().unwrap();
    assert!(
        kept.starts_with("Every day, I drink") && kept.ends_with("Honey."),
        "{kept}"
    );
    // Nothing of it reached the client's log.
    assert!(
        !client
            .inbox
            .iter()
            .any(|m| m["method"] == "window/logMessage"
                && m["params"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Honey")),
        "{:?}",
        client.inbox
    );
    assert!(client.shutdown().success());
    fake.assert_no_violations();
}
