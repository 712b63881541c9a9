//! The step types of a runbook, each on the real thing it drives. A step type is a module with
//! the same four parts:
//!
//! - `Config`: the step's `config` object from the runbook (`serde`, camelCase,
//!   `deny_unknown_fields`), read by [`parse`] so a wrong field is named when the plan is saved;
//! - `Config::check`: what serde cannot see (a port of 0, an empty list), each problem a
//!   [`Problem`] naming its field;
//! - `run(&Config, &StepContext) -> StepResult`: does the step and answers its output (JSON), which
//!   holds whatever its rollback needs (the records a DNS update replaced, a server's previous
//!   state) and what `successCriteria` are evaluated on;
//! - `roll_back(&Config, &output, &StepContext) -> StepResult`: undoes a completed step from its
//!   output.
//!
//! Steps that work through Bulwark itself (`notification`, `backup_restore`, `cleanup`) also
//! take [`Bulwark`]: the catalog, where restores may write, the run and who started it;
//! `service_start` takes from it the programs the server may run.
//!
//! `IDEMPOTENT` says whether running the step again after a node died inside it is safe (the
//! engine retries only those; the others wait for a person).

use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::platform::jobs::CancelFlag;

/// A step's failure: a sentence for the person reading the run, and whether another attempt
/// could go differently (a refused connection: yes; a record name outside the zone: no).
#[derive(Debug, Clone, PartialEq)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
}

impl StepError {
    pub fn retryable(message: impl Into<String>) -> StepError {
        StepError { message: message.into(), retryable: true }
    }

    pub fn permanent(message: impl Into<String>) -> StepError {
        StepError { message: message.into(), retryable: false }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type StepResult = Result<Value, StepError>;

/// A problem with a step's configuration, found when the plan is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The field inside `config`, dotted for nested ones (`records.0.ttl`).
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { field: field.into(), message: message.into() }
    }
}

/// Named credentials a runbook refers to instead of holding them (a runbook is kept in git): a
/// TSIG key's secret, a database password. Sealed in the catalog; see `recovery::credentials`.
#[async_trait]
pub trait Secrets: Send + Sync {
    async fn secret(&self, name: &str) -> Result<String, StepError>;
}

/// What a step is handed besides its configuration.
pub struct StepContext<'a> {
    pub secrets: &'a dyn Secrets,
    /// Set when the run is cancelled: long waits poll it and give up.
    pub cancel: CancelFlag,
    /// The step's own timeout; the engine also stops the step when it passes.
    pub timeout: Duration,
}

impl StepContext<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Reads a step's `config` into its type, naming the field serde stopped at. A step written
/// without one has an empty one (a cleanup of every restore needs nothing more).
pub fn parse<C: DeserializeOwned>(config: &Value) -> Result<C, Problem> {
    let config = if config.is_null() { Value::Object(Default::default()) } else { config.clone() };
    serde_json::from_value(config).map_err(|e| {
        let text = e.to_string();
        // serde names unknown and missing fields in its message ("unknown field `x`",
        // "missing field `y`"); lift the name out so the problem points at it.
        let field = text.split('`').nth(1).filter(|_| text.contains("field")).unwrap_or("").to_string();
        Problem::new(field, text)
    })
}

pub mod backup_restore;
pub mod cleanup;
pub mod database_failover;
pub mod dns;
pub mod load_balancer;
pub mod notification;
pub mod service_start;
pub mod validation;

use std::collections::BTreeMap;
use std::path::PathBuf;

use bulwark_types::{ExecutionMode, StepType};

use crate::platform::auth::Principal;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;
use crate::restoration::jobs::RunApproval;
use crate::restores::Targets;

/// What a step of the run recorded: a completed step's output (or an attempt's whose success
/// criteria failed), for the steps that act on what others did (a cleanup).
#[derive(Debug, Clone)]
pub struct Done {
    pub name: String,
    pub step_type: StepType,
    pub output: Value,
}

/// Bulwark's own parts, for the steps that work through them (a notification, a restore, a
/// cleanup).
pub struct Bulwark<'a> {
    pub catalog: &'a Catalog,
    pub secrets: &'a SecretBox,
    /// Where restores may write: the server's restore roots and hosts.
    pub reach: &'a Targets,
    /// The programs a `service_start` step may run: the server's `--recovery-command`.
    pub commands: &'a [PathBuf],
    pub execution_id: &'a str,
    pub plan_name: &'a str,
    pub plan_version: i64,
    pub mode: ExecutionMode,
    /// Who started the run: its restores run in their name. `None` when that account is
    /// disabled or removed since.
    pub initiator: Option<&'a Principal>,
    /// The plan's drill mapping: a production restore target → the scratch one a drill uses.
    pub drill_targets: &'a BTreeMap<String, String>,
    /// What the run's steps recorded so far (but those rolled back).
    pub outputs: &'a [Done],
}

