//! Ghostwriting through the language server: `textDocument/inlineCompletion` with the real
//! SmolLM2 model (a UTF-16 cursor, cancellation and supersession measured on the model's
//! counters), a remote voice on the fake OpenAI server (and the `textDocument/completion`
//! fallback), a missing key shown once, a real Neovim accepting a suggestion, and opt-in
//! learning from accepted suggestions ([`learn`]).

mod learn;

use super::lsp_support::{file_uri, utf16_pos, Client};
use super::{binary, fake_openai, model_path, tempdir};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a request that runs the model may take: the tests build the crate unoptimised,
/// where the model is ~40 times slower than in a release build (seconds per token).
const MODEL_TIMEOUT: Duration = Duration::from_secs(600);

/// The tests that run the model take turns: on two cores, three models at once starve the
/// other tests of this binary past their protocol timeouts.
fn one_model_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static MODEL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MODEL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A client that shows inline completions (`inline`) or not, speaking UTF-16 only.
fn start(dir: &Path, inline: bool, options: Value, env: &[(&str, &str)]) -> (Client, Value) {
    let mut client = Client::spawn_with_env(&binary(), dir, env);
    let text_document = if inline {
        json!({"inlineCompletion": {}})
    } else {
        json!({"completion": {"completionItem": {"snippetSupport": false}}})
    };
    let init = client.initialize(
        json!({"window": {"workDoneProgress": true}, "textDocument": text_document}),
        options,
    );
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(init["capabilities"]["inlineCompletionProvider"], true);
    (client, init)
}

/// Registers `voices` (name -> registry entry) in `dir/.voicetune/voices.json`.
fn register(dir: &Path, voices: Value) {
    std::fs::create_dir_all(dir.join(".voicetune")).unwrap();
    let registry = json!({ "voices": voices });
    std::fs::write(
        dir.join(".voicetune/voices.json"),
        serde_json::to_vec_pretty(&registry).unwrap(),
    )
    .unwrap();
}

fn inline_params(uri: &str, line: usize, character: usize) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character},
           "context": {"triggerKind": 2}})
}

/// Sends a request with our own id (far above the client's own numbering), without waiting.
fn send(client: &mut Client, id: i64, method: &str, params: Value) {
    client.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
}

/// The response to `id`, also when it arrived while waiting for something else.
fn response(client: &mut Client, id: i64) -> Value {
    let queued = client
        .inbox
        .iter()
        .position(|m| m.get("method").is_none() && m["id"] == json!(id));
    match queued {
        Some(i) => client.inbox.remove(i).unwrap(),
        None => client.wait_response_within(id, MODEL_TIMEOUT),
    }
}

fn ghost_stats(client: &mut Client) -> Value {
    client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.ghostStats", "arguments": []}),
    )
}

