//! `window/workDoneProgress/cancel`: the person pressed cancel on a job's progress.

use crate::lsp::session::Session;
use tower_lsp_server::ls_types::WorkDoneProgressCancelParams;

pub async fn cancel(session: &Session, params: WorkDoneProgressCancelParams) {
    session.jobs.cancel(&params.token);
}
