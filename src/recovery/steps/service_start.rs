//! `service_start`: starts a service, then waits until its health check passes. Exactly one way
//! to start it: a program run to completion (an argument list, never a shell line), or an HTTP
//! call (an orchestrator's API). The health check (an HTTP address answering 200, or a TCP port
//! taking connections) is polled until it passes or its own timeout passes. A rollback runs the
//! step's `rollbackCommand` or `rollbackRequest`, when it has one.
//!
//! A plan is written by an operator, but a program runs on the server: only the programs an
//! administrator allowed when starting the server (`--recovery-command`) run. The plan's check
//! cannot know that list, so `run` refuses any other program.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::validation::{self, HttpCheck};
use super::{Problem, StepContext, StepError, StepResult};

/// Starting a service twice may start two of it: a person decides after a node died inside it.
pub const IDEMPOTENT: bool = false;
/// The last this many bytes of a program's stdout and stderr, and the first of an HTTP answer,
/// are kept in the output.
const TAIL: usize = 4096;
const MAX_ARGS: usize = 64;
const MAX_ARG_BYTES: usize = 4096;
/// How often a running program is checked for the step's timeout and the run's cancel.
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The program's absolute path, then its arguments.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub request: Option<Request>,
    pub health_check: HealthCheck,
    #[serde(default = "one")]
    pub health_interval_seconds: u64,
    #[serde(default = "sixty")]
    pub health_timeout_seconds: u64,
    #[serde(default)]
    pub rollback_command: Option<Vec<String>>,
    #[serde(default)]
    pub rollback_request: Option<Request>,
}

fn one() -> u64 {
    1
}

fn sixty() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request {
    pub url: String,
    #[serde(default)]
    pub method: Method,
    /// Without it, any 2xx status.
    #[serde(default)]
    pub expect_status: Option<u16>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Post,
    Put,
    Get,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    /// An address that answers 200 when the service is up.
    #[serde(default)]
    pub http: Option<String>,
    /// A text the HTTP answer's body must hold.
    #[serde(default)]
    pub contains: Option<String>,
    /// `host:port`.
    #[serde(default)]
    pub tcp: Option<String>,
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        match (&self.command, &self.request) {
            (Some(argv), None) => check_argv("command", argv, &mut problems),
            (None, Some(request)) => check_request("request", request, &mut problems),
            _ => problems.push(Problem::new("", "exactly one of command, request")),
        }
        match (&self.rollback_command, &self.rollback_request) {
            (Some(_), Some(_)) => problems.push(Problem::new("rollbackCommand", "at most one of rollbackCommand, rollbackRequest")),
            (Some(argv), None) => check_argv("rollbackCommand", argv, &mut problems),
            (None, Some(request)) => check_request("rollbackRequest", request, &mut problems),
            (None, None) => {}
        }
        let health = &self.health_check;
        match (&health.http, &health.tcp) {
            (Some(url), None) => {
                if let Err(e) = crate::platform::outbound::http_url(url, "a health check", "") {
                    problems.push(Problem::new("healthCheck.http", e.trim_start_matches("settings.url: ").to_string()));
                }
            }
            (None, Some(tcp)) => {
                if validation::host_port(tcp).is_none() {
                    problems.push(Problem::new("healthCheck.tcp", "host:port, with a port from 1 to 65535"));
                }
                if health.contains.is_some() {
                    problems.push(Problem::new("healthCheck.contains", "only with http"));
                }
            }
            _ => problems.push(Problem::new("healthCheck", "exactly one of http, tcp")),
        }
        if !(1..=3600).contains(&self.health_interval_seconds) {
            problems.push(Problem::new("healthIntervalSeconds", "1 to 3600"));
        }
        if !(1..=86_400).contains(&self.health_timeout_seconds) {
            problems.push(Problem::new("healthTimeoutSeconds", "1 to 86400"));
        }
        problems
    }
}

