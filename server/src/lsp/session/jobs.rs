//! Long-running work that the client can cancel: progress tokens we make, and each running
//! job's cancel flag by its token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tower_lsp_server::ls_types::{NumberOrString, ProgressToken};

pub struct Jobs {
    cancels: Mutex<HashMap<String, Arc<AtomicBool>>>,
    next_token: AtomicU64,
}

impl Jobs {
    pub fn new() -> Jobs {
        Jobs {
            cancels: Mutex::default(),
            next_token: AtomicU64::new(1),
        }
    }

    /// A new token of ours for work of kind `what`: `voicetune/{what}/{n}`.
    pub fn new_token(&self, what: &str) -> ProgressToken {
        let n = self.next_token.fetch_add(1, Ordering::Relaxed);
        NumberOrString::String(format!("voicetune/{what}/{n}"))
    }

    /// Makes `flag` the cancel flag of the job with `token`.
    pub fn register(&self, token: &ProgressToken, flag: Arc<AtomicBool>) {
        if let Ok(mut cancels) = self.cancels.lock() {
            cancels.insert(key(token), flag);
        }
    }

    /// Forgets the job with `token` (it ended).
    pub fn remove(&self, token: &ProgressToken) {
        if let Ok(mut cancels) = self.cancels.lock() {
            cancels.remove(&key(token));
        }
    }

    /// Asks the job with `token` to stop; unknown tokens are ignored.
    pub fn cancel(&self, token: &ProgressToken) {
        let flag = self
            .cancels
            .lock()
            .ok()
            .and_then(|c| c.get(&key(token)).cloned());
        if let Some(flag) = flag {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Asks every job to stop (the server shuts down).
    pub fn cancel_all(&self) {
        let flags = self
            .cancels
            .lock()
            .map(|c| c.values().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for flag in flags {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

impl Default for Jobs {
    fn default() -> Jobs {
        Jobs::new()
    }
}

/// Tokens are numbers or strings; as JSON text `1` and `"1"` stay apart.
fn key(token: &ProgressToken) -> String {
    serde_json::to_string(token).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_numbered_per_server() {
        let jobs = Jobs::new();
        let name = |t: ProgressToken| match t {
            NumberOrString::String(s) => s,
            NumberOrString::Number(n) => n.to_string(),
        };
        assert_eq!(name(jobs.new_token("fixAll")), "voicetune/fixAll/1");
        assert_eq!(name(jobs.new_token("build")), "voicetune/build/2");
    }

    #[test]
    fn cancel_reaches_only_the_registered_job_until_it_ends() {
        let jobs = Jobs::new();
        let (a, b) = (jobs.new_token("a"), NumberOrString::Number(7));
        let (flag_a, flag_b) = (Arc::new(AtomicBool::new(false)), Arc::default());
        jobs.register(&a, flag_a.clone());
        jobs.register(&b, Arc::clone(&flag_b));
        // The number 7 and the string "7" are different tokens.
        jobs.cancel(&NumberOrString::String("7".into()));
        assert!(!flag_b.load(Ordering::Relaxed));
        jobs.cancel(&b);
        assert!(flag_b.load(Ordering::Relaxed) && !flag_a.load(Ordering::Relaxed));
        jobs.remove(&a);
        jobs.cancel_all();
        assert!(!flag_a.load(Ordering::Relaxed), "an ended job is not told");
    }
}