/// Polls the counters until `pred` holds.
fn stats_until(client: &mut Client, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + MODEL_TIMEOUT;
    loop {
        let stats = ghost_stats(client);
        if pred(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "{what}: {stats}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tokens(stats: &Value) -> u64 {
    stats["tokens_generated"].as_u64().unwrap()
}

const DRAFT_HEAD: &str =
    "# Why I keep a notebook\n\nI have kept a paper notebook for ten years.\n\n";

#[test]
fn inline_completion_continues_a_markdown_draft_at_a_utf16_cursor() {
    let _turn = one_model_at_a_time();
    let _ = model_path();
    let dir = tempdir("ghost-draft");
    let short = json!({"completion": {"max_tokens": 8}});
    let (mut client, init) = start(&dir, true, short, &[]);
    assert!(
        init["capabilities"].get("completionProvider").is_none(),
        "no completion fallback for a client with inline completion: {init}"
    );
    let uri = file_uri(&dir.join("notebook.md"));
    // An emoji (two UTF-16 units, four bytes) and CJK (one unit, three bytes) before the cursor
    // on its line, and text after it: a cursor converted in the wrong unit lands elsewhere.
    let last = "My 📓 is small, and 日本 taught me to love it. The habit started";
    let mut text = format!("{DRAFT_HEAD}{last} (draft)\n");
    client.open(&uri, "markdown", 1, &text);
    let mut cursor = DRAFT_HEAD.len() + last.len();

    let mut timings = Vec::new();
    let mut suggestion = String::new();
    for round in 0..3i64 {
        // Typed before asking again: nothing, then the suggestion's first word (served from
        // the last suggestion), then another word (the model runs on the cached prefix).
        let typed = match round {
            0 => String::new(),
            1 => {
                let words = suggestion.trim_start();
                let first = words.find(' ').unwrap_or(words.len());
                suggestion[..suggestion.len() - words.len() + first].to_string()
            }
            _ => " and".to_string(),
        };
        if !typed.is_empty() {
            let (l, c) = utf16_pos(&text, cursor);
            let at = json!({"line": l, "character": c});
            client.change(
                &uri,
                round + 1,
                json!([{"range": {"start": at, "end": at}, "text": typed}]),
            );
            text.insert_str(cursor, &typed);
            cursor += typed.len();
        }
        let (line, character) = utf16_pos(&text, cursor);
        // Independently of the helper: the emoji counts two, CJK one.
        if round == 0 {
            assert_eq!(character, last.chars().count() + 1);
        }
        let asked = Instant::now();
        let id = 1_000_000 + round;
        let params = inline_params(&uri, line, character);
        send(&mut client, id, "textDocument/inlineCompletion", params);
        let reply = response(&mut client, id)["result"].clone();
        timings.push(asked.elapsed());
        let items = reply["items"].as_array().unwrap();
        if round > 0 && items.is_empty() {
            continue; // nothing new to say after typing is allowed; the first must answer
        }
        assert_eq!(items.len(), 1, "{reply}");
        let at = json!({"line": line, "character": character});
        assert_eq!(
            items[0]["range"],
            json!({"start": at, "end": at}),
            "{reply}"
        );
        suggestion = items[0]["insertText"].as_str().unwrap().to_string();
        let before = &text[..cursor];
        assert!(!suggestion.trim().is_empty(), "{reply}");
        assert!(
            !suggestion.contains('<') && !suggestion.contains("http"),
            "no HTML or URL: {suggestion:?}"
        );
        assert!(
            !before.ends_with(suggestion.trim()),
            "continues, does not repeat: {suggestion:?}"
        );
    }
    let logged: Vec<String> = client
        .inbox
        .iter()
        .filter_map(|m| m["params"]["message"].as_str())
        .filter(|m| m.contains("suggestion ("))
        .map(str::to_string)
        .collect();
    eprintln!("inline completion: cold {:?}, after typing its first word {:?}, after typing another word {:?}\n{}",
        timings[0], timings[1], timings[2], logged.join("\n"));
    assert!(client.shutdown().success());
}

#[test]
fn cancelled_and_superseded_requests_stop_the_model_between_tokens() {
    let _turn = one_model_at_a_time();
    let _ = model_path();
    let dir = tempdir("ghost-cancel");
    // Long suggestions without a sentence stop, so generation is still running when cancelled.
    let options = json!({"completion": {"max_tokens": 400, "stop_at_sentence": false}});
    let (mut client, _) = start(&dir, true, options, &[]);
    let uri = file_uri(&dir.join("draft.md"));
    let text = format!("{DRAFT_HEAD}The habit started");
    client.open(&uri, "markdown", 1, &text);
    let (line, character) = (DRAFT_HEAD.matches('\n').count(), "The habit started".len());

    // $/cancelRequest: the reply is dropped and the model stops.
    send(
        &mut client,
        1_000_001,
        "textDocument/inlineCompletion",
        inline_params(&uri, line, character),
    );
    let running = stats_until(&mut client, "generation started", |s| tokens(s) >= 3);
    client.notify("$/cancelRequest", json!({"id": 1_000_001}));
    let cancelled = response(&mut client, 1_000_001);
    assert_eq!(cancelled["error"]["code"], -32800, "{cancelled}");
    let stopped = stats_until(&mut client, "cancel counted", |s| s["cancelled"] == 1);
    std::thread::sleep(Duration::from_millis(500));
    let later = ghost_stats(&mut client);
    assert_eq!(
        tokens(&later),
        tokens(&stopped),
        "no token after it stopped"
    );
    assert!(
        later["tokens_after_cancel"].as_u64().unwrap() <= 1,
        "{later}"
    );
    assert!(
        tokens(&later) < 100,
        "stopped well before 400 tokens: {later}"
    );
    eprintln!(
        "cancel: {} tokens when cancelled, {} in all",
        tokens(&running),
        tokens(&later)
    );

    // A newer request for the same document: the older one answers empty, its model stopped.
    let base = tokens(&later);
    send(
        &mut client,
        1_000_002,
        "textDocument/inlineCompletion",
        inline_params(&uri, line, character),
    );
    stats_until(&mut client, "second generation started", |s| {
        tokens(s) >= base + 3
    });
    send(
        &mut client,
        1_000_003,
        "textDocument/inlineCompletion",
        inline_params(&uri, line, 9),
    );
    let superseded = response(&mut client, 1_000_002);
    assert_eq!(superseded["result"]["items"], json!([]), "{superseded}");
    stats_until(&mut client, "newer request running", |s| {
        s["cancelled"] == 2
    });
    client.notify("$/cancelRequest", json!({"id": 1_000_003}));
    response(&mut client, 1_000_003);
    let done = stats_until(&mut client, "all stopped", |s| s["cancelled"] == 3);
    std::thread::sleep(Duration::from_millis(300));
    let after = ghost_stats(&mut client);
    assert_eq!(tokens(&after), tokens(&done));
    assert!(
        after["tokens_after_cancel"].as_u64().unwrap() <= 3,
        "{after}"
    );
    assert!(tokens(&after) < base + 200, "{after}");
    assert!(client.shutdown().success());
}

#[test]
fn a_remote_voice_answers_from_the_fake_and_completion_is_the_fallback() {
    const KEY_ENV: &str = "VOICETUNE_LSP_GHOST_KEY";
    let key = "sk-ghost-test-0123456789";
    let fake = fake_openai::FakeOpenAi::start(key);
    let dir = tempdir("ghost-remote");
    let model = "gpt-4o-mini-2024-07-18";
    register(
        &dir,
        json!({"katie": {"kind": "remote", "model": model, "base_url": fake.base_url(), "job_id": null}}),
    );
    std::fs::write(
        dir.join("voicetune.toml"),
        format!("voice = \"katie\"\n[remote]\napi_key_env = \"{KEY_ENV}\"\n"),
    )
    .unwrap();
    // A client without inline completion: it gets the completion fallback too.
    let (mut client, init) = start(&dir, false, Value::Null, &[(KEY_ENV, key)]);
    let completion = &init["capabilities"]["completionProvider"];
    assert!(completion.is_object(), "{init}");
    assert!(completion.get("triggerCharacters").is_none(), "{init}");

    let listed = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.selectVoice", "arguments": []}),
    );
    assert_eq!(listed["active"], "katie", "{listed}");
    assert_eq!(listed["voices"][0]["name"], "katie", "{listed}");
    assert_eq!(listed["voices"][0]["kind"], "remote", "{listed}");

    let uri = file_uri(&dir.join("post.md"));
    let text = "# Tea\n\nI drink green tea every morning ";
    client.open(&uri, "markdown", 1, text);
    let end = text.lines().last().unwrap().len();
    let reply = client.request("textDocument/inlineCompletion", inline_params(&uri, 2, end));
    let inserted = reply["items"][0]["insertText"].as_str().unwrap_or_default();
    assert!(inserted.contains(&format!("{model} says:")), "{reply}");

    // The fallback: nothing inside a word, the continuation where a new word starts.
    let mid_word = client.request("textDocument/completion", inline_params(&uri, 2, 10));
    assert!(mid_word.is_null(), "{mid_word}");
    let reply = client.request("textDocument/completion", inline_params(&uri, 2, end));
    let items = reply["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{reply}");
    let edit = &items[0]["textEdit"];
    assert!(
        edit["newText"].as_str().unwrap().contains("says:"),
        "{reply}"
    );
    assert_eq!(edit["range"]["start"], json!({"line": 2, "character": end}));
    assert_eq!(edit["range"]["start"], edit["range"]["end"]);

    let unknown = client.request_raw(
        "workspace/executeCommand",
        json!({"command": "voicetune.selectVoice", "arguments": ["nope"]}),
    );
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("katie"),
        "{unknown}"
    );
    let chosen = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.selectVoice", "arguments": [null]}),
    );
    assert!(chosen["active"].is_null(), "{chosen}");
    let listed = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.selectVoice", "arguments": []}),
    );
    assert!(
        listed["active"].is_null() && listed["selected"] == true,
        "{listed}"
    );
    fake.assert_no_violations();
    assert!(client.shutdown().success());
}

