//! Voice-model backends for completions: local (via [`crate::model`]) and OpenAI-compatible HTTP.
pub mod remote;
