//! Records in other common shapes (ShareGPT, Alpaca, question/answer, chosen/rejected, or any
//! fields named with `--map FIELD=ROLE`) turned into OpenAI chat or preference records.
//! Chat and preference records pass through unchanged, so a half-converted file converts too.

use super::Format;
use serde_json::{json, Map, Value};

/// How records are turned into messages.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// `FIELD=ROLE` pairs, in message order. Roles: `system`, `user`, `assistant` (chat), or
    /// `prompt`, `chosen`, `rejected` (preference). Overrides shape detection.
    pub map: Vec<(String, MapRole)>,
    /// A system message for records that have none.
    pub system: Option<String>,
}

/// What a mapped field becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRole {
    System,
    User,
    Assistant,
    Chosen,
    Rejected,
}

impl MapRole {
    pub fn parse(role: &str) -> Option<MapRole> {
        match role.trim().to_ascii_lowercase().as_str() {
            "system" => Some(MapRole::System),
            "user" | "prompt" | "human" => Some(MapRole::User),
            "assistant" | "gpt" | "completion" => Some(MapRole::Assistant),
            "chosen" | "preferred" => Some(MapRole::Chosen),
            "rejected" | "non_preferred" => Some(MapRole::Rejected),
            _ => None,
        }
    }

    fn chat_role(self) -> &'static str {
        match self {
            MapRole::System => "system",
            MapRole::User => "user",
            _ => "assistant",
        }
    }
}

/// Parses `FIELD=ROLE`.
pub fn parse_map(spec: &str) -> Result<(String, MapRole), String> {
    let (field, role) = spec
        .split_once('=')
        .ok_or_else(|| format!("--map {spec:?}: expected FIELD=ROLE, e.g. --map question=user"))?;
    let role = MapRole::parse(role).ok_or_else(|| {
        format!("--map {spec:?}: unknown role {role:?}; use system, user, assistant, chosen or rejected")
    })?;
    if field.is_empty() {
        return Err(format!("--map {spec:?}: the field name is empty"));
    }
    Ok((field.to_string(), role))
}

/// The result of converting a file's records.
#[derive(Debug, Default)]
pub struct Converted {
    /// One JSON line per converted record.
    pub lines: Vec<String>,
    /// How many records of each input shape were converted (`chat` for pass-through).
    pub shapes: Vec<(String, usize)>,
    /// Records left out: 1-based record number (the line in JSONL, the element in a JSON
    /// array) and why.
    pub skipped: Vec<(usize, String)>,
}

/// Converts every record of `text`: a JSON array (or one object) when `json_array`, else JSONL.
/// A `.json` file that does not parse is an error naming the line and column.
pub fn convert_text(
    text: &str,
    json_array: bool,
    opts: &ConvertOptions,
) -> Result<Converted, String> {
    let mut out = Converted::default();
    let records: Vec<(usize, Result<Value, String>)> = if json_array {
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
        match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i + 1, Ok(v)))
                .collect(),
            other => vec![(1, Ok(other))],
        }
    } else {
        super::lines(text.trim_start_matches('\u{feff}'))
            .filter(|l| !l.text.trim().is_empty())
            .map(|l| {
                let parsed = serde_json::from_str(l.text).map_err(|e| format!("invalid JSON: {e}"));
                (l.index + 1, parsed)
            })
            .collect()
    };
    for (number, record) in records {
        match record.and_then(|r| convert_record(&r, opts)) {
            Ok((shape, value)) => {
                match out.shapes.iter_mut().find(|(s, _)| *s == shape) {
                    Some((_, n)) => *n += 1,
                    None => out.shapes.push((shape, 1)),
                }
                out.lines.push(value.to_string());
            }
            Err(reason) => out.skipped.push((number, reason)),
        }
    }
    Ok(out)
}

/// Converts one record: its input shape's name and the chat or preference record.
pub fn convert_record(record: &Value, opts: &ConvertOptions) -> Result<(String, Value), String> {
    let object = record
        .as_object()
        .ok_or_else(|| format!("not a JSON object but {}", type_name(record)))?;
    if !opts.map.is_empty() {
        return Ok(("mapped".into(), mapped(object, opts)?));
    }
    let node_format = Format::from_keys(|k| object.contains_key(k));
    let converted = match node_format {
        Some(Format::Chat) | Some(Format::Preference) => {
            return Ok((
                node_format.map_or("chat", Format::name).into(),
                record.clone(),
            ))
        }
        Some(Format::ShareGpt) => share_gpt(object)?,
        Some(Format::Alpaca) => alpaca(object)?,
        Some(Format::QuestionAnswer) => chat_of(vec![
            ("user", text_of(object, "question")?),
            ("assistant", text_of(object, "answer")?),
        ]),
        Some(Format::ChosenRejected) => chosen_rejected(object)?,
        Some(Format::PromptCompletion) => chat_of(vec![
            ("user", text_of(object, "prompt")?),
            (
                "assistant",
                text_of(object, "completion")?.trim_start().to_string(),
            ),
        ]),
        _ => {
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown shape (keys {}); name the fields with {}",
                keys.join(", "),
                suggested_map(&keys)
            ));
        }
    };
    let converted = with_system(converted, object, opts);
    Ok((node_format.map_or("?", Format::name).into(), converted))
}