#[test]
fn a_missing_key_is_shown_once_until_the_settings_change() {
    let dir = tempdir("ghost-nokey");
    let unset = "VOICETUNE_LSP_GHOST_UNSET_KEY";
    register(
        &dir,
        json!({"katie": {"kind": "remote", "model": "ft:gpt-4o-mini:me::x",
                         "base_url": "https://api.openai.com/v1", "job_id": null}}),
    );
    std::fs::write(
        dir.join("voicetune.toml"),
        format!("[remote]\napi_key_env = \"{unset}\"\n"),
    )
    .unwrap();
    let (mut client, _) = start(&dir, true, json!({"voice": "katie"}), &[]);
    let uri = file_uri(&dir.join("post.md"));
    let text = "# Tea\n\nI drink green tea every morning";
    client.open(&uri, "markdown", 1, text);
    let end = text.lines().last().unwrap().len();
    let ask = |client: &mut Client, times: usize| {
        for _ in 0..times {
            let reply =
                client.request_raw("textDocument/inlineCompletion", inline_params(&uri, 2, end));
            assert_eq!(reply["result"]["items"], json!([]), "{reply}");
        }
        let shown: Vec<Value> = client
            .inbox
            .iter()
            .filter(|m| m["method"] == "window/showMessage")
            .cloned()
            .collect();
        client.inbox.retain(|m| m["method"] != "window/showMessage");
        shown
    };
    let shown = ask(&mut client, 4);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["params"]["type"], 2, "a warning");
    assert!(
        shown[0]["params"]["message"]
            .as_str()
            .unwrap()
            .contains(unset),
        "{shown:?}"
    );
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"voicetune": {"voice": "katie"}}}),
    );
    assert_eq!(ask(&mut client, 2).len(), 1, "shown again after a change");
    assert!(client.shutdown().success());
}

