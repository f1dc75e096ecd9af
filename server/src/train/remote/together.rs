//! Together AI's fine-tuning endpoints, as its OpenAPI spec (vendored for the tests in
//! `tests/fixtures/together/together-openapi.yaml`) defines them: models and their limits, the
//! price estimate, jobs (create, get, events, checkpoints, cancel, list) and the download of
//! a job's output. Calls go through the shared [`Client`] and its retry loop; responses are
//! parsed leniently (only the fields we read).

use super::endpoints::check_id;
use crate::openai::client::Repeat;
use crate::openai::{Client, Error};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `FinetuneResponse` / `FinetuneResponseTruncated` (the fields we read).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TogetherJob {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub model: Option<String>,
    /// The fine-tuned model's name, usable for inference once the job completed.
    #[serde(default)]
    pub model_output_name: Option<String>,
    #[serde(default)]
    pub training_file: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
    #[serde(default)]
    pub token_count: Option<u64>,
    #[serde(default)]
    pub n_epochs: Option<u32>,
    #[serde(default)]
    pub epochs_completed: Option<u32>,
}

/// `FinetuneTruncatedList`.
#[derive(Debug, Clone, Deserialize)]
pub struct TogetherJobList {
    pub data: Vec<TogetherJob>,
}

/// `FineTuneEvent` (the fields we read).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TogetherEvent {
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub step: Option<u64>,
    #[serde(default)]
    pub total_steps: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
struct EventList {
    data: Vec<TogetherEvent>,
}

/// `FineTuneCheckpoint`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct TogetherCheckpoint {
    pub step: u64,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub checkpoint_type: String,
}

#[derive(Debug, Clone, Deserialize)]
struct CheckpointList {
    data: Vec<TogetherCheckpoint>,
}

/// `FineTuneModelLimits.lora_training` / `.full_training`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct TrainingLimits {
    pub max_batch_size: u32,
    #[serde(default)]
    pub max_batch_size_dpo: Option<u32>,
    pub min_batch_size: u32,
    #[serde(default)]
    pub max_rank: Option<u32>,
    #[serde(default)]
    pub target_modules: Vec<String>,
}

/// `FineTuneModelLimits` (the fields we check). `max_seq_length` is not in the spec at the
/// vendored commit; it is read when the API sends it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ModelLimits {
    pub model_name: String,
    pub max_num_epochs: u32,
    pub max_learning_rate: f64,
    pub min_learning_rate: f64,
    #[serde(default)]
    pub lora_training: Option<TrainingLimits>,
    #[serde(default)]
    pub full_training: Option<TrainingLimits>,
    #[serde(default)]
    pub max_seq_length: Option<usize>,
}

/// The answer of `POST /fine-tunes/estimate-price`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PriceEstimate {
    #[serde(default)]
    pub estimated_total_price: Option<f64>,
    #[serde(default)]
    pub allowed_to_proceed: Option<bool>,
    #[serde(default)]
    pub user_limit: Option<f64>,
    #[serde(default)]
    pub estimated_train_token_count: Option<f64>,
    #[serde(default)]
    pub estimated_eval_token_count: Option<f64>,
}

/// The body of `POST /fine-tunes` (and, less the fields it does not take, of
/// `POST /fine-tunes/estimate-price`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateRequest {
    pub training_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_file: Option<String>,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_epochs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_checkpoints: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u32>,
    /// `TrainingMethodSFT` or `TrainingMethodDPO`.
    pub training_method: Value,
    /// `LoRATrainingType` or `FullTrainingType`.
    pub training_type: Value,
}

impl CreateRequest {
    /// The estimate-price body: the same job, less what that call does not take.
    fn estimate_body(&self) -> Value {
        let mut body = serde_json::json!({
            "training_file": self.training_file,
            "model": self.model,
            "training_method": self.training_method,
            "training_type": self.training_type,
        });
        if let Some(v) = &self.validation_file {
            body["validation_file"] = v.clone().into();
        }
        if let Some(n) = self.n_epochs {
            body["n_epochs"] = n.into();
        }
        body
    }
}

#[derive(Debug, Clone, Deserialize)]
struct SupportedModels {
    models: Vec<String>,
}

impl Client {
    /// `GET /fine-tunes/models/supported`.
    pub async fn together_models(&self) -> Result<Vec<String>, Error> {
        let list: SupportedModels = self
            .get_json::<_, &str>(
                "listing the models Together fine-tunes",
                "fine-tunes/models/supported",
                &[],
            )
            .await?;
        Ok(list.models)
    }

