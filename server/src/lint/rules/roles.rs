//! Chat messages: roles known, in a trainable order, an assistant reply present, and content
//! that is a non-empty string.

use super::{field_types, keys};
use crate::config::Provider;
use crate::dataset::json::{Node, Value};
use crate::dataset::Format;
use crate::lint::record::{Record, RecordLint};
use crate::lint::rule::RecordRule;
use crate::lint::text::{FieldRole, TextField};
use crate::lint::{Finding, Fix, LintOptions, RuleInfo, Severity};

pub static INVALID_ROLE: RuleInfo = RuleInfo {
    code: "VT012",
    name: "invalid-role",
    severity: Severity::Error,
    summary: "A message role other than system, user, assistant or tool",
    doc: "OpenAI chat fine-tuning accepts the roles system, user, assistant and tool (and the \
deprecated function); Together the same four, without function. Data exported from other tools often says `human`, `bot`, `gpt` or `model`. \
The fix renames common aliases to the standard role; `developer` is only valid for reinforcement \
fine-tuning.",
    fixable: true,
};

pub static ROLE_ORDER: RuleInfo = RuleInfo {
    code: "VT013",
    name: "role-order",
    severity: Severity::Warning,
    summary:
        "System message not first, no user turn, or the conversation does not end on the assistant",
    doc: "A training conversation starts with an optional system message, has at least one user \
turn, and ends with the assistant reply the model should learn. A system message in the middle, \
a conversation without a user turn, or a trailing user message (nothing to learn from) usually \
means the export went wrong. Together also wants the turns after the system message to start \
with the user and alternate user and assistant (tool messages may follow an assistant's tool \
call); with `provider = \"together\"` two user or two assistant turns in a row are flagged. \
Reorder, merge or trim the messages.",
    fixable: false,
};

pub static MISSING_ASSISTANT: RuleInfo = RuleInfo {
    code: "VT014",
    name: "missing-assistant",
    severity: Severity::Error,
    summary: "A conversation without an assistant message",
    doc: "Fine-tuning learns from assistant messages only; a conversation without one teaches \
nothing and is rejected by OpenAI and Together. Add the reply you want the model to give.",
    fixable: false,
};

pub static EMPTY_CONTENT: RuleInfo = RuleInfo {
    code: "VT015",
    name: "empty-content",
    severity: Severity::Error,
    summary: "Message content missing or empty",
    doc: "Each message needs `content`: a non-empty string or a list of text parts (user \
messages may add image parts). An assistant message may instead carry `tool_calls`. Empty \
completions teach the model to say nothing. Fill in the text or remove the message. (Content \
of the wrong JSON type is `field-type`'s finding.)",
    fixable: false,
};

const ROLES: &[&str] = &["system", "user", "assistant", "tool", "function"];

/// The roles `provider` trains on.
fn known_roles(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Openai => ROLES,
        Provider::Together => &ROLES[..4],
    }
}

fn role_alias(role: &str) -> Option<&'static str> {
    match role.trim().to_ascii_lowercase().as_str() {
        "system" | "sys" => Some("system"),
        "user" | "human" | "person" | "customer" | "prompter" => Some("user"),
        "assistant" | "bot" | "ai" | "gpt" | "model" | "chatbot" | "agent" => Some("assistant"),
        "tool" => Some("tool"),
        _ => None,
    }
}

/// A chat record's messages; collects their texts for the text rules.
pub struct ChatMessages;

impl RecordRule for ChatMessages {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[
            &INVALID_ROLE,
            &ROLE_ORDER,
            &MISSING_ASSISTANT,
            &EMPTY_CONTENT,
            &keys::MISSING_KEY,
            &keys::UNKNOWN_KEY,
            &field_types::FIELD_TYPE,
            &field_types::INVALID_IMAGE,
        ];
        RULES
    }

    fn applies_to(&self, format: Format) -> bool {
        format == Format::Chat
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        if let Some(messages) = record.node.get("messages") {
            let fields = check_messages(messages, opts, &mut out.findings, true);
            out.fields.extend(fields);
        }
    }
}

