//! One job model over the fine-tuning providers: [`Api`] is a client of one provider (OpenAI or
//! Together AI) with the calls the job flow needs — upload, create, get, new events,
//! checkpoints, cancel — each answering in provider-neutral types, so `plan`/`start`/`follow`
//! in `mod.rs` are written once. Each provider's endpoints are in its own module
//! (`endpoints.rs` for OpenAI, `together.rs`).

use super::api::{CreateJobRequest, FineTuningJob, Method};
use super::together::{self, TogetherJob};
use super::{endpoints, Plan};
use crate::config::Provider;
use crate::openai::{self, Client, RemoteConfig};
use crate::train::jobs::now_secs;
use std::path::Path;

/// A job as any provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteJob {
    pub id: String,
    /// The base model.
    pub model: String,
    /// The provider's own status name (see `JobStatus::from_api`).
    pub status: String,
    /// The fine-tuned model, once there is one.
    pub result_model: Option<String>,
    pub trained_tokens: Option<u64>,
    pub error: Option<String>,
}

impl From<FineTuningJob> for RemoteJob {
    fn from(job: FineTuningJob) -> RemoteJob {
        let error = job.error.as_ref().and_then(|err| {
            let message = err.message.clone().unwrap_or_default();
            match &err.code {
                Some(code) if !code.is_empty() => Some(format!("{message} ({code})")),
                _ if !message.is_empty() => Some(message),
                _ => None,
            }
        });
        RemoteJob {
            id: job.id,
            model: job.model,
            status: job.status,
            result_model: job.fine_tuned_model,
            trained_tokens: job.trained_tokens,
            error,
        }
    }
}

impl From<TogetherJob> for RemoteJob {
    fn from(job: TogetherJob) -> RemoteJob {
        RemoteJob {
            id: job.id,
            model: job.model.unwrap_or_default(),
            status: job.status,
            result_model: job.model_output_name.filter(|m| !m.is_empty()),
            trained_tokens: job.token_count.filter(|t| *t > 0),
            // Together reports a failure as an event (`job_error`), which the log keeps.
            error: None,
        }
    }
}

/// One line from the trainer, with the progress it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The provider's id of the event (Together's events have none: their position).
    pub id: String,
    pub at: i64,
    pub level: String,
    pub message: String,
    pub step: Option<u64>,
    pub total_steps: Option<u64>,
    pub train_loss: Option<f64>,
}

/// A client of one provider's fine-tuning API.
#[derive(Debug, Clone)]
pub struct Api {
    pub client: Client,
    pub provider: Provider,
}

impl Api {
    /// A client of `provider` at `base_url` (None: the configured one), telling `notice` of
    /// retries.
    pub fn new(
        config: &RemoteConfig,
        provider: Provider,
        base_url: Option<&str>,
        notice: Option<openai::WaitNotice>,
    ) -> anyhow::Result<Api> {
        let mut client = config.client_for(provider, base_url)?;
        if let Some(notice) = notice {
            client = client.with_wait_notice(notice);
        }
        Ok(Api { client, provider })
    }

    /// Uploads a dataset (once: an identical earlier upload is reused); returns its file id.
    pub async fn upload(
        &self,
        file: &Path,
        progress: Option<openai::UploadProgress>,
    ) -> Result<String, openai::Error> {
        let route = match self.provider {
            Provider::Openai => &openai::OPENAI_UPLOAD,
            Provider::Together => &openai::TOGETHER_UPLOAD,
        };
        let uploaded = self
            .client
            .upload_file_via(route, file, "fine-tune", progress)
            .await?;
        Ok(uploaded.id)
    }

