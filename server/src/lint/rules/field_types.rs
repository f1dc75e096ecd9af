//! JSON types of every field of every record format, as the OpenAI fine-tuning input schemas
//! type them (`FineTuneChatRequestInput`, `FineTunePreferenceRequestInput`,
//! `FineTuneCompletionRequestInput`), and image parts (URL scheme, media type, base64).

use crate::config::Provider;
use crate::dataset::json::{Node, Value};
use crate::dataset::Format;
use crate::lint::record::{Record, RecordLint};
use crate::lint::rule::RecordRule;
use crate::lint::{Finding, LintOptions, RuleInfo, Severity};
use base64::Engine as _;

pub static FIELD_TYPE: RuleInfo = RuleInfo {
    code: "VT020",
    name: "field-type",
    severity: Severity::Error,
    summary: "A field has the wrong JSON type (a number where text belongs, a string for a list)",
    doc: "Every field of a training record has one JSON type in the OpenAI fine-tuning schemas: \
`messages` is a list of message objects; `role`, `content` (or a list of content parts), \
`name`, `tool_call_id` and `refusal` are strings; `tool_calls`, `tools` and `functions` are \
lists of objects; `parallel_tool_calls` is a boolean; `weight` is the integer 0 or 1; a \
preference `input` is an object with `messages`, each output a list; `prompt`, `completion` and \
`text` are strings; a text part's `text` is a string. A value of another type (`{\"text\": \
123}`, `\"weight\": \"1\"`) is rejected by the service. Give the field its type.",
    fixable: false,
};

pub static INVALID_IMAGE: RuleInfo = RuleInfo {
    code: "VT021",
    name: "invalid-image",
    severity: Severity::Error,
    summary: "An image part whose URL is not http(s) or a well-formed base64 image data URI",
    doc: "An `image_url` content part (user messages only) needs `image_url.url`: an http(s) \
URL, or a data URI `data:image/<jpeg|png|webp|gif>;base64,<data>` whose data is well-formed \
base64. Other media types, other schemes, and broken base64 are rejected when the file is \
validated. `detail`, when given, is `low`, `high` or `auto`. Together takes only base64 data \
URIs of JPEG, PNG or WEBP, up to 10 MB each.",
    fixable: false,
};

/// A finding that `node` (the value of `field`) should be `expected`.
pub fn wrong_type(node: &Node, field: &str, expected: &str, opts: &LintOptions) -> Option<Finding> {
    opts.finding(
        &FIELD_TYPE,
        node.span.clone(),
        format!("`{field}` must be {expected}, not {}", node.type_name()),
        None,
    )
}

fn is_string(node: &Node) -> bool {
    matches!(node.value, Value::String(_))
}

fn is_list_of_objects(node: &Node) -> bool {
    node.as_array()
        .is_some_and(|items| items.iter().all(|i| i.as_object().is_some()))
}

/// The types of the fields the structure rules do not read themselves: top-level extras of
/// each format and the optional members of messages.
pub struct FieldTypes;

impl RecordRule for FieldTypes {
    fn rules(&self) -> &'static [&'static RuleInfo] {
        static RULES: &[&RuleInfo] = &[&FIELD_TYPE];
        RULES
    }

    fn check_record<'a>(&self, record: &Record<'a>, opts: &LintOptions, out: &mut RecordLint<'a>) {
        if !opts.enabled(&FIELD_TYPE) {
            return;
        }
        let node = record.node;
        let out = &mut out.findings;
        let mut messages: Vec<&Node> = Vec::new();
        match record.format {
            Format::Chat => {
                check_tools(node, opts, out);
                messages.extend(node.get("messages").and_then(Node::as_array).unwrap_or(&[]));
            }
            Format::Preference => {
                if let Some(input) = node.get("input") {
                    if input.as_object().is_none() {
                        out.extend(wrong_type(
                            input,
                            "input",
                            "an object with `messages`",
                            opts,
                        ));
                    } else {
                        check_tools(input, opts, out);
                        messages.extend(
                            input
                                .get("messages")
                                .and_then(Node::as_array)
                                .unwrap_or(&[]),
                        );
                    }
                }
                for key in ["preferred_output", "non_preferred_output"] {
                    match node.get(key) {
                        Some(list) if list.as_array().is_none() => out.extend(wrong_type(
                            list,
                            key,
                            "a list holding one assistant message",
                            opts,
                        )),
                        Some(list) => messages.extend(list.as_array().unwrap_or(&[])),
                        None => {}
                    }
                }
            }
            Format::PromptCompletion | Format::Text => {
                // Together also takes a list of content parts (checked where the texts are read).
                let parts_allowed = opts.config.provider == Provider::Together;
                let expected = if parts_allowed {
                    "a string or a list of content parts"
                } else {
                    "a string"
                };
                for key in ["prompt", "completion", "text"] {
                    let allowed =
                        |v: &Node| is_string(v) || (parts_allowed && v.as_array().is_some());
                    if let Some(value) = node.get(key).filter(|v| !allowed(v)) {
                        out.extend(wrong_type(value, key, expected, opts));
                    }
                }
            }
            // The other shapes are checked by their own rule and converted to chat.
            _ => {}
        }
        for message in messages {
            check_message_members(message, opts, out);
        }
    }
}