/// What can be seen of a program without the server's list: an absolute path (no `..` that
/// could walk out of an allowed directory's name) and arguments `execve` takes.
fn check_argv(field: &str, argv: &[String], problems: &mut Vec<Problem>) {
    let Some(program) = argv.first() else {
        problems.push(Problem::new(field, "the program's absolute path, then its arguments"));
        return;
    };
    let path = Path::new(program);
    if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
        problems.push(Problem::new(format!("{field}.0"), "the program's absolute path, without `..` (it runs without a shell)"));
    }
    if argv.len() > MAX_ARGS {
        problems.push(Problem::new(field, format!("at most {MAX_ARGS} arguments")));
    }
    for (i, arg) in argv.iter().enumerate() {
        if arg.is_empty() && i == 0 {
            continue; // named above, as not an absolute path
        }
        if arg.is_empty() || arg.len() > MAX_ARG_BYTES || arg.contains('\0') {
            problems.push(Problem::new(format!("{field}.{i}"), format!("1 to {MAX_ARG_BYTES} bytes, without a NUL character")));
        }
    }
}

fn check_request(field: &str, request: &Request, problems: &mut Vec<Problem>) {
    if let Err(e) = crate::platform::outbound::http_url(&request.url, "a service is started", "") {
        problems.push(Problem::new(format!("{field}.url"), e.trim_start_matches("settings.url: ").to_string()));
    }
    if request.expect_status.is_some_and(|s| !(100..=599).contains(&s)) {
        problems.push(Problem::new(format!("{field}.expectStatus"), "an HTTP status, 100 to 599"));
    }
}

/// Starts the service with the programs in `allowed` (the server's `--recovery-command`), then
/// waits for its health check.
pub async fn run(cfg: &Config, ctx: &StepContext<'_>, allowed: &[PathBuf]) -> StepResult {
    let started = Instant::now();
    let mut output = match (&cfg.command, &cfg.request) {
        (Some(argv), _) => run_command(argv, ctx, allowed).await?,
        (None, Some(request)) => call(request, ctx).await?,
        (None, None) => return Err(StepError::permanent("nothing starts the service: give command or request")),
    };
    output["health"] = wait_healthy(cfg, ctx).await?;
    output["elapsedMs"] = json!(started.elapsed().as_millis() as u64);
    Ok(output)
}

/// Runs the step's rollback command or request; without one, the service stays as it is.
pub async fn roll_back(cfg: &Config, _output: &Value, ctx: &StepContext<'_>, allowed: &[PathBuf]) -> StepResult {
    match (&cfg.rollback_command, &cfg.rollback_request) {
        (Some(argv), _) => run_command(argv, ctx, allowed).await,
        (None, Some(request)) => call(request, ctx).await,
        (None, None) => Ok(json!({ "undone": "nothing: the step has no rollbackCommand or rollbackRequest" })),
    }
}

/// Runs `argv` to completion, from an empty environment and without a shell, stopped when the
/// step's timeout passes or the run is cancelled.
async fn run_command(argv: &[String], ctx: &StepContext<'_>, allowed: &[PathBuf]) -> StepResult {
    let program = argv.first().ok_or_else(|| StepError::permanent("the command names no program"))?;
    if !allowed.iter().any(|a| a == Path::new(program)) {
        return Err(StepError::permanent(format!(
            "{program} is not a program this server runs: an administrator allows it by starting the server with --recovery-command {program} (or BULWARK_RECOVERY_COMMANDS)"
        )));
    }
    let mut command = crate::platform::child::command(program);
    command.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // The engine drops a step it stops: the program goes with it.
    let mut child = tokio::process::Command::from(command).kill_on_drop(true).spawn().map_err(|e| StepError::retryable(format!("cannot start {program}: {e}")))?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(StepError::retryable(format!("{program} started without its output pipes")));
    };
    let (mut out, mut err) = (Tail::default(), Tail::default());
    let (mut out_buf, mut err_buf) = ([0u8; 8192], [0u8; 8192]);
    let deadline = Instant::now() + ctx.timeout;
    let status = loop {
        // Checked on every pass, not only when the tick fires: a program that keeps writing
        // would otherwise never let it.
        let stop = if ctx.cancelled() {
            Some(StepError::permanent(format!("cancelled while {program} ran: it was stopped")))
        } else if Instant::now() >= deadline {
            Some(StepError::retryable(format!("{program} did not finish within the step's timeout of {} s: it was stopped", ctx.timeout.as_secs())))
        } else {
            None
        };
        if let Some(stop) = stop {
            let _ = child.kill().await;
            return Err(stop);
        }
        tokio::select! {
            status = child.wait() => break status.map_err(|e| StepError::retryable(format!("waiting for {program}: {e}")))?,
            n = stdout.read(&mut out_buf), if !out.closed => out.push(n.map(|n| &out_buf[..n])),
            n = stderr.read(&mut err_buf), if !err.closed => err.push(n.map(|n| &err_buf[..n])),
            _ = tokio::time::sleep(TICK) => {}
        }
    };
    // What the program wrote just before it exited. A service it left running in the
    // background may hold the pipes open: that is not waited for.
    let _ = tokio::time::timeout(TICK, async { tokio::join!(drain(&mut stdout, &mut out), drain(&mut stderr, &mut err)) }).await;
    let (stdout, stderr) = (out.text(), err.text());
    if !status.success() {
        return Err(StepError::retryable(format!("{program} failed ({status}): {}", last_line(&stderr).unwrap_or("no error output"))));
    }
    Ok(json!({ "program": program, "exitStatus": status.code(), "status": status.to_string(), "stdout": stdout, "stderr": stderr }))
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