/// Checks a message list. `needs_assistant_last` is false for a preference `input`, which must
/// end on a user turn instead.
pub fn check_messages<'a>(
    messages: &Node<'a>,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
    needs_assistant_last: bool,
) -> Vec<TextField<'a>> {
    let mut fields = Vec::new();
    let Some(list) = messages.as_array() else {
        out.extend(field_types::wrong_type(
            messages,
            "messages",
            "a list of message objects",
            opts,
        ));
        return fields;
    };
    if list.is_empty() {
        out.extend(opts.finding(
            &EMPTY_CONTENT,
            messages.span.clone(),
            "`messages` is empty".into(),
            None,
        ));
        return fields;
    }
    let mut roles: Vec<Option<&str>> = Vec::new();
    for message in list {
        let Some(members) = message.as_object() else {
            out.extend(field_types::wrong_type(
                message,
                "a message",
                "an object",
                opts,
            ));
            roles.push(None);
            continue;
        };
        out.extend(keys::unknown_members(
            members,
            keys::MESSAGE_KEYS,
            "message",
            opts,
        ));
        let role = check_role(message, opts, out);
        roles.push(role);
        check_content(message, role, opts, out, &mut fields);
    }
    let known: Vec<&str> = roles.iter().flatten().copied().collect();
    if needs_assistant_last && !known.contains(&"assistant") {
        out.extend(opts.finding(
            &MISSING_ASSISTANT,
            messages.span.clone(),
            "the conversation has no assistant message to learn from".into(),
            None,
        ));
    }
    for (i, role) in roles.iter().enumerate() {
        if *role == Some("system") && i > 0 {
            out.extend(opts.finding(
                &ROLE_ORDER,
                list[i].span.clone(),
                format!("system message at position {}: it should come first", i + 1),
                None,
            ));
        }
    }
    if !known.is_empty() && !known.contains(&"user") {
        out.extend(opts.finding(
            &ROLE_ORDER,
            messages.span.clone(),
            "the conversation has no user message".into(),
            None,
        ));
    }
    if opts.config.provider == Provider::Together {
        check_alternation(list, &roles, opts, out);
        check_one_content_form(list, opts, out);
        check_images_per_example(messages, list, opts, out);
    }
    let last = list.len() - 1;
    match (needs_assistant_last, roles[last]) {
        (true, Some(role)) if role != "assistant" && known.contains(&"assistant") => {
            out.extend(opts.finding(&ROLE_ORDER, list[last].span.clone(), format!("the conversation ends with a {role} message; it should end with the assistant reply"), None));
        }
        (false, Some("assistant")) => {
            out.extend(opts.finding(&super::preference::PREFERENCE_STRUCTURE, list[last].span.clone(), "a preference `input` must not end with an assistant message: the outputs are the replies".into(), None));
        }
        _ => {}
    }
    fields
}

/// Together's pattern: after an optional system message, user first, then user and assistant
/// in turn; tool messages answer an assistant's tool call and do not count as a turn.
fn check_alternation(
    list: &[Node],
    roles: &[Option<&str>],
    opts: &LintOptions,
    out: &mut Vec<Finding>,
) {
    if !roles.contains(&Some("user")) {
        return; // "no user message" is reported already, and says it all
    }
    let mut previous: Option<&str> = None;
    let mut started = false;
    for (i, role) in roles.iter().enumerate() {
        let Some(role) = *role else {
            // An unknown role is already reported; the turns after it are checked afresh.
            (previous, started) = (None, true);
            continue;
        };
        if role == "tool" {
            // The assistant may speak again after its tool's answer.
            (previous, started) = (Some(role), true);
            continue;
        }
        if role == "system" {
            continue;
        }
        let message = match previous {
            None if role == "assistant" && !started => Some(format!(
                "the conversation starts with an assistant message (message {}); Together wants a user turn first, after an optional system message",
                i + 1
            )),
            Some(prev) if prev == role => Some(format!(
                "two {role} turns in a row (message {}); Together wants user and assistant turns to alternate: merge them or add the missing turn",
                i + 1
            )),
            _ => None,
        };
        if let Some(message) = message {
            out.extend(opts.finding(&ROLE_ORDER, list[i].span.clone(), message, None));
        }
        (previous, started) = (Some(role), true);
    }
}

