//! `voicetune.ghostStats`: the ghostwriting counters since the server started (requests,
//! suggestions, tokens generated, tokens finished after a cancellation, prompt tokens run and
//! reused...), for a person or a test to see what the model did.

use crate::lsp::session::Session;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;

pub async fn ghost_stats(session: &Session) -> Result<Option<Value>> {
    let stats = session
        .ghost
        .current()
        .map(|service| service.stats())
        .unwrap_or_default();
    Ok(serde_json::to_value(stats).ok())
}