    /// Creates the job of `plan` on the uploaded `files` (training, then validation); `known`
    /// are the workspace's job ids, which a lost answer is never mistaken for.
    pub async fn create(
        &self,
        plan: &Plan,
        files: &[String],
        known: &[String],
    ) -> anyhow::Result<RemoteJob> {
        let request = &plan.request;
        match self.provider {
            Provider::Openai => {
                let mut metadata = std::collections::BTreeMap::new();
                metadata.insert(
                    endpoints::REQUEST_TAG.to_string(),
                    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
                );
                let create = CreateJobRequest {
                    model: request.model.clone(),
                    training_file: files[0].clone(),
                    validation_file: files.get(1).cloned(),
                    suffix: request.suffix.clone(),
                    seed: request.seed,
                    method: Some(Method::new(request.method, request.hyperparameters.clone())),
                    metadata,
                };
                Ok(self.client.create_job(&create).await?.into())
            }
            Provider::Together => {
                let mut create = plan
                    .together
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("the plan has no Together job"))?;
                create.training_file = files[0].clone();
                create.validation_file = files.get(1).cloned();
                Ok(self.client.together_create(&create, known).await?.into())
            }
        }
    }

    pub async fn get(&self, id: &str) -> Result<RemoteJob, openai::Error> {
        Ok(match self.provider {
            Provider::Openai => self.client.get_job(id).await?.into(),
            Provider::Together => self.client.together_job(id).await?.into(),
        })
    }

    /// The events after the one with id `seen` (all when None), oldest first.
    pub async fn new_events(
        &self,
        id: &str,
        seen: Option<&str>,
    ) -> Result<Vec<NewEvent>, openai::Error> {
        match self.provider {
            Provider::Openai => Ok(self
                .client
                .new_events(id, seen)
                .await?
                .into_iter()
                .map(|e| {
                    let metrics = e
                        .data
                        .as_ref()
                        .filter(|_| e.kind.as_deref() == Some("metrics"));
                    let num = |k: &str| metrics.and_then(|d| d.get(k)).and_then(|v| v.as_f64());
                    NewEvent {
                        id: e.id.clone(),
                        at: e.created_at,
                        level: e.level.clone(),
                        message: e.message.clone(),
                        step: num("step").map(|v| v as u64),
                        total_steps: num("total_steps").map(|v| v as u64),
                        train_loss: num("train_loss"),
                    }
                })
                .collect()),
            Provider::Together => {
                // All events come each time, oldest first: the id is the position.
                let skip = seen
                    .and_then(|s| s.parse::<usize>().ok())
                    .map_or(0, |n| n + 1);
                Ok(self
                    .client
                    .together_events(id)
                    .await?
                    .into_iter()
                    .enumerate()
                    .skip(skip)
                    .map(|(i, e)| NewEvent {
                        id: i.to_string(),
                        at: together::unix_secs(&e.created_at).unwrap_or_else(now_secs),
                        level: match e.level.as_deref() {
                            Some("warning" | "legacy_iwarning") => "warn".into(),
                            Some("error" | "legacy_ierror") => "error".into(),
                            _ if e.kind.as_deref() == Some("job_error") => "error".into(),
                            _ => "info".into(),
                        },
                        message: e.message,
                        step: e.step.filter(|s| *s > 0),
                        total_steps: e.total_steps.filter(|s| *s > 0),
                        train_loss: None,
                    })
                    .collect())
            }
        }
    }

    /// What each checkpoint is called: OpenAI's model ids (each usable as a model), Together's
    /// steps (each downloadable with `voicetune jobs download ID --checkpoint STEP`).
    pub async fn checkpoints(&self, id: &str) -> Result<Vec<String>, openai::Error> {
        Ok(match self.provider {
            Provider::Openai => self
                .client
                .list_checkpoints(id)
                .await?
                .into_iter()
                .map(|c| c.fine_tuned_model_checkpoint)
                .collect(),
            Provider::Together => self
                .client
                .together_checkpoints(id)
                .await?
                .into_iter()
                .map(|c| c.step.to_string())
                .collect(),
        })
    }

    pub async fn cancel(&self, id: &str) -> Result<RemoteJob, openai::Error> {
        Ok(match self.provider {
            Provider::Openai => self.client.cancel_job(id).await?.into(),
            Provider::Together => self.client.together_cancel(id).await?.into(),
        })
    }
}
