//! `notification`: tells people through Bulwark's notification channels (webhook, e-mail),
//! sent at once and logged as deliveries. The named channels (every enabled one when none are
//! named) must all take the message; a failed send is a failed attempt, retried as the step
//! says. Each delivery is in the output.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Bulwark, Problem, StepError, StepResult};
use crate::error::Classify;
use crate::notifications::deliver;

/// Sending again sends a second message: a person may read it twice, nothing worse.
pub const IDEMPOTENT: bool = true;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub channels: Vec<String>,
    pub title: String,
    #[serde(default)]
    pub message: String,
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.title.trim().is_empty() || self.title.len() > 200 {
            problems.push(Problem::new("title", "1 to 200 characters"));
        }
        if self.message.len() > 10_000 {
            problems.push(Problem::new("message", "at most 10,000 characters"));
        }
        for (i, name) in self.channels.iter().enumerate() {
            if name.trim().is_empty() {
                problems.push(Problem::new(format!("channels.{i}"), "a channel's name"));
            }
        }
        problems
    }
}

pub async fn run(cfg: &Config, bulwark: &Bulwark<'_>) -> StepResult {
    let names = if cfg.channels.is_empty() {
        deliver::enabled_channels(bulwark.catalog).await.map_err(|e| StepError::retryable(e.to_string()))?
    } else {
        cfg.channels.clone()
    };
    if names.is_empty() {
        return Err(StepError::permanent("no notification channel is enabled"));
    }
    let record = json!({ "recoveryExecutionId": bulwark.execution_id, "plan": bulwark.plan_name });
    let mut deliveries = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        match deliver::send_named(bulwark.catalog, bulwark.secrets, name, "recovery.step", &cfg.title, &cfg.message, record.clone()).await {
            Ok(delivery) => {
                if let Some(error) = &delivery.last_error {
                    failed.push(format!("{name}: {error}"));
                }
                deliveries.push(json!({ "channel": name, "deliveryId": delivery.id, "status": delivery.status, "error": delivery.last_error }));
            }
            Err(e) if e.kind() == crate::error::Kind::NotFound => return Err(StepError::permanent(format!("no notification channel is called {name:?}"))),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(StepError::retryable(format!("not delivered through {}", failed.join("; "))));
    }
    Ok(json!({ "delivered": names, "deliveries": deliveries }))
}

/// A message once sent stays sent.
pub async fn roll_back(_cfg: &Config, _output: &Value) -> StepResult {
    Ok(json!({ "undone": "nothing: a message sent stays sent" }))
}
