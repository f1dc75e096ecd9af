//! The end of the session: set when the client closes the server's input or sends `exit`.
//! Work in flight (a whole-document lint, fix-all, training, ghostwriting) reads it and stops,
//! so the server does not outlive its editor.

use tokio::sync::watch;

pub struct Closing {
    closed: watch::Sender<bool>,
}

impl Closing {
    pub fn new() -> Closing {
        Closing {
            closed: watch::Sender::new(false),
        }
    }

    /// The client is gone or said `exit`.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once [`Self::close`] was called.
    pub async fn closed(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(|c| *c).await;
    }
}

impl Default for Closing {
    fn default() -> Closing {
        Closing::new()
    }
}
