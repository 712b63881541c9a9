//! `cleanup`: removes what a drill's `backup_restore` steps created (a scratch database dropped
//! WITH (FORCE) through its target's connection, a directory, a bucket prefix's objects, a
//! restored cluster stopped and its data directory), as each restoration the run asked for
//! recorded it before anything was written (`restoration::created`); a place that was there
//! before a restore is never touched. It first waits until none of the run's restorations is
//! queued or running (`created::unfinished_of_run`: one taken over from a node that died runs
//! again, and would make its place again after the cleanup), within the step's timeout. In a drill the engine runs cleanup
//! steps whatever happens to the run (`engine`), so a drill leaves nothing behind. A run that
//! is not a drill keeps what it restored: there the step removes nothing and says so, so one
//! plan serves both.

use serde::Deserialize;
use serde_json::{Value, json};

use bulwark_types::StepType;

use super::{Bulwark, Problem, StepError, StepResult};
use crate::restoration::created::{self, Created};

/// Removing what is gone already is fine: running it again changes nothing.
pub const IDEMPOTENT: bool = true;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// The `backup_restore` steps whose places go (the plan's check makes sure they are);
    /// when empty, every place the run's restores created.
    pub steps: Vec<String>,
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, name)| name.trim().is_empty() || name.len() > 100)
            .map(|(i, _)| Problem::new(format!("steps.{i}"), "a backup_restore step's name"))
            .collect()
    }
}

pub async fn run(cfg: &Config, b: &Bulwark<'_>) -> StepResult {
    if !b.drill() {
        return Ok(json!({ "removed": [], "skipped": "not a drill: what a recovery restores stays" }));
    }
    let actor = b.initiator()?;
    // A restore of this run still under way (taken over from a node that died, it runs again
    // even once the run was aborted) may yet create its place: removed before it ends, the
    // place would be made again after the cleanup. The engine's timeout bounds the wait.
    while !created::unfinished_of_run(b.catalog, b.execution_id).await.map_err(|e| StepError::retryable(e.to_string()))?.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let mut recorded = Vec::new();
    for done in b.outputs.iter().filter(|d| d.step_type == StepType::BackupRestore && !d.output["created"].is_null()) {
        let made: Created = serde_json::from_value(done.output["created"].clone()).map_err(|e| StepError::permanent(format!("step {} does not say what it created: {e}", done.name)))?;
        recorded.push((Some(done.name.clone()), made));
    }
    let chosen: Vec<(Option<String>, Created)> = if cfg.steps.is_empty() {
        // Every place the run's restores created, also one whose step never recorded its end
        // (its node died, or it timed out).
        let asked = created::of_run(b.catalog, b.execution_id).await.map_err(|e| StepError::retryable(e.to_string()))?;
        asked.into_iter().map(|made| (recorded.iter().find(|(_, r)| *r == made).and_then(|(name, _)| name.clone()), made)).collect()
    } else {
        recorded.into_iter().filter(|(name, _)| name.as_ref().is_some_and(|n| cfg.steps.contains(n))).collect()
    };
    let (mut removed, mut gone) = (Vec::new(), Vec::new());
    for (step, made) in chosen {
        let why = format!("cleanup of drill run {}", b.execution_id);
        let place = made.place.describe();
        match created::remove(b.catalog, b.secrets, b.reach, actor, &made, &why).await {
            Ok(true) => removed.push(json!({ "step": step, "place": place })),
            Ok(false) => gone.push(json!({ "step": step, "place": place })),
            Err(e) => return Err(StepError::retryable(format!("removing {place}: {e}"))),
        }
    }
    Ok(json!({ "removed": removed, "alreadyGone": gone }))
}

/// What was removed stays removed.
pub async fn roll_back(_cfg: &Config, _output: &Value) -> StepResult {
    Ok(json!({ "undone": "nothing: what a cleanup removed stays removed" }))
}
