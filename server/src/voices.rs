//! The voice-model registry: named models that completions and evaluation can use.
//!
//! Stored as `.voicetune/voices.json` in the workspace so the CLI and the server see the same
//! entries. Local voices are a base GGUF plus a LoRA adapter folder (PEFT layout); remote voices
//! are a fine-tuned model id on an OpenAI-compatible endpoint.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Voice {
    /// A local base model (GGUF) with an optional LoRA adapter folder.
    Local {
        base_model: PathBuf,
        adapter: Option<PathBuf>,
        /// The job that produced it, if any.
        job_id: Option<String>,
    },
    /// A model served by an OpenAI-compatible API, e.g. `ft:gpt-4o-mini-2024-07-18:org::abc`.
    Remote {
        model: String,
        /// None means the configured/default base URL.
        base_url: Option<String>,
        job_id: Option<String>,
        /// Who serves it (`openai`, `together`); None for voices registered before providers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        /// The environment variable the API key is read from (never the key); None: the
        /// `[remote]` section's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key_env: Option<String>,
    },
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Registry {
    pub voices: BTreeMap<String, Voice>,
    /// The prompt shape each voice was trained on, by voice name (absent in registries written
    /// before it was recorded, and for voices trained elsewhere).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prompts: BTreeMap<String, crate::dataset::prompt_shape::PromptShape>,
}

/// The longest name that becomes a file or folder name (voices, jobs).
pub const MAX_PATH_NAME_LEN: usize = 128;

/// Checks a name that becomes a file or folder name under `.voicetune/` (a local voice's adapter
/// folder, a job's file): ASCII letters, digits, `.`, `_` and `-`, not starting with `.` (so
/// never `..` or a hidden file), at most [`MAX_PATH_NAME_LEN`] characters. `what` names the
/// thing in the error ("voice name", "job id").
pub fn check_path_name(what: &str, name: &str) -> anyhow::Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_PATH_NAME_LEN {
        Some("is too long")
    } else if name.starts_with('.') {
        Some("starts with `.`")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("has characters other than letters, digits, `.`, `_` and `-`")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => anyhow::bail!(
            "{what} `{}` {problem}: it names a file, so use only ASCII letters, digits, `.`, `_` \
             and `-`, not starting with `.`, at most {MAX_PATH_NAME_LEN} characters",
            name.escape_debug()
        ),
    }
}

/// `.voicetune/voices.json` under `workspace`.
pub fn registry_path(workspace: &Path) -> PathBuf {
    workspace.join(".voicetune").join("voices.json")
}

impl Registry {
    /// Loads the registry; a missing file is an empty registry.
    pub fn load(workspace: &Path) -> anyhow::Result<Registry> {
        let path = registry_path(workspace);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}:{}: invalid voice registry: {e}; fix or delete the file",
                    path.display(),
                    e.line(),
                    e.column()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Registry::default()),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    /// Adds or replaces `name` and saves atomically.
    pub fn register(workspace: &Path, name: &str, voice: Voice) -> anyhow::Result<()> {
        let mut registry = Registry::load(workspace)?;
        registry.voices.insert(name.to_string(), voice);
        // A re-registered voice may come from other data: its old shape no longer holds.
        registry.prompts.remove(name);
        registry.save(workspace)
    }

    /// Records the prompt shape `name` was trained on.
    pub fn record_prompt(
        workspace: &Path,
        name: &str,
        shape: crate::dataset::prompt_shape::PromptShape,
    ) -> anyhow::Result<()> {
        let mut registry = Registry::load(workspace)?;
        registry.prompts.insert(name.to_string(), shape);
        registry.save(workspace)
    }

    /// The prompt shape `name` was trained on, if recorded.
    pub fn prompt(&self, name: &str) -> Option<&crate::dataset::prompt_shape::PromptShape> {
        self.prompts.get(name)
    }

    fn save(&self, workspace: &Path) -> anyhow::Result<()> {
        let registry = self;
        let path = registry_path(workspace);
        std::fs::create_dir_all(path.parent().expect("registry path has a parent"))?;
        let json = serde_json::to_vec_pretty(&registry)?;
        crate::fsutil::write_atomic(&path, &json)?;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&Voice> {
        self.voices.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_names_are_plain_file_names() {
        for good in ["katie", "katie-v2.1", "A_b", &"x".repeat(MAX_PATH_NAME_LEN)] {
            check_path_name("voice name", good).unwrap();
        }
        let too_long = "x".repeat(MAX_PATH_NAME_LEN + 1);
        for bad in [
            "", ".", "..", ".hidden", "a/b", "../x", "a b", "é", "a\u{1b}", &too_long,
        ] {
            let err = check_path_name("voice name", bad).unwrap_err().to_string();
            assert!(err.starts_with("voice name `"), "{bad:?}: {err}");
        }
    }
}
