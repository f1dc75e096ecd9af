//! `voicetune.buildDataset {sources, output, options}`: the same build as `voicetune build`,
//! with `$/progress` per source; the report goes to `window/showMessage` and the output is
//! opened with `window/showDocument`. Returns `{ "started": true }` at once.

use crate::lsp::api::background::{Job, Outcome};
use crate::lsp::session::Session;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{ProgressToken, Uri};

pub async fn start_build(
    session: &Session,
    args: &[Value],
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let request: crate::import::BuildRequest =
        super::argument("voicetune.buildDataset", args, "{sources, output, options}")?;
    let root = session.workspace_root();
    let config = crate::lint::config_for_file(&root)
        .map(|(c, _)| c)
        .map_err(|e| Error::invalid_params(e.to_string()))?;
    let options = request
        .resolve(&config, &root)
        .map_err(|e| Error::invalid_params(e.describe(|f| format!("options.{}", f.key()))))?;
    let job = Job::new(session, client_token, "build", "voicetune: build dataset")
        .with_message(format!("writing {}", options.output.display()));
    let reply = serde_json::json!({ "started": true, "token": job.token() });
    job.spawn(move |progress| async move {
        let output = options.output.clone();
        let built = tokio::task::spawn_blocking(move || {
            crate::import::build(&options, &mut |p| {
                progress.report(format!(
                    "source {}/{}: {} items read, {} examples",
                    p.source_index + 1,
                    p.source_count,
                    p.items_read,
                    p.examples_written
                ));
            })
        })
        .await;
        match built {
            Ok(Ok(mut report)) => {
                report.name_options(|f| format!("options.{}", f.key()));
                Outcome::info(format!(
                    "built {}: {}{}",
                    output.display(),
                    report.summary_line(),
                    report.skipped_clause()
                ))
                .and_show(Uri::from_file_path(&output))
            }
            Ok(Err(e)) => Outcome::error(format!(
                "build failed: {}",
                e.describe(|f| format!("options.{}", f.key()))
            )),
            Err(e) => Outcome::error(format!("build failed: {e}")),
        }
    });
    Ok(Some(reply))
}
