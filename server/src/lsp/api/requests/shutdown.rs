//! `shutdown`: running jobs and suggestions are asked to stop (the client sends `exit` next).

use crate::lsp::session::Session;
use tower_lsp_server::jsonrpc::Result;

pub async fn shutdown(session: &Session) -> Result<()> {
    session.jobs.cancel_all();
    session.ghost.cancel_all();
    Ok(())
}
