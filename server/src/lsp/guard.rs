//! Panics are caught here and nowhere else in the server. Every handler runs inside
//! [`catching`] (see `api`), so a bug in one message answers that message with an error and
//! leaves the server running; work that must keep its state through a panic (a document's
//! re-lint, on the blocking pool) calls [`catch`] around exactly that work.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

/// Runs `work`, returning None if it panicked. Whatever `work` touched is either dropped or
/// rebuilt by the caller, so observing it half-updated cannot happen.
pub fn catch<T>(work: impl FnOnce() -> T) -> Option<T> {
    catch_unwind(AssertUnwindSafe(work)).ok()
}

/// Drives `future` to completion, returning None if one of its polls panicked (the future is
/// dropped then, never polled again).
pub async fn catching<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| match catch(|| future.as_mut().poll(cx)) {
        Some(Poll::Ready(output)) => Poll::Ready(Some(output)),
        Some(Poll::Pending) => Poll::Pending,
        None => Poll::Ready(None),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_returns_the_value_or_none_on_a_panic() {
        assert_eq!(catch(|| 7), Some(7));
        assert_eq!(catch(|| -> u8 { panic!("boom") }), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn catching_survives_a_panic_after_an_await() {
        assert_eq!(catching(async { 3 }).await, Some(3));
        let failed = catching(async {
            tokio::task::yield_now().await;
            panic!("boom");
        })
        .await;
        assert_eq!(failed, None::<()>);
    }
}