impl Bulwark<'_> {
    /// A drill: restores go to the plan's scratch targets, cleanup always runs.
    pub fn drill(&self) -> bool {
        self.mode == ExecutionMode::Test
    }

    /// The run's approval, carried by the restorations its steps ask for.
    pub fn approval(&self) -> RunApproval {
        RunApproval { run_id: self.execution_id.to_string(), plan_name: self.plan_name.to_string(), plan_version: self.plan_version, drill: self.drill() }
    }

    /// Who the run acts as.
    pub fn initiator(&self) -> Result<&Principal, StepError> {
        self.initiator.ok_or_else(|| StepError::permanent("the account that started this run is disabled or removed: nothing is restored in its name; start the run again"))
    }
}

fn checked<C: DeserializeOwned>(config: &Value, check: fn(&C) -> Vec<Problem>) -> Vec<Problem> {
    match parse::<C>(config) {
        Ok(c) => check(&c),
        Err(problem) => vec![problem],
    }
}

/// The problems of a step's configuration, for the plan's check.
pub fn check(step_type: StepType, config: &Value) -> Vec<Problem> {
    match step_type {
        StepType::DnsUpdate => checked(config, dns::Config::check),
        StepType::LoadBalancerConfig => checked(config, load_balancer::Config::check),
        StepType::DatabaseFailover => checked(config, database_failover::Config::check),
        StepType::Validation => checked(config, validation::Config::check),
        StepType::Notification => checked(config, notification::Config::check),
        StepType::BackupRestore => checked(config, backup_restore::Config::check),
        StepType::Cleanup => checked(config, cleanup::Config::check),
        StepType::ServiceStart => checked(config, service_start::Config::check),
    }
}

/// Whether a step of this type that was running on a node that died may simply run again.
pub fn idempotent(step_type: StepType) -> bool {
    match step_type {
        StepType::DnsUpdate => dns::IDEMPOTENT,
        StepType::LoadBalancerConfig => load_balancer::IDEMPOTENT,
        StepType::DatabaseFailover => database_failover::IDEMPOTENT,
        StepType::Validation => validation::IDEMPOTENT,
        StepType::Notification => notification::IDEMPOTENT,
        StepType::BackupRestore => backup_restore::IDEMPOTENT,
        StepType::Cleanup => cleanup::IDEMPOTENT,
        StepType::ServiceStart => service_start::IDEMPOTENT,
    }
}

/// A configuration checked when the plan was saved, read again to run it.
fn config<C: DeserializeOwned>(config: &Value) -> Result<C, StepError> {
    parse(config).map_err(|p| StepError::permanent(format!("config.{}: {}", p.field, p.message)))
}

/// Runs one attempt of a step.
pub async fn run(step_type: StepType, cfg: &Value, ctx: &StepContext<'_>, bulwark: &Bulwark<'_>) -> StepResult {
    match step_type {
        StepType::DnsUpdate => dns::run(&config(cfg)?, ctx).await,
        StepType::LoadBalancerConfig => load_balancer::run(&config(cfg)?, ctx).await,
        StepType::DatabaseFailover => database_failover::run(&config(cfg)?, ctx).await,
        StepType::Validation => validation::run(&config(cfg)?, ctx).await,
        StepType::Notification => notification::run(&config(cfg)?, bulwark).await,
        StepType::BackupRestore => backup_restore::run(&config(cfg)?, ctx, bulwark).await,
        StepType::Cleanup => cleanup::run(&config(cfg)?, bulwark).await,
        StepType::ServiceStart => service_start::run(&config(cfg)?, ctx, bulwark.commands).await,
    }
}

/// Undoes a completed step from its output.
pub async fn roll_back(step_type: StepType, cfg: &Value, output: &Value, ctx: &StepContext<'_>, bulwark: &Bulwark<'_>) -> StepResult {
    match step_type {
        StepType::DnsUpdate => dns::roll_back(&config(cfg)?, output, ctx).await,
        StepType::LoadBalancerConfig => load_balancer::roll_back(&config(cfg)?, output, ctx).await,
        StepType::DatabaseFailover => database_failover::roll_back(&config(cfg)?, output, ctx).await,
        StepType::Validation => validation::roll_back(&config(cfg)?, output, ctx).await,
        StepType::Notification => notification::roll_back(&config(cfg)?, output).await,
        StepType::BackupRestore => backup_restore::roll_back(output, ctx, bulwark).await,
        StepType::Cleanup => cleanup::roll_back(&config(cfg)?, output).await,
        StepType::ServiceStart => service_start::roll_back(&config(cfg)?, output, ctx, bulwark.commands).await,
    }
}