/// Together reads an example's messages either all as text or all as multimodal: a string
/// `content` beside a list of content parts in one example is rejected.
fn check_one_content_form(list: &[Node], opts: &LintOptions, out: &mut Vec<Finding>) {
    let forms = list.iter().enumerate().filter_map(|(i, message)| {
        let content = message.get("content")?;
        match &content.value {
            Value::String(s) if !s.text.is_empty() => Some((i, content, false)),
            Value::Array(parts) if !parts.is_empty() => Some((i, content, true)),
            _ => None, // empty or absent content is skipped, as Together's check skips it
        }
    });
    let mut first = None;
    for (i, content, is_parts) in forms {
        let Some((first_index, first_parts)) = first else {
            first = Some((i, is_parts));
            continue;
        };
        if is_parts != first_parts {
            let form = |parts| {
                if parts {
                    "a list of content parts"
                } else {
                    "a string"
                }
            };
            out.extend(opts.finding(
                &field_types::FIELD_TYPE,
                content.span.clone(),
                format!(
                    "message {} content is {} but message {} content is {}; Together wants one form per example: make them all strings or all lists of parts",
                    i + 1,
                    form(is_parts),
                    first_index + 1,
                    form(first_parts)
                ),
                None,
            ));
            return;
        }
    }
}

/// Together's image limits per example: at most 10, and none in a message whose `weight` is
/// not 0.
fn check_images_per_example(
    messages: &Node,
    list: &[Node],
    opts: &LintOptions,
    out: &mut Vec<Finding>,
) {
    const MAX_IMAGES: usize = 10;
    let mut total = 0;
    for message in list {
        let images = message
            .get("content")
            .and_then(Node::as_array)
            .unwrap_or_default()
            .iter()
            .filter(|part| {
                part.get("type")
                    .and_then(Node::as_str)
                    .is_some_and(|t| t.text == "image_url")
            })
            .count();
        total += images;
        let weight = message
            .get("weight")
            .filter(|w| !matches!(w.value, Value::Number("0")));
        if let (true, Some(weight)) = (images > 0, weight) {
            out.extend(opts.finding(
                &super::weight::INVALID_WEIGHT,
                weight.span.clone(),
                "a message with images must have `weight` 0 (or none) on Together".into(),
                None,
            ));
        }
    }
    if total > MAX_IMAGES {
        out.extend(opts.finding(
            &field_types::INVALID_IMAGE,
            messages.span.clone(),
            format!("{total} images in one example; Together takes at most {MAX_IMAGES}: split the example"),
            None,
        ));
    }
}

fn check_role<'a>(
    message: &Node<'a>,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
) -> Option<&'a str> {
    let Some(role_node) = message.get("role") else {
        out.extend(opts.finding(
            &keys::MISSING_KEY,
            message.span.start..message.span.start + 1,
            "message without `role`".into(),
            None,
        ));
        return None;
    };
    let Some(role) = role_node.as_str() else {
        out.extend(field_types::wrong_type(role_node, "role", "a string", opts));
        return None;
    };
    let text: &str = &role.text;
    let known = known_roles(opts.config.provider);
    if known.contains(&text) {
        // Borrow from the line when possible; escaped roles are rare and compared as owned.
        return ROLES.iter().copied().find(|r| *r == text);
    }
    let alias = role_alias(text);
    let fix = alias.map(|a| {
        Fix::replace(
            format!("Rename role to `{a}`"),
            role_node.span.clone(),
            format!("\"{a}\""),
        )
    });
    let advice = match (alias, text) {
        (Some(a), _) => format!("; use `{a}`"),
        (None, "function") => {
            "; Together has no `function` role: use `tool` with a `tool_call_id`".to_string()
        }
        (None, "developer") => {
            "; `developer` is only valid for reinforcement fine-tuning, use `system`".to_string()
        }
        _ => "; use system, user, assistant or tool".to_string(),
    };
    out.extend(opts.finding(
        &INVALID_ROLE,
        role_node.span.clone(),
        format!("unknown role `{text}`{advice}"),
        fix,
    ));
    alias
}

