//! The fine-tuning endpoints (jobs, events, checkpoints), as calls of the shared
//! [`crate::openai::Client`] through its retry loop.

use super::api::{
    Checkpoint, CheckpointList, CreateJobRequest, EventList, FineTuningJob, JobEvent, JobList,
};
use crate::openai::client::{no_probe, Repeat};
use crate::openai::{Client, Error};

/// The metadata key that makes job creation safe to repeat.
pub const REQUEST_TAG: &str = "voicetune_request";

impl Client {
    /// Creates a job. The request must carry a unique `voicetune_request` metadata value: if the
    /// answer is lost, the job is looked up by it instead of being created a second time.
    pub async fn create_job(&self, request: &CreateJobRequest) -> Result<FineTuningJob, Error> {
        let tag = request.metadata.get(REQUEST_TAG).cloned().ok_or_else(|| {
            Error::Config(format!("create_job needs a `{REQUEST_TAG}` metadata value"))
        })?;
        let build = || async { Ok(self.post("fine_tuning/jobs").json(request)) };
        let probe = || self.find_job_by_tag(&tag);
        self.execute("creating the fine-tuning job", Repeat::Probe, build, probe)
            .await
    }

    /// The job created with metadata `voicetune_request = tag`, if any.
    pub async fn find_job_by_tag(&self, tag: &str) -> Result<Option<FineTuningJob>, Error> {
        let query = vec![
            (format!("metadata[{REQUEST_TAG}]"), tag.to_string()),
            ("limit".to_string(), "100".to_string()),
        ];
        let list: JobList = self
            .get_json("looking up the fine-tuning job", "fine_tuning/jobs", &query)
            .await?;
        // Check the tag ourselves: a compatible provider may ignore the metadata filter.
        Ok(list.data.into_iter().find(|j| {
            j.metadata
                .as_ref()
                .and_then(|m| m.get(REQUEST_TAG))
                .is_some_and(|t| t == tag)
        }))
    }

    pub async fn get_job(&self, id: &str) -> Result<FineTuningJob, Error> {
        check_id(id)?;
        self.get_json::<_, &str>(
            &format!("getting job {id}"),
            &format!("fine_tuning/jobs/{id}"),
            &[],
        )
        .await
    }

    /// One page of jobs, newest first.
    pub async fn list_jobs(&self, after: Option<&str>, limit: u32) -> Result<JobList, Error> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        self.get_json("listing jobs", "fine_tuning/jobs", &query)
            .await
    }

    /// Cancels a job. Repeating a cancel is harmless, so it is retried like a read; a refusal
    /// because the job is already cancelled counts as success.
    pub async fn cancel_job(&self, id: &str) -> Result<FineTuningJob, Error> {
        check_id(id)?;
        self.cancel_at(
            id,
            &format!("fine_tuning/jobs/{id}/cancel"),
            || self.get_job(id),
            |job: &FineTuningJob| job.status == "cancelled",
        )
        .await
    }

    /// POSTs a cancel to `path`, retried like a read; a 4xx refusal is a success when the job,
    /// fetched with `get`, turns out `cancelled` already (any provider's job).
    pub(crate) async fn cancel_at<T, G, GF>(
        &self,
        id: &str,
        path: &str,
        get: G,
        cancelled: fn(&T) -> bool,
    ) -> Result<T, Error>
    where
        T: serde::de::DeserializeOwned,
        G: Fn() -> GF,
        GF: std::future::Future<Output = Result<T, Error>>,
    {
        let what = format!("cancelling job {id}");
        let build = || async { Ok(self.post(path)) };
        match self.execute(&what, Repeat::Safe, build, no_probe).await {
            Ok(job) => Ok(job),
            Err(
                e @ Error::Api {
                    status: 400..=499, ..
                },
            ) => {
                let job = get().await?;
                if cancelled(&job) {
                    Ok(job)
                } else {
                    Err(e)
                }
            }
            Err(e) => Err(e),
        }
    }

    /// One page of events, newest first; `after` is the id of the last event of the previous
    /// page (so the page holds older events).
    pub async fn list_events(
        &self,
        id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<EventList, Error> {
        check_id(id)?;
        let mut query = vec![("limit", limit.to_string())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        self.get_json(
            &format!("listing events of job {id}"),
            &format!("fine_tuning/jobs/{id}/events"),
            &query,
        )
        .await
    }

    /// The events newer than `seen` (all of them if None), oldest first, paging back as far as
    /// needed.
    pub async fn new_events(&self, id: &str, seen: Option<&str>) -> Result<Vec<JobEvent>, Error> {
        let mut out: Vec<JobEvent> = Vec::new();
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self.list_events(id, after.as_deref(), 100).await?;
            for event in page.data.iter() {
                if Some(event.id.as_str()) == seen {
                    break 'pages;
                }
                out.push(event.clone());
            }
            match (page.has_more, page.data.last()) {
                (true, Some(last)) => after = Some(last.id.clone()),
                _ => break,
            }
        }
        out.reverse();
        Ok(out)
    }

    /// All checkpoints of a job, newest first.
    pub async fn list_checkpoints(&self, id: &str) -> Result<Vec<Checkpoint>, Error> {
        check_id(id)?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_string())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page: CheckpointList = self
                .get_json(
                    &format!("listing checkpoints of job {id}"),
                    &format!("fine_tuning/jobs/{id}/checkpoints"),
                    &query,
                )
                .await?;
            let last = page.data.last().map(|c| c.id.clone());
            out.extend(page.data);
            match (page.has_more, last) {
                (true, Some(last)) => after = Some(last),
                _ => break,
            }
        }
        Ok(out)
    }
}

/// Ids go into URL paths: refuse anything that is not a plain id.
pub(crate) fn check_id(id: &str) -> Result<(), Error> {
    crate::voices::check_path_name("job id", id).map_err(|e| Error::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_going_into_a_path() {
        assert!(check_id("ftjob-abc123").is_ok());
        assert!(check_id("../etc").is_err());
        assert!(check_id("a/b").is_err());
        assert!(check_id("").is_err());
    }
}
