//! Notification handlers, one file per notification family.

pub mod did_change;
pub mod did_change_configuration;
pub mod did_close;
pub mod did_open;
pub mod did_save;
pub mod initialized;
pub mod work_done_progress_cancel;

use tower_lsp_server::ls_types::Uri;

/// Whether `uri` is a `voicetune.toml`: saving or changing one re-lints every document.
fn is_config_file(uri: &Uri) -> bool {
    uri.path().as_str().ends_with(crate::config::CONFIG_FILE)
}

/// Whether `uri` is a voice registry (`.voicetune/voices.json`).
fn is_voice_registry(uri: &Uri) -> bool {
    uri.path().as_str().ends_with("/.voicetune/voices.json")
}