fn check_tools(node: &Node, opts: &LintOptions, out: &mut Vec<Finding>) {
    for key in ["tools", "functions"] {
        if let Some(value) = node.get(key).filter(|v| !is_list_of_objects(v)) {
            out.extend(wrong_type(value, key, "a list of objects", opts));
        }
    }
    if let Some(value) = node
        .get("parallel_tool_calls")
        .filter(|v| !matches!(v.value, Value::Bool(_)))
    {
        out.extend(wrong_type(value, "parallel_tool_calls", "a boolean", opts));
    }
}

/// A message's optional members (role and content are the role rules' to check).
fn check_message_members(message: &Node, opts: &LintOptions, out: &mut Vec<Finding>) {
    for key in ["name", "tool_call_id"] {
        if let Some(value) = message.get(key).filter(|v| !is_string(v)) {
            out.extend(wrong_type(value, key, "a string", opts));
        }
    }
    if let Some(value) = message
        .get("refusal")
        .filter(|v| !is_string(v) && v.value != Value::Null)
    {
        out.extend(wrong_type(value, "refusal", "a string or null", opts));
    }
    if let Some(value) = message.get("tool_calls").filter(|v| !is_list_of_objects(v)) {
        out.extend(wrong_type(value, "tool_calls", "a list of objects", opts));
    }
    if let Some(value) = message
        .get("function_call")
        .filter(|v| v.as_object().is_none() && v.value != Value::Null)
    {
        out.extend(wrong_type(value, "function_call", "an object", opts));
    }
    if let Some(value) = message
        .get("weight")
        .filter(|v| !matches!(v.value, Value::Number(_)))
    {
        out.extend(wrong_type(value, "weight", "the integer 0 or 1", opts));
    }
}

/// Checks an `image_url` content part; returns whether it is a usable image.
pub fn check_image_part(part: &Node, opts: &LintOptions, out: &mut Vec<Finding>) -> bool {
    let Some(image) = part.get("image_url") else {
        out.extend(opts.finding(
            &INVALID_IMAGE,
            part.span.clone(),
            "an `image_url` part without `image_url`".into(),
            None,
        ));
        return false;
    };
    if image.as_object().is_none() {
        out.extend(wrong_type(image, "image_url", "an object with `url`", opts));
        return false;
    }
    if let Some(detail) = image.get("detail") {
        if !detail
            .as_str()
            .is_some_and(|d| matches!(d.text.as_ref(), "low" | "high" | "auto"))
        {
            out.extend(opts.finding(
                &INVALID_IMAGE,
                detail.span.clone(),
                "`detail` must be `low`, `high` or `auto`".into(),
                None,
            ));
        }
    }
    let Some(url) = image.get("url") else {
        out.extend(opts.finding(
            &INVALID_IMAGE,
            image.span.clone(),
            "`image_url` without `url`".into(),
            None,
        ));
        return false;
    };
    let Some(text) = url.as_str() else {
        out.extend(wrong_type(url, "url", "a string", opts));
        return false;
    };
    match image_url_problem(&text.text, opts.config.provider) {
        None => true,
        Some(problem) => {
            out.extend(opts.finding(&INVALID_IMAGE, url.span.clone(), problem, None));
            false
        }
    }
}

/// Together's largest image: 10 MiB, as base64 in a data URI (its file check's
/// `MAX_BASE64_IMAGE_LENGTH`).
const TOGETHER_MAX_IMAGE_URL: usize = "data:image/jpeg;base64,".len() + 4 * (10 << 20) / 3;

