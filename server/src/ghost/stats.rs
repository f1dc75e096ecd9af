//! Counters of the ghostwriting service, for the log and for tests that must see what the model
//! did (tokens generated after a cancellation, prompt tokens served from the cache).

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub suggestions: AtomicU64,
    /// Requests answered from the previous suggestion (the user typed what it proposed).
    pub served_from_suggestion: AtomicU64,
    pub cancelled: AtomicU64,
    pub tokens_generated: AtomicU64,
    /// Tokens that finished after their request's cancellation was raised (at most the one in
    /// flight per cancelled request when generation stops between tokens).
    pub tokens_after_cancel: AtomicU64,
    pub prompt_tokens_run: AtomicU64,
    pub prompt_tokens_reused: AtomicU64,
    pub html_tags_stripped: AtomicU64,
    pub urls_stripped: AtomicU64,
    /// Suggestions dropped because they only repeated the text before the cursor (or were empty).
    pub dropped_repeats: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub suggestions: u64,
    pub served_from_suggestion: u64,
    pub cancelled: u64,
    pub tokens_generated: u64,
    pub tokens_after_cancel: u64,
    pub prompt_tokens_run: u64,
    pub prompt_tokens_reused: u64,
    pub html_tags_stripped: u64,
    pub urls_stripped: u64,
    pub dropped_repeats: u64,
}

impl Stats {
    pub fn add(&self, counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            suggestions: get(&self.suggestions),
            served_from_suggestion: get(&self.served_from_suggestion),
            cancelled: get(&self.cancelled),
            tokens_generated: get(&self.tokens_generated),
            tokens_after_cancel: get(&self.tokens_after_cancel),
            prompt_tokens_run: get(&self.prompt_tokens_run),
            prompt_tokens_reused: get(&self.prompt_tokens_reused),
            html_tags_stripped: get(&self.html_tags_stripped),
            urls_stripped: get(&self.urls_stripped),
            dropped_repeats: get(&self.dropped_repeats),
        }
    }
}