fn check_content<'a>(
    message: &Node<'a>,
    role: Option<&str>,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
    fields: &mut Vec<TextField<'a>>,
) {
    let field_role = role.map_or(FieldRole::Other, FieldRole::from_chat_role);
    let has_calls = message.get("tool_calls").is_some() || message.get("function_call").is_some();
    match message.get("content").map(|c| (c, &c.value)) {
        None | Some((_, Value::Null)) if has_calls => {}
        None => {
            out.extend(opts.finding(
                &EMPTY_CONTENT,
                message.span.clone(),
                "message without `content`".into(),
                None,
            ));
        }
        Some((node, Value::String(s))) => {
            if s.text.trim().is_empty() {
                let what = if s.text.is_empty() {
                    "empty"
                } else {
                    "only whitespace"
                };
                out.extend(opts.finding(
                    &EMPTY_CONTENT,
                    node.span.clone(),
                    format!("{} content is {what}", role.unwrap_or("message")),
                    None,
                ));
            } else {
                fields.push(TextField::json(field_role, s.clone()));
            }
        }
        Some((node, Value::Array(parts))) => {
            check_parts(node, parts, role, field_role, opts, out, fields);
        }
        Some((node, _)) => {
            out.extend(field_types::wrong_type(
                node,
                "content",
                "a string or a list of content parts",
                opts,
            ));
        }
    }
}