/// `--map` flags that would convert a record with these keys: a key that names a reply
/// (`answer`, `response`, `output`...) is the assistant's, else the last one; a key that says
/// system is the system message; ids are left out; the others are the user's turn.
pub fn suggested_map(keys: &[&str]) -> String {
    const REPLIES: &[&str] = &[
        "answer",
        "response",
        "output",
        "completion",
        "reply",
        "target",
        "assistant",
        "a",
        "label",
        "solution",
        "summary",
    ];
    let role_of = |key: &str| {
        let lower = key.to_ascii_lowercase();
        if lower.contains("system") {
            Some("system")
        } else if lower == "id" || lower.ends_with("_id") {
            None
        } else if REPLIES.contains(&lower.as_str()) {
            Some("assistant")
        } else {
            Some("user")
        }
    };
    let mut roles: Vec<(&str, &str)> = keys
        .iter()
        .filter_map(|k| Some((*k, role_of(k)?)))
        .collect();
    if !roles.iter().any(|(_, r)| *r == "assistant") {
        if let Some(last) = roles.iter_mut().rev().find(|(_, r)| *r == "user") {
            last.1 = "assistant";
        }
    }
    roles.sort_by_key(|(_, r)| rank(r));
    roles
        .iter()
        .map(|(k, r)| format!("--map {k}={r}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Message order within one converted record: system, then user, then assistant.
fn rank(role: &str) -> u8 {
    match role {
        "system" => 0,
        "user" => 1,
        _ => 2,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field's text: strings as they are, numbers written out (an answer of `42`).
fn text_of(object: &Map<String, Value>, key: &str) -> Result<String, String> {
    match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("`{key}` is empty")),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("`{key}` is {}, not text", type_name(other))),
        None => Err(format!("no `{key}`")),
    }
}

fn chat_of(messages: Vec<(&str, String)>) -> Value {
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    json!({ "messages": messages })
}

/// Adds a system message (the record's own `system`, else `--system`) unless there is one.
fn with_system(mut record: Value, object: &Map<String, Value>, opts: &ConvertOptions) -> Value {
    let system = object
        .get("system")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .or_else(|| opts.system.clone());
    let Some(system) = system else {
        return record;
    };
    let list = match record.get_mut("input") {
        Some(input) => input.get_mut("messages"),
        None => record.get_mut("messages"),
    };
    if let Some(Value::Array(messages)) = list {
        let has_system = messages
            .first()
            .is_some_and(|m| m.get("role").and_then(Value::as_str) == Some("system"));
        if !has_system {
            messages.insert(0, json!({"role": "system", "content": system}));
        }
    }
    record
}

/// The chat role of a ShareGPT speaker (`from`).
pub fn sharegpt_role(from: &str) -> Option<&'static str> {
    match from.trim().to_ascii_lowercase().as_str() {
        "human" | "user" | "prompter" => Some("user"),
        "gpt" | "assistant" | "bot" | "model" | "chatgpt" | "bing" | "bard" => Some("assistant"),
        "system" => Some("system"),
        _ => None,
    }
}

fn share_gpt(object: &Map<String, Value>) -> Result<Value, String> {
    let turns = object
        .get("conversations")
        .and_then(Value::as_array)
        .ok_or("`conversations` is not a list")?;
    let mut messages = Vec::new();
    for (i, turn) in turns.iter().enumerate() {
        let from = turn
            .get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("turn {}: no `from`", i + 1))?;
        let role = sharegpt_role(from)
            .ok_or_else(|| format!("turn {}: unknown speaker `from: {from}`", i + 1))?;
        let value = turn
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("turn {}: `value` is not text", i + 1))?;
        messages.push((role, value.to_string()));
    }
    if !messages.iter().any(|(r, _)| *r == "assistant") {
        return Err("no `gpt` turn to learn from".into());
    }
    Ok(chat_of(messages))
}

fn alpaca(object: &Map<String, Value>) -> Result<Value, String> {
    let instruction = text_of(object, "instruction")?;
    let input = object
        .get("input")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    let user = match input {
        Some(input) => format!("{instruction}\n\n{input}"),
        None => instruction,
    };
    Ok(chat_of(vec![
        ("user", user),
        ("assistant", text_of(object, "output")?),
    ]))
}

/// A chosen/rejected side: a string reply, or a message list whose last message is the reply
/// (and whose earlier messages are the prompt when there is no `prompt`).
fn side(object: &Map<String, Value>, key: &str) -> Result<(Vec<Value>, String), String> {
    match object.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok((Vec::new(), s.clone())),
        Some(Value::Array(messages)) => {
            let (last, earlier) = messages
                .split_last()
                .ok_or_else(|| format!("`{key}` is an empty list"))?;
            let content = last
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the last message of `{key}` has no text content"))?;
            Ok((earlier.to_vec(), content.to_string()))
        }
        Some(other) => Err(format!("`{key}` is {}, not text", type_name(other))),
        None => Err(format!("no `{key}`")),
    }
}