/// What is wrong with an image URL on `provider`, if anything.
pub fn image_url_problem(url: &str, provider: Provider) -> Option<String> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if provider == Provider::Together {
        if !["jpeg", "png", "webp"]
            .iter()
            .any(|kind| url.starts_with(&format!("data:image/{kind};base64,")))
        {
            let shown: String = url.chars().take(40).collect();
            return Some(format!(
                "Together takes images only as base64 data URIs of JPEG, PNG or WEBP (data:image/png;base64,...), not {shown:?}"
            ));
        }
        if url.len() > TOGETHER_MAX_IMAGE_URL {
            return Some(format!(
                "the image holds about {} MB; Together takes images up to 10 MB",
                url.len() * 3 / 4 / 1_000_000
            ));
        }
    }
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let host = url.split_once("://").map_or("", |(_, rest)| rest);
        return host
            .is_empty()
            .then(|| "the image URL has no host".to_string());
    }
    let Some(rest) = url.strip_prefix("data:") else {
        let shown: String = url.chars().take(40).collect();
        return Some(format!(
            "the image URL {shown:?} is neither http(s) nor a data URI; use an http(s) URL or data:image/jpeg;base64,..."
        ));
    };
    let Some((media, data)) = rest.split_once(',') else {
        return Some("the data URI has no `,` before its data".into());
    };
    let Some(mime) = media.strip_suffix(";base64") else {
        return Some("the data URI must be base64 (`data:image/png;base64,...`)".into());
    };
    if !matches!(
        mime.to_ascii_lowercase().as_str(),
        "image/jpeg" | "image/jpg" | "image/png" | "image/webp" | "image/gif"
    ) {
        return Some(format!(
            "the data URI's media type `{mime}` is not accepted; use image/jpeg, image/png, image/webp or image/gif"
        ));
    }
    if data.is_empty() {
        return Some("the data URI holds no image data".into());
    }
    match base64::engine::general_purpose::STANDARD.decode(data) {
        Ok(_) => None,
        Err(err) => Some(format!("the data URI's base64 data is malformed ({err})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::rules::test_support::*;

    #[test]
    fn together_takes_content_parts_in_instruction_and_text_records() {
        let prompt = r#"{"prompt": [{"type": "text", "text": "What is in this photo?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}], "completion": "A cup of tea on a windowsill."}"#;
        assert_eq!(line_findings(prompt, "field-type").len(), 1);
        let opts = together_opts();
        let clean = crate::lint::lint_line(prompt, opts).findings;
        assert!(clean.is_empty(), "{clean:?}");
        let image_reply = r#"{"prompt": "Draw tea.", "completion": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}"#;
        let found = file_findings_with(image_reply, "invalid-image", opts);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("assistant"),
            "{}",
            found[0].message
        );
        let text = r#"{"text": [{"type": "text", "text": "Tea at dawn, <b>always</b>."}]}"#;
        let html = file_findings_with(text, "html", opts);
        assert_eq!(html.len(), 2, "the opening and closing tag");
        assert_eq!(&text[html[0].span.clone()], "<b>");
        assert_eq!(
            file_findings_with(r#"{"text": 123}"#, "field-type", opts).len(),
            1
        );
    }

    #[test]
    fn flags_non_string_text_and_typed_extras() {
        assert_eq!(line_findings(r#"{"text": 123}"#, "field-type").len(), 1);
        assert_eq!(
            line_findings(r#"{"prompt": ["a"], "completion": " b END"}"#, "field-type").len(),
            1
        );
        let chat = r#"{"messages": [{"role": "user", "content": "Hi", "name": 7}, {"role": "assistant", "content": "Hello there, friend.", "weight": "1"}], "parallel_tool_calls": "yes"}"#;
        assert_eq!(line_findings(chat, "field-type").len(), 3);
        let fine = r#"{"messages": [{"role": "user", "content": "Hi", "name": "ann"}, {"role": "assistant", "content": "Hello there, friend.", "weight": 1}], "parallel_tool_calls": true}"#;
        assert!(line_findings(fine, "field-type").is_empty());
    }

    #[test]
    fn image_urls() {
        assert_eq!(
            image_url_problem("https://example.com/cat.png", Provider::Openai),
            None
        );
        assert_eq!(
            image_url_problem("data:image/png;base64,iVBORw0KGgo=", Provider::Openai),
            None
        );
        assert!(image_url_problem("<malformed_base64_image>", Provider::Openai).is_some());
        assert!(image_url_problem("data:image/jpeg;base64,...", Provider::Openai).is_some());
        assert!(image_url_problem("data:image/tiff;base64,AAAA", Provider::Openai).is_some());
        assert!(image_url_problem("data:image/png,AAAA", Provider::Openai).is_some());
        assert!(image_url_problem("ftp://example.com/x.png", Provider::Openai).is_some());
        // Together: base64 JPEG, PNG or WEBP only, up to 10 MB.
        let together = Provider::Together;
        assert_eq!(
            image_url_problem("data:image/png;base64,iVBORw0KGgo=", together),
            None
        );
        assert!(image_url_problem("https://example.com/cat.png", together).is_some());
        assert!(image_url_problem("data:image/gif;base64,R0lGOD==", together).is_some());
        let huge = format!("data:image/png;base64,{}", "A".repeat(14 << 20));
        let problem = image_url_problem(&huge, together).unwrap();
        assert!(problem.contains("10 MB"), "{problem}");
    }
}
