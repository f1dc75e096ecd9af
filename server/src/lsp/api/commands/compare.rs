//! `voicetune.compare {heldout, voices, train?, prompts?, seed?, maxTokens?, output?}`: the
//! bake-off of `voicetune compare` as long-running work (cancellable `$/progress` per answer
//! written), ending with the HTML report opened through `window/showDocument`. Paths are file
//! URIs or relative to the workspace folder; the report goes to
//! `.voicetune/compare/report.html` unless `output` says otherwise. Returns
//! `{ "started": true, "token": ... }` at once.

use super::train_local::file_arg;
use crate::compare::{compare, CompareRequest};
use crate::lsp::api::background::{Job, Outcome};
use crate::lsp::commands::COMPARE;
use crate::lsp::session::Session;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{ProgressToken, Uri};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Args {
    heldout: String,
    voices: Vec<String>,
    train: Option<String>,
    prompts: Option<usize>,
    seed: Option<u64>,
    max_tokens: Option<usize>,
    output: Option<String>,
}

pub async fn start_compare(
    session: &Session,
    args: &[Value],
    client_token: Option<ProgressToken>,
) -> Result<Option<Value>> {
    let args: Args = super::argument(
        COMPARE,
        args,
        "{heldout, voices, train?, prompts?, seed?, maxTokens?, output?}",
    )?;
    if args.voices.is_empty() {
        return Err(Error::invalid_params(format!(
            "{COMPARE}: `voices` names no voice (`base` is the base model)"
        )));
    }
    let root = session.workspace_root();
    let output = match &args.output {
        Some(o) => file_arg(o, &root)?,
        None => root.join(".voicetune").join("compare").join("report.html"),
    };
    let mut request = CompareRequest::new(
        root.clone(),
        args.voices,
        file_arg(&args.heldout, &root)?,
        output,
    );
    request.train = args.train.map(|t| file_arg(&t, &root)).transpose()?;
    request.prompts = args.prompts;
    if let Some(seed) = args.seed {
        request.sampling.seed = seed;
    }
    if let Some(max) = args.max_tokens {
        request.sampling.max_tokens = max;
    }
    let job = Job::new(
        session,
        client_token,
        "compare",
        "voicetune: compare voices",
    )
    .with_message(format!("{} voices", request.voices.len()))
    .with_percentage(0)
    .cancellable();
    let reply = serde_json::json!({ "started": true, "token": job.token() });
    job.spawn(move |progress| async move {
        let cancel = progress.cancel_flag();
        let done = tokio::task::spawn_blocking(move || {
            compare(&request, &cancel, &mut |step| {
                progress.report_percent(step.message, step.percent)
            })
            .map(|report| (report, request.output))
        })
        .await;
        match done {
            Ok(Ok((report, output))) => {
                let best = report
                    .voices
                    .iter()
                    .min_by(|a, b| a.delta.cosine.total_cmp(&b.delta.cosine))
                    .map(|v| {
                        format!(
                            "; closest by cosine Delta: {} ({:.3})",
                            v.name, v.delta.cosine
                        )
                    })
                    .unwrap_or_default();
                Outcome::info(format!(
                    "compare report written to {}{best}",
                    output.display()
                ))
                .and_show(Uri::from_file_path(&output))
            }
            Ok(Err(e)) if e.to_string() == "cancelled" => Outcome::info("compare cancelled"),
            Ok(Err(e)) => Outcome::error(format!("compare failed: {e:#}")),
            Err(e) => Outcome::error(format!("compare failed: {e}")),
        }
    });
    Ok(Some(reply))
}