fn chosen_rejected(object: &Map<String, Value>) -> Result<Value, String> {
    let (chosen_context, chosen) = side(object, "chosen")?;
    let (_, rejected) = side(object, "rejected")?;
    let input: Vec<Value> = match object.get("prompt") {
        Some(Value::String(s)) if !s.trim().is_empty() => {
            vec![json!({"role": "user", "content": s})]
        }
        Some(Value::Array(messages)) => messages.clone(),
        Some(other) => return Err(format!("`prompt` is {}, not text", type_name(other))),
        None if !chosen_context.is_empty() => chosen_context,
        None => {
            return Err("no `prompt`, and `chosen` holds no conversation before the reply".into())
        }
    };
    Ok(json!({
        "input": {"messages": input},
        "preferred_output": [{"role": "assistant", "content": chosen}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }))
}

fn mapped(object: &Map<String, Value>, opts: &ConvertOptions) -> Result<Value, String> {
    let mut messages = Vec::new();
    let (mut chosen, mut rejected) = (None, None);
    for (field, role) in &opts.map {
        let text = match object.get(field) {
            None => continue, // An optional field (an empty Alpaca input) may be absent.
            Some(Value::String(s)) if s.trim().is_empty() => continue,
            Some(_) => text_of(object, field)?,
        };
        match role {
            MapRole::Chosen => chosen = Some(text),
            MapRole::Rejected => rejected = Some(text),
            _ => messages.push(json!({"role": role.chat_role(), "content": text})),
        }
    }
    messages.sort_by_key(|m| rank(m["role"].as_str().unwrap_or_default()));
    let record = match (chosen, rejected) {
        (Some(chosen), Some(rejected)) => json!({
            "input": {"messages": messages},
            "preferred_output": [{"role": "assistant", "content": chosen}],
            "non_preferred_output": [{"role": "assistant", "content": rejected}],
        }),
        (None, None) => {
            if !messages.iter().any(|m| m["role"] == "assistant") {
                return Err("none of the fields mapped to assistant has text".into());
            }
            json!({ "messages": messages })
        }
        _ => return Err("a preference record needs both a chosen and a rejected field".into()),
    };
    Ok(with_system(record, object, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(record: Value, opts: &ConvertOptions) -> Value {
        convert_record(&record, opts).unwrap().1
    }

    #[test]
    fn converts_each_shape() {
        let opts = ConvertOptions::default();
        let sharegpt = json!({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]});
        assert_eq!(one(sharegpt, &opts)["messages"][1]["role"], "assistant");
        let alpaca = json!({"instruction": "Sum", "input": "1 2", "output": "3"});
        assert_eq!(one(alpaca, &opts)["messages"][0]["content"], "Sum\n\n1 2");
        let qa = json!({"question": "Why?", "answer": 42});
        assert_eq!(one(qa, &opts)["messages"][1]["content"], "42");
        let pref = json!({"prompt": "Tea?", "chosen": "Yes please.", "rejected": "No."});
        let out = one(pref, &opts);
        assert_eq!(out["preferred_output"][0]["content"], "Yes please.");
        assert_eq!(out["input"]["messages"][0]["content"], "Tea?");
        let hh = json!({"chosen": [{"role": "user", "content": "Tea?"}, {"role": "assistant", "content": "Yes."}], "rejected": [{"role": "user", "content": "Tea?"}, {"role": "assistant", "content": "No."}]});
        let out = one(hh, &opts);
        assert_eq!(out["input"]["messages"][0]["content"], "Tea?");
        assert_eq!(out["non_preferred_output"][0]["content"], "No.");
    }

    #[test]
    fn maps_fields_and_adds_a_system_message() {
        let opts = ConvertOptions {
            map: vec![
                ("q".into(), MapRole::User),
                ("a".into(), MapRole::Assistant),
            ],
            system: Some("Be brief.".into()),
        };
        let out = one(json!({"q": "Hi", "a": "Hello", "id": 3}), &opts);
        assert_eq!(out["messages"][0]["role"], "system");
        assert_eq!(out["messages"][2]["content"], "Hello");
    }

    #[test]
    fn unknown_shapes_and_bad_lines_are_skipped_with_a_reason() {
        let text = "{\"q\": \"Hi\", \"a\": \"Hello\"}\nnot json\n";
        let out = convert_text(text, false, &ConvertOptions::default()).unwrap();
        assert!(out.lines.is_empty());
        assert_eq!(out.skipped.len(), 2);
        assert!(out.skipped[0].1.contains("--map q=user --map a=assistant"));
        assert_eq!(out.skipped[1].0, 2);
    }
}