    /// `GET /fine-tunes/models/limits?model_name=`.
    pub async fn together_limits(&self, model: &str) -> Result<ModelLimits, Error> {
        self.get_json(
            &format!("getting the fine-tuning limits of {model}"),
            "fine-tunes/models/limits",
            &[("model_name", model.to_string())],
        )
        .await
    }

    /// `POST /fine-tunes/estimate-price` (creates nothing, so it is retried freely).
    pub async fn together_estimate(&self, request: &CreateRequest) -> Result<PriceEstimate, Error> {
        self.post_json(
            "asking Together for its price estimate",
            "fine-tunes/estimate-price",
            &request.estimate_body(),
        )
        .await
    }

    /// `POST /fine-tunes`. Together takes no request tag, so an answer lost in transit is
    /// looked for among the account's jobs: one on the same training file, model and suffix
    /// that is not in `known` (the jobs this workspace already has).
    pub async fn together_create(
        &self,
        request: &CreateRequest,
        known: &[String],
    ) -> Result<TogetherJob, Error> {
        let build = || async { Ok(self.post("fine-tunes").json(request)) };
        let probe = || async {
            let list: TogetherJobList = self
                .get_json::<_, &str>("looking up the fine-tuning job", "fine-tunes", &[])
                .await?;
            Ok(list.data.into_iter().find(|j| {
                j.training_file.as_deref() == Some(request.training_file.as_str())
                    && j.model.as_deref() == Some(request.model.as_str())
                    && j.suffix == request.suffix
                    && !known.contains(&j.id)
            }))
        };
        self.execute("creating the fine-tuning job", Repeat::Probe, build, probe)
            .await
    }

    /// `GET /fine-tunes` (newest first, as the API lists them).
    pub async fn together_jobs(&self) -> Result<Vec<TogetherJob>, Error> {
        let list: TogetherJobList = self
            .get_json::<_, &str>("listing jobs", "fine-tunes", &[])
            .await?;
        Ok(list.data)
    }

    pub async fn together_job(&self, id: &str) -> Result<TogetherJob, Error> {
        check_id(id)?;
        self.get_json::<_, &str>(
            &format!("getting job {id}"),
            &format!("fine-tunes/{id}"),
            &[],
        )
        .await
    }

    /// All events of a job, oldest first (the API sends them all each time).
    pub async fn together_events(&self, id: &str) -> Result<Vec<TogetherEvent>, Error> {
        check_id(id)?;
        let list: EventList = self
            .get_json::<_, &str>(
                &format!("listing events of job {id}"),
                &format!("fine-tunes/{id}/events"),
                &[],
            )
            .await?;
        Ok(list.data)
    }

    pub async fn together_checkpoints(&self, id: &str) -> Result<Vec<TogetherCheckpoint>, Error> {
        check_id(id)?;
        let list: CheckpointList = self
            .get_json::<_, &str>(
                &format!("listing checkpoints of job {id}"),
                &format!("fine-tunes/{id}/checkpoints"),
                &[],
            )
            .await?;
        Ok(list.data)
    }

    /// `POST /fine-tunes/{id}/cancel`; repeating it is harmless. A refusal because the job is
    /// already cancelled (or being cancelled) counts as success.
    pub async fn together_cancel(&self, id: &str) -> Result<TogetherJob, Error> {
        check_id(id)?;
        self.cancel_at(
            id,
            &format!("fine-tunes/{id}/cancel"),
            || self.together_job(id),
            |job: &TogetherJob| matches!(job.status.as_str(), "cancelled" | "cancel_requested"),
        )
        .await
    }
}

/// Unix seconds of an RFC 3339 time (`2026-05-17T17:35:45.123Z`, `...+02:00`), the way Together
/// stamps events; None when it is not one.
pub fn unix_secs(time: &str) -> Option<i64> {
    let b = time.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| time.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    // A zone offset after the seconds and any fraction.
    let zone = time[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    if let Some(sign) = zone.chars().next().filter(|c| *c == '+' || *c == '-') {
        let part = |r: std::ops::Range<usize>| zone.get(r)?.parse::<i64>().ok();
        let offset = part(1..3)? * 3600 + part(4..6)? * 60;
        secs += if sign == '+' { -offset } else { offset };
    }
    Some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_become_unix_seconds() {
        assert_eq!(unix_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_secs("2023-05-17T17:35:45.123Z"), Some(1_684_344_945));
        assert_eq!(unix_secs("2023-05-17T19:35:45+02:00"), Some(1_684_344_945));
        assert_eq!(unix_secs("yesterday"), None);
    }
}
