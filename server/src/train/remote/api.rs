//! Request and response types of the OpenAI fine-tuning endpoints (the files endpoints' are in
//! `openai/files.rs`), as the OpenAPI spec (vendored for the tests in
//! `tests/fixtures/openai/openai-openapi.yaml`) defines them. Only the fields we use are typed;
//! responses are parsed leniently (unknown fields ignored, optional fields defaulted) so that a
//! provider adding fields never breaks us.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A hyperparameter that is either `"auto"` or a value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Auto<T> {
    #[default]
    Auto,
    Value(T),
}

impl<T: Serialize> Serialize for Auto<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Auto::Auto => s.serialize_str("auto"),
            Auto::Value(v) => v.serialize(s),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Auto<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if value.as_str() == Some("auto") {
            return Ok(Auto::Auto);
        }
        T::deserialize(value)
            .map(Auto::Value)
            .map_err(serde::de::Error::custom)
    }
}

impl<T> Auto<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Auto::Auto => None,
            Auto::Value(v) => Some(v),
        }
    }
}

/// `FineTuneSupervisedHyperparameters` / `FineTuneDPOHyperparameters` (beta is DPO only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_epochs: Option<Auto<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<Auto<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate_multiplier: Option<Auto<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<Auto<f64>>,
}

/// The training method: `method.type` plus `method.<type>.hyperparameters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MethodType {
    #[default]
    Supervised,
    Dpo,
    Reinforcement,
}

impl std::fmt::Display for MethodType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MethodType::Supervised => "supervised",
            MethodType::Dpo => "dpo",
            MethodType::Reinforcement => "reinforcement",
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MethodParams {
    #[serde(default)]
    pub hyperparameters: Hyperparameters,
}

/// `#/components/schemas/FineTuneMethod` (supervised and dpo; reinforcement needs a grader,
/// which we do not build).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Method {
    #[serde(rename = "type")]
    pub kind: MethodType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervised: Option<MethodParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<MethodParams>,
}

impl Method {
    /// A method of `kind` with these hyperparameters (`beta` is dropped for supervised).
    /// Reinforcement needs a grader, which we do not build: it gets no parameters, and the API
    /// says what is missing.
    pub fn new(kind: MethodType, mut hyperparameters: Hyperparameters) -> Method {
        let mut method = Method {
            kind,
            ..Method::default()
        };
        match kind {
            MethodType::Dpo => method.dpo = Some(MethodParams { hyperparameters }),
            MethodType::Supervised => {
                hyperparameters.beta = None;
                method.supervised = Some(MethodParams { hyperparameters })
            }
            MethodType::Reinforcement => {}
        }
        method
    }

    pub fn hyperparameters(&self) -> Option<&Hyperparameters> {
        match self.kind {
            MethodType::Dpo => self.dpo.as_ref().map(|m| &m.hyperparameters),
            _ => self.supervised.as_ref().map(|m| &m.hyperparameters),
        }
    }
}

/// `#/components/schemas/CreateFineTuningJobRequest` (without the deprecated top-level
/// `hyperparameters` and without integrations).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateJobRequest {
    pub model: String,
    pub training_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// `FineTuningJob.error`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct JobError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

/// `#/components/schemas/FineTuningJob` (the fields we read).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FineTuningJob {
    pub id: String,
    pub created_at: i64,
    pub model: String,
    pub status: String,
    #[serde(default)]
    pub fine_tuned_model: Option<String>,
    #[serde(default)]
    pub finished_at: Option<i64>,
    #[serde(default)]
    pub error: Option<JobError>,
    #[serde(default)]
    pub trained_tokens: Option<u64>,
    #[serde(default)]
    pub training_file: Option<String>,
    #[serde(default)]
    pub validation_file: Option<String>,
    #[serde(default)]
    pub estimated_finish: Option<i64>,
    /// Kept loose: a job listed from the account may use a method we do not model.
    #[serde(default)]
    pub method: Option<serde_json::Value>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `#/components/schemas/ListPaginatedFineTuningJobsResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct JobList {
    pub data: Vec<FineTuningJob>,
    #[serde(default)]
    pub has_more: bool,
}

/// `#/components/schemas/FineTuningJobEvent`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct JobEvent {
    pub id: String,
    pub created_at: i64,
    pub level: String,
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// `#/components/schemas/ListFineTuningJobEventsResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventList {
    pub data: Vec<JobEvent>,
    #[serde(default)]
    pub has_more: bool,
}

/// `#/components/schemas/FineTuningJobCheckpoint`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Checkpoint {
    pub id: String,
    pub created_at: i64,
    pub fine_tuned_model_checkpoint: String,
    pub step_number: u64,
    #[serde(default)]
    pub metrics: serde_json::Value,
}

/// `#/components/schemas/ListFineTuningJobCheckpointsResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckpointList {
    pub data: Vec<Checkpoint>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub last_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyperparameters_serialize_auto_and_values() {
        let m = Method::new(
            MethodType::Dpo,
            Hyperparameters {
                n_epochs: Some(Auto::Value(3)),
                batch_size: Some(Auto::Auto),
                learning_rate_multiplier: None,
                beta: Some(Auto::Value(0.1)),
            },
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type":"dpo","dpo":{"hyperparameters":{"n_epochs":3,"batch_size":"auto","beta":0.1}}})
        );
        let back: Method = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
        // Supervised drops beta, which only DPO accepts.
        let s = Method::new(
            MethodType::Supervised,
            Hyperparameters {
                beta: Some(Auto::Value(0.5)),
                ..Default::default()
            },
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"type":"supervised","supervised":{"hyperparameters":{}}})
        );
    }
}
