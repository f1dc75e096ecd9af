//! The prompt shape a voice was trained on: the dataset's system prompt and the user template
//! around the post's title (`Write a blog post titled: {title}`), read back from the training
//! JSONL so that ghostwriting can ask the voice in the words it learned.

use serde::{Deserialize, Serialize};

/// The system message and user template of a dataset's examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptShape {
    /// Empty when the examples have no system message.
    #[serde(default)]
    pub system: String,
    /// The user turn, with `{title}` where each example's title went.
    pub user_template: String,
}

impl Default for PromptShape {
    /// What `voicetune build` writes by default.
    fn default() -> Self {
        PromptShape {
            system: crate::import::output::DEFAULT_SYSTEM.to_string(),
            user_template: crate::import::output::DEFAULT_USER_TEMPLATE.to_string(),
        }
    }
}

impl PromptShape {
    /// The user turn for a document titled `title`.
    pub fn user_prompt(&self, title: &str) -> String {
        self.user_template.replace("{title}", title)
    }

    /// Reads the shape from chat (`messages`) or prompt/completion JSON lines: the most common
    /// system message, and the text every user turn shares before and after the part that
    /// varies. None when there is no example with a user turn.
    pub fn infer_from_jsonl(text: &str) -> Option<PromptShape> {
        #[derive(Deserialize)]
        struct Msg {
            role: String,
            content: String,
        }
        #[derive(Deserialize)]
        struct Line {
            messages: Option<Vec<Msg>>,
            prompt: Option<String>,
        }
        let mut systems: Vec<String> = Vec::new();
        let mut users: Vec<String> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()).take(2000) {
            let Ok(line) = serde_json::from_str::<Line>(line) else {
                continue;
            };
            if let Some(messages) = line.messages {
                let system = messages.iter().find(|m| m.role == "system");
                systems.push(system.map(|m| m.content.clone()).unwrap_or_default());
                if let Some(user) = messages.iter().find(|m| m.role == "user") {
                    users.push(user.content.clone());
                }
            } else if let Some(prompt) = line.prompt {
                systems.push(String::new());
                users.push(prompt);
            }
        }
        if users.is_empty() {
            return None;
        }
        Some(PromptShape {
            system: most_common(&systems),
            user_template: user_template(&users),
        })
    }
}

fn most_common(values: &[String]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for v in values {
        *counts.entry(v.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(v, _)| v.to_string())
        .unwrap_or_default()
}

/// The shared beginning and end of the user turns around `{title}`. The shared beginning is cut
/// back to a separator (`: `, a newline, a space), so titles that happen to start alike ("How
/// I...") do not become part of the template.
fn user_template(users: &[String]) -> String {
    let default = crate::import::output::DEFAULT_USER_TEMPLATE;
    let default_prefix = default.split("{title}").next().unwrap_or_default();
    if users.iter().all(|u| u.starts_with(default_prefix)) && users.len() > 1 {
        let suffix = common_suffix(users, default_prefix.len());
        return format!("{default_prefix}{{title}}{suffix}");
    }
    if users.len() < 2 {
        // One example shows no variation: assume the default shape if it fits, else the turn
        // itself is the template (it carries no title).
        return match users[0].strip_prefix(default_prefix) {
            Some(_) => default.to_string(),
            None => users[0].clone(),
        };
    }
    if users.iter().all(|u| u == &users[0]) {
        return users[0].clone();
    }
    let mut prefix_len = users[0].len();
    for u in &users[1..] {
        prefix_len = users[0]
            .char_indices()
            .zip(u.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(prefix_len);
    }
    let prefix = &users[0][..prefix_len];
    let cut = prefix
        .rfind(|c: char| c.is_whitespace() || c == ':')
        .map_or(0, |i| {
            i + prefix[i..].chars().next().map_or(1, char::len_utf8)
        });
    let prefix = &prefix[..cut];
    let suffix = common_suffix(users, prefix.len());
    format!("{prefix}{{title}}{suffix}")
}

/// The text all `users` end with, after their first `skip` bytes, starting at a non-word
/// character (so a title's last letters are not taken).
fn common_suffix(users: &[String], skip: usize) -> String {
    let tails: Vec<&str> = users.iter().map(|u| u.get(skip..).unwrap_or("")).collect();
    let first = tails[0];
    let mut len = first.len();
    for t in &tails[1..] {
        let shared = first
            .chars()
            .rev()
            .zip(t.chars().rev())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum::<usize>();
        len = len.min(shared);
    }
    let suffix = &first[first.len() - len..];
    match suffix.find(|c: char| !c.is_alphanumeric()) {
        Some(i) => suffix[i..].to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(system: &str, user: &str) -> String {
        serde_json::json!({"messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": "body"},
        ]})
        .to_string()
    }

    #[test]
    fn default_build_shape_is_recognised() {
        let jsonl = [
            chat("Sys.", "Write a blog post titled: How I met tmux"),
            chat("Sys.", "Write a blog post titled: How to bake"),
        ]
        .join("\n");
        let shape = PromptShape::infer_from_jsonl(&jsonl).unwrap();
        assert_eq!(shape.system, "Sys.");
        assert_eq!(shape.user_template, "Write a blog post titled: {title}");
        assert_eq!(shape.user_prompt("X"), "Write a blog post titled: X");
    }

    #[test]
    fn custom_template_with_suffix_and_shared_title_start() {
        let jsonl = [
            chat("", "Post: How it works (in my voice)"),
            chat("", "Post: How we moved (in my voice)"),
            chat("", "Post: Notes on rust (in my voice)"),
        ]
        .join("\n");
        let shape = PromptShape::infer_from_jsonl(&jsonl).unwrap();
        assert_eq!(shape.system, "");
        assert_eq!(shape.user_template, "Post: {title} (in my voice)");
    }

    #[test]
    fn prompt_completion_lines_and_nothing() {
        let jsonl = "{\"prompt\":\"Title: A\\n\\n###\\n\\n\",\"completion\":\" x\"}\n{\"prompt\":\"Title: Bee\\n\\n###\\n\\n\",\"completion\":\" y\"}";
        let shape = PromptShape::infer_from_jsonl(jsonl).unwrap();
        assert_eq!(shape.user_template, "Title: {title}\n\n###\n\n");
        assert_eq!(PromptShape::infer_from_jsonl("{\"text\":\"x\"}"), None);
    }
}