async fn drain(pipe: &mut (impl AsyncRead + Unpin), tail: &mut Tail) {
    let mut buf = [0u8; 8192];
    while !tail.closed {
        let n = pipe.read(&mut buf).await;
        tail.push(n.map(|n| &buf[..n]));
    }
}

/// The last [`TAIL`] bytes a pipe carried.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    closed: bool,
}

impl Tail {
    fn push(&mut self, read: std::io::Result<&[u8]>) {
        match read {
            Ok([]) | Err(_) => self.closed = true,
            Ok(chunk) => {
                self.bytes.extend_from_slice(chunk);
                let excess = self.bytes.len().saturating_sub(TAIL);
                self.bytes.drain(..excess);
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

async fn call(request: &Request, ctx: &StepContext<'_>) -> StepResult {
    let method = match request.method {
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Get => reqwest::Method::GET,
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ctx.timeout)
        .build()
        .map_err(|e| StepError::retryable(format!("cannot set up an HTTP client: {}", crate::error::chain(&e))))?;
    let response = client.request(method.clone(), &request.url).send().await.map_err(|e| StepError::retryable(format!("{method} {} failed: {}", request.url, crate::error::chain(&e))))?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| StepError::retryable(format!("reading {}: {}", request.url, crate::error::chain(&e))))?;
    let body = String::from_utf8_lossy(&body[..body.len().min(TAIL)]).into_owned();
    let expected = match request.expect_status {
        Some(expected) => status == expected,
        None => (200..=299).contains(&status),
    };
    if !expected {
        let wanted = request.expect_status.map_or("a 2xx status".to_string(), |s| s.to_string());
        return Err(StepError::retryable(format!("{method} {} answered {status}, expected {wanted}", request.url)));
    }
    Ok(json!({ "method": method.as_str(), "url": request.url, "status": status, "body": body }))
}

/// Polls the health check until it passes; past `healthTimeoutSeconds`, the service did not
/// come up (another attempt may start it).
async fn wait_healthy(cfg: &Config, ctx: &StepContext<'_>) -> StepResult {
    let check = &cfg.health_check;
    let interval = Duration::from_secs(cfg.health_interval_seconds);
    let deadline = Instant::now() + Duration::from_secs(cfg.health_timeout_seconds);
    let mut tries = 0u32;
    loop {
        tries += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let probe = async {
            match (&check.http, &check.tcp) {
                (Some(url), _) => validation::check_http(&HttpCheck { url: url.clone(), expect_status: 200, contains: check.contains.clone() }, ctx).await,
                (None, Some(tcp)) => validation::check_tcp(tcp).await,
                (None, None) => Err(StepError::permanent("the health check names neither http nor tcp")),
            }
        };
        let last = match tokio::time::timeout(left, probe).await {
            Ok(Ok(seen)) => return Ok(json!({ "passed": true, "tries": tries, "seen": seen })),
            Ok(Err(e)) if !e.retryable => return Err(e),
            Ok(Err(e)) => e.message,
            Err(_) => "no answer before the health timeout".to_string(),
        };
        let next = Instant::now() + interval;
        while Instant::now() < next.min(deadline) {
            if ctx.cancelled() {
                return Err(StepError::permanent("cancelled while waiting for the service's health check"));
            }
            tokio::time::sleep(TICK.min(next.min(deadline).saturating_duration_since(Instant::now()))).await;
        }
        if Instant::now() >= deadline {
            return Err(StepError::retryable(format!(
                "the service's health check did not pass within {} s ({tries} tries); the last: {last}",
                cfg.health_timeout_seconds
            )));
        }
    }
}