#[test]
fn neovim_accept_key_takes_the_suggestion_or_types_itself() {
    let _turn = one_model_at_a_time();
    let _ = model_path();
    let dir = tempdir("ghost-nvim");
    let file = dir.join("notebook.md");
    let last = "My 📓 is small. The habit started";
    std::fs::write(&file, format!("{DRAFT_HEAD}{last}\n")).unwrap();
    let jsonl = dir.join("data.jsonl");
    let records = super::dataset(&[], 12);
    std::fs::write(&jsonl, &records).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let stderr = super::run_neovim_with(
        "tests/nvim/ghost.lua",
        &dir,
        &file,
        &out_dir,
        &[("VOICETUNE_JSONL", jsonl.to_str().unwrap())],
    );
    let read = |name: &str| {
        std::fs::read_to_string(out_dir.join(name))
            .unwrap_or_else(|e| panic!("{name} not written ({e}); nvim said:\n{stderr}"))
    };
    // No suggestion after a JSONL record: <Tab> is a tab, in the buffer and on disk.
    let first = records.lines().next().unwrap();
    assert_eq!(read("no_suggestion.txt"), format!("{first}\t"));
    assert!(std::fs::read_to_string(&jsonl)
        .unwrap()
        .starts_with(&format!("{first}\t\n")));
    // A suggestion in the draft: <Tab> inserts exactly what was shown.
    let before = read("before.txt");
    let shown = read("shown.txt");
    let accepted = read("accepted.txt");
    assert_eq!(
        before,
        format!("{last} and"),
        "typed at the end of the line"
    );
    assert!(!shown.trim().is_empty(), "a suggestion was shown");
    assert_eq!(
        accepted,
        format!("{before}{shown}"),
        "what was shown was inserted"
    );
}
