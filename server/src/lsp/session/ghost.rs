//! Ghostwriting state of a session: the workspace's [`Ghostwriter`], the voice chosen with
//! `voicetune.selectVoice`, the newest suggestion request of each document (a newer one stops
//! the older one's model between tokens), the settings problems already shown and the accepted
//! suggestions still to be learned from.

use crate::ghost::{GhostConfig, Ghostwriter};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tower_lsp_server::ls_types::Uri;

#[derive(Default)]
pub struct Ghosting {
    service: Mutex<Option<Arc<Ghostwriter>>>,
    /// The client shows inline completions (it declared `textDocument.inlineCompletion`); the
    /// `textDocument/completion` fallback then stays out of its completion menu.
    pub inline_client: AtomicBool,
    /// The voice chosen with `voicetune.selectVoice` (`Some(None)`: the base model); it wins
    /// over `voice` in the settings for the rest of the session.
    selected: Mutex<Option<Option<String>>>,
    /// The cancel flag of each document's newest suggestion request.
    newest: Mutex<HashMap<Uri, Arc<AtomicBool>>>,
    /// Settings problems already shown.
    shown: Mutex<HashSet<String>>,
    /// Accepted suggestions waiting for their document's save or close (learning on).
    pub learner: crate::ghost::learn::Learner,
}

impl Ghosting {
    /// The service for `workspace` with `config`; a changed config (the `[completion]`
    /// section) makes a new one, which loads its models again.
    pub fn service(&self, workspace: &Path, config: GhostConfig) -> Arc<Ghostwriter> {
        let mut service = lock(&self.service);
        match &*service {
            Some(s) if *s.config() == config => s.clone(),
            _ => {
                let s = Arc::new(Ghostwriter::new(workspace, config));
                *service = Some(s.clone());
                s
            }
        }
    }

    /// The service if one was made.
    pub fn current(&self) -> Option<Arc<Ghostwriter>> {
        lock(&self.service).clone()
    }

    /// The settings, the voice registry or the chosen voice changed: voices are looked up
    /// again and their problems shown again.
    pub fn settings_changed(&self) {
        if let Some(service) = self.current() {
            service.settings_changed();
        }
        lock(&self.shown).clear();
    }

    pub fn select(&self, voice: Option<String>) {
        *lock(&self.selected) = Some(voice);
        self.settings_changed();
    }

    /// Whether a voice was chosen with `voicetune.selectVoice`.
    pub fn is_selected(&self) -> bool {
        lock(&self.selected).is_some()
    }

    /// The active voice: the selected one, else `configured` (from the settings).
    pub fn active_voice(&self, configured: Option<&str>) -> Option<String> {
        match &*lock(&self.selected) {
            Some(selected) => selected.clone(),
            None => configured.map(str::to_string),
        }
    }

    /// Whether the settings problem `message` is still to be shown: true once until the
    /// settings change, however many requests meet it at the same time.
    pub fn first_report(&self, message: &str) -> bool {
        lock(&self.shown).insert(message.to_string())
    }

    /// Makes `cancel` the flag of `uri`'s newest request and raises the previous one's: the
    /// older suggestion is stale. The returned guard forgets the flag when the request ends.
    pub fn newest_for(self: &Arc<Self>, uri: &Uri, cancel: Arc<AtomicBool>) -> Newest {
        if let Some(older) = lock(&self.newest).insert(uri.clone(), cancel.clone()) {
            older.store(true, Ordering::Relaxed);
        }
        Newest {
            ghosting: self.clone(),
            uri: uri.clone(),
            cancel,
        }
    }

    /// Stops every suggestion in flight (the server shuts down).
    pub fn cancel_all(&self) {
        for flag in lock(&self.newest).values() {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// A document's newest request, forgotten when it ends unless a newer one took its place.
pub struct Newest {
    ghosting: Arc<Ghosting>,
    uri: Uri,
    cancel: Arc<AtomicBool>,
}

impl Drop for Newest {
    fn drop(&mut self) {
        let mut newest = lock(&self.ghosting.newest);
        if newest
            .get(&self.uri)
            .is_some_and(|flag| Arc::ptr_eq(flag, &self.cancel))
        {
            newest.remove(&self.uri);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_request_for_the_same_document_stops_the_older() {
        let ghosting = Arc::new(Ghosting::default());
        let (a, b): (Uri, Uri) = (
            "file:///a.md".parse().unwrap(),
            "file:///b.md".parse().unwrap(),
        );
        let first = Arc::new(AtomicBool::new(false));
        let other = Arc::new(AtomicBool::new(false));
        let guard_first = ghosting.newest_for(&a, first.clone());
        let _guard_other = ghosting.newest_for(&b, other.clone());
        let second = Arc::new(AtomicBool::new(false));
        let guard_second = ghosting.newest_for(&a, second.clone());
        assert!(first.load(Ordering::Relaxed));
        assert!(!other.load(Ordering::Relaxed) && !second.load(Ordering::Relaxed));
        // The older request ending does not forget the newer one.
        drop(guard_first);
        ghosting.cancel_all();
        assert!(second.load(Ordering::Relaxed));
        drop(guard_second);
        assert!(!lock(&ghosting.newest).contains_key(&a));
    }

    #[test]
    fn a_problem_is_shown_once_until_the_settings_change() {
        let ghosting = Ghosting::default();
        assert!(ghosting.first_report("no key"));
        assert!(!ghosting.first_report("no key"));
        assert!(ghosting.first_report("no model"));
        ghosting.settings_changed();
        assert!(ghosting.first_report("no key"));
        assert_eq!(ghosting.active_voice(Some("katie")), Some("katie".into()));
        ghosting.select(None);
        assert_eq!(ghosting.active_voice(Some("katie")), None);
    }
}