/// A list of content parts (the `content` of a message of `role`, or, on Together, a prompt,
/// completion or text): text parts for every role, image parts in user turns only.
pub fn check_parts<'a>(
    node: &Node<'a>,
    parts: &[Node<'a>],
    role: Option<&str>,
    field_role: FieldRole,
    opts: &LintOptions,
    out: &mut Vec<Finding>,
    fields: &mut Vec<TextField<'a>>,
) {
    // Text parts are allowed for every role; image parts in user messages only.
    let mut any_content = false;
    for part in parts {
        match part
            .get("type")
            .and_then(Node::as_str)
            .map(|t| t.text.as_ref())
        {
            Some("text") => match part.get("text") {
                Some(text_node) => match text_node.as_str() {
                    Some(text) => {
                        any_content |= !text.text.trim().is_empty();
                        fields.push(TextField::json(field_role, text.clone()));
                    }
                    None => out.extend(field_types::wrong_type(
                        text_node, "text", "a string", opts,
                    )),
                },
                None => out.extend(opts.finding(
                    &keys::MISSING_KEY,
                    part.span.clone(),
                    "a text part without `text`".into(),
                    None,
                )),
            },
            Some("image_url") if role == Some("user") => {
                any_content |= field_types::check_image_part(part, opts, out);
            }
            Some("image_url") => out.extend(opts.finding(
                &field_types::INVALID_IMAGE,
                part.span.clone(),
                format!(
                    "images are allowed in user messages only, not in a {} message",
                    role.unwrap_or("role-less")
                ),
                None,
            )),
            _ => out.extend(opts.finding(
                &field_types::FIELD_TYPE,
                part.span.clone(),
                "a content part must be {\"type\": \"text\", \"text\": ...} (or an image_url in a user message)".into(),
                None,
            )),
        }
    }
    if !any_content {
        out.extend(opts.finding(
            &EMPTY_CONTENT,
            node.span.clone(),
            "content parts hold no text".into(),
            None,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::lint::rules::test_support::*;

    fn messages(list: &str) -> String {
        format!(r#"{{"messages": {list}}}"#)
    }

    #[test]
    fn renames_role_aliases() {
        let line = messages(
            r#"[{"role": "human", "content": "Hi"}, {"role": "assistant", "content": "Hello there, my tea friend."}]"#,
        );
        assert_eq!(line_findings(&line, "invalid-role").len(), 1);
        assert!(fixed(&line, "invalid-role").contains(r#""role": "user""#));
    }

    #[test]
    fn flags_order_missing_assistant_and_empty_content() {
        let late_system = messages(
            r#"[{"role": "user", "content": "Hi"}, {"role": "system", "content": "Be kind."}, {"role": "assistant", "content": "Hello there, my tea friend."}]"#,
        );
        assert_eq!(line_findings(&late_system, "role-order").len(), 1);
        let no_reply = messages(r#"[{"role": "user", "content": "Hi"}]"#);
        assert_eq!(line_findings(&no_reply, "missing-assistant").len(), 1);
        let empty = reply("");
        assert_eq!(line_findings(&empty, "empty-content").len(), 1);
    }

    #[test]
    fn together_wants_alternating_turns_and_no_function_role() {
        let opts = together_opts();
        let two_users = messages(
            r#"[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "Hello there, my tea friend."}]"#,
        );
        let found = file_findings_with(&two_users, "role-order", opts);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("message 3"),
            "{}",
            found[0].message
        );
        assert_eq!(
            &two_users[found[0].span.clone()][..17],
            r#"{"role": "user", "#
        );
        // OpenAI trains on the same conversation.
        assert!(line_findings(&two_users, "role-order").is_empty());
        let assistant_first = messages(
            r#"[{"role": "assistant", "content": "Welcome."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, my tea friend."}]"#,
        );
        let found = file_findings_with(&assistant_first, "role-order", opts);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("starts with an assistant"));
        let tool_call = messages(
            r#"[{"role": "user", "content": "Tea?"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "brew", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "brewed"}, {"role": "assistant", "content": "Your tea is ready, my friend."}]"#,
        );
        assert!(file_findings_with(&tool_call, "role-order", opts).is_empty());
        let function = messages(
            r#"[{"role": "user", "content": "Hi"}, {"role": "function", "name": "f", "content": "x"}, {"role": "assistant", "content": "Hello there, my tea friend."}]"#,
        );
        let found = file_findings_with(&function, "invalid-role", opts);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("tool"), "{}", found[0].message);
        assert!(line_findings(&function, "invalid-role").is_empty());
    }

    #[test]
    fn together_wants_one_content_form_per_example() {
        let mixed = messages(
            r#"[{"role": "user", "content": "Content as parts"}, {"role": "assistant", "content": [{"type": "text", "text": "Parts, as you asked."}]}]"#,
        );
        let found = file_findings_with(&mixed, "field-type", together_opts());
        let [finding] = &found[..] else {
            panic!("{found:?}")
        };
        assert!(finding.message.contains("message 2"), "{}", finding.message);
        assert!(line_findings(&mixed, "field-type").is_empty());
    }

    #[test]
    fn together_limits_images_per_example_and_their_weight() {
        let image =
            r#"{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}"#;
        let parts = [image; 11].join(", ");
        let eleven = messages(&format!(
            r#"[{{"role": "user", "content": [{{"type": "text", "text": "Which is the harbour?"}}, {parts}]}}, {{"role": "assistant", "content": [{{"type": "text", "text": "The third one, by the ferry."}}]}}]"#
        ));
        assert_eq!(
            file_findings_with(&eleven, "invalid-image", together_opts()).len(),
            1
        );
        assert!(line_findings(&eleven, "invalid-image").is_empty());
        let weighted = messages(&format!(
            r#"[{{"role": "user", "weight": 1, "content": [{{"type": "text", "text": "Which is the harbour?"}}, {image}]}}, {{"role": "assistant", "content": [{{"type": "text", "text": "The third one, by the ferry."}}]}}]"#
        ));
        let found = file_findings_with(&weighted, "invalid-weight", together_opts());
        assert_eq!(found.len(), 1);
        assert_eq!(&weighted[found[0].span.clone()], "1");
    }

    #[test]
    fn a_well_formed_conversation_is_clean() {
        let line = messages(
            r#"[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there, my tea friend."}]"#,
        );
        for rule in [
            "invalid-role",
            "role-order",
            "missing-assistant",
            "empty-content",
        ] {
            assert!(line_findings(&line, rule).is_empty(), "{rule}");
        }
    }
}
