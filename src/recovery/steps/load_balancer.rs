//! `load_balancer_config`: moves traffic between the servers of an HAProxy backend through
//! HAProxy's runtime API on its admin socket (drain the failed site's server, ready the
//! standby's, set weights), then reads every server back.
//!
//! The runtime API is a line protocol, one command per connection: write `cmd\n`, read to EOF.
//! `set server` answers nothing when it worked and a sentence ("No such server.") when not.
//! Backend and server names go into those lines, so they are kept to HAProxy's own name
//! alphabet: no name a runbook holds can end a command and start another (`;` and newlines
//! separate commands) or add a word to one.
//!
//! A server's `state` here is its *forced* admin state, the one `set server … state` sets and
//! clears; maintenance HAProxy itself imposes (inherited from a tracked server, a failed DNS
//! resolution) is not the step's to lift.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::{Problem, StepContext, StepError, StepResult};

/// Setting a server to the state and weight it already has changes nothing, so running the
/// step again after a node died inside it ends the same way.
pub const IDEMPOTENT: bool = true;

/// How long one runtime API command may take when the runbook does not say: HAProxy answers in
/// milliseconds, so a socket silent for this long belongs to a stuck process.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_TIMEOUT_SECONDS: u64 = 300;
/// HAProxy's range for `set server … weight`.
const MAX_WEIGHT: u32 = 256;
/// A Unix socket address holds at most this many bytes of path (`sun_path` is 108 with its NUL).
const MAX_SOCKET_PATH: usize = 107;
/// Bits of `srv_admin_state` in `show servers state` (HAProxy's `enum srv_admin`): the forced
/// maintenance and forced drain that `set server … state` sets and clears.
const FORCED_MAINT: u32 = 0x01;
const FORCED_DRAIN: u32 = 0x08;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// HAProxy's admin socket (`stats socket … level admin`), an absolute path.
    pub socket: PathBuf,
    pub backend: String,
    pub servers: Vec<ServerChange>,
    /// How long each runtime API command may take; 5 s unless set.
    pub timeout_seconds: Option<u64>,
}

/// What one server of the backend becomes; a field left out keeps the server's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerChange {
    pub name: String,
    pub state: Option<AdminState>,
    pub weight: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminState {
    Ready,
    Drain,
    Maint,
}

impl AdminState {
    fn as_str(self) -> &'static str {
        match self {
            AdminState::Ready => "ready",
            AdminState::Drain => "drain",
            AdminState::Maint => "maint",
        }
    }

    fn from_bits(bits: u32) -> AdminState {
        if bits & FORCED_MAINT != 0 {
            AdminState::Maint
        } else if bits & FORCED_DRAIN != 0 {
            AdminState::Drain
        } else {
            AdminState::Ready
        }
    }
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if !self.socket.is_absolute() {
            problems.push(Problem::new("socket", "must be an absolute path, such as /run/haproxy/admin.sock"));
        } else if self.socket.as_os_str().len() > MAX_SOCKET_PATH {
            problems.push(Problem::new("socket", format!("must be at most {MAX_SOCKET_PATH} bytes long (a Unix socket's limit)")));
        }
        if let Some(problem) = name_problem(&self.backend) {
            problems.push(Problem::new("backend", problem));
        }
        if self.servers.is_empty() {
            problems.push(Problem::new("servers", "must name at least one server"));
        }
        for (i, server) in self.servers.iter().enumerate() {
            problems.extend(server.check(&format!("servers.{i}")));
            // Two entries for one server would record the first one's change as the second's
            // previous setting, and a rollback would stop there.
            if let Some(first) = self.servers[..i].iter().position(|other| other.name == server.name) {
                problems.push(Problem::new(format!("servers.{i}.name"), format!("is the same server as servers.{first}")));
            }
        }
        if self.timeout_seconds.is_some_and(|seconds| !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds)) {
            problems.push(Problem::new("timeoutSeconds", format!("must be between 1 and {MAX_TIMEOUT_SECONDS}")));
        }
        problems
    }

    /// Each command's limit: the runbook's, never past the step's own timeout.
    fn command_timeout(&self, ctx: &StepContext<'_>) -> Duration {
        self.timeout_seconds.map_or(DEFAULT_TIMEOUT, Duration::from_secs).min(ctx.timeout)
    }
}

impl ServerChange {
    fn check(&self, at: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(problem) = name_problem(&self.name) {
            problems.push(Problem::new(format!("{at}.name"), problem));
        }
        if self.state.is_none() && self.weight.is_none() {
            problems.push(Problem::new(at, "needs a state (ready, drain or maint), a weight, or both"));
        }
        if self.weight.is_some_and(|weight| weight > MAX_WEIGHT) {
            problems.push(Problem::new(format!("{at}.weight"), format!("must be between 0 and {MAX_WEIGHT} (HAProxy's weights)")));
        }
        problems
    }
}

/// HAProxy's own alphabet for backend and server names; anything else could carry a space,
/// a `;` or a newline into a runtime API command.
fn name_problem(name: &str) -> Option<&'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
    if name.is_empty() {
        Some("must not be empty")
    } else if !name.chars().all(allowed) {
        Some("may hold only letters, digits and _ . : - (HAProxy's names)")
    } else {
        None
    }
}

/// Records each server's setting, sets the new ones and reads them back; a failure puts back
/// what had changed.
pub async fn run(cfg: &Config, ctx: &StepContext<'_>) -> StepResult {
    let api = Api { socket: &cfg.socket, limit: cfg.command_timeout(ctx) };
    let changes = plan(&api, &cfg.backend, &cfg.servers).await?;
    if let Err(error) = apply_and_verify(&api, &cfg.backend, &changes).await {
        return Err(undo(&api, &cfg.backend, &changes, error).await);
    }
    Ok(report(&cfg.backend, &changes))
}

/// Sets each server the step changed back to its `previous` setting (on the socket of `cfg`,
/// the backend of `output`) and reads them back.
pub async fn roll_back(cfg: &Config, output: &Value, ctx: &StepContext<'_>) -> StepResult {
    let done: Done = serde_json::from_value(output.clone())
        .map_err(|e| StepError::permanent(format!("the step's output does not say what the servers were before it: {e}")))?;
    let wanted: Vec<ServerChange> = done
        .servers
        .into_iter()
        .map(|server| ServerChange { name: server.name, state: Some(server.previous.state), weight: Some(server.previous.weight) })
        .collect();
    let api = Api { socket: &cfg.socket, limit: cfg.command_timeout(ctx) };
    let changes = plan(&api, &done.backend, &wanted).await?;
    apply_and_verify(&api, &done.backend, &changes).await?;
    Ok(report(&done.backend, &changes))
}

/// What `roll_back` reads from the step's output: each server's setting before the step.
#[derive(Deserialize)]
struct Done {
    backend: String,
    servers: Vec<DoneServer>,
}

#[derive(Deserialize)]
struct DoneServer {
    name: String,
    previous: Setting,
}

/// A server's forced admin state and weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Setting {
    state: AdminState,
    weight: u32,
}

impl Setting {
    fn serves(self) -> bool {
        self.state == AdminState::Ready && self.weight > 0
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} with weight {}", self.state.as_str(), self.weight)
    }
}

/// One server's move from what HAProxy had to what the step wants.
struct Change {
    name: String,
    from: Setting,
    to: Setting,
}

impl Change {
    fn reversed(&self) -> Change {
        Change { name: self.name.clone(), from: self.to, to: self.from }
    }
}

/// Reads the backend's servers and works out what each of `wanted` becomes. A name HAProxy does
/// not know fails the step before anything has changed.
async fn plan(api: &Api<'_>, backend: &str, wanted: &[ServerChange]) -> Result<Vec<Change>, StepError> {
    // `check` refused such names when the plan was saved; refusing them again where they meet
    // the protocol also covers a step output edited since.
    protocol_name("backend", backend)?;
    for server in wanted {
        protocol_name("server", &server.name)?;
    }
    let current = api.servers(backend).await?;
    wanted
        .iter()
        .map(|server| {
            let from = setting_of(&current, backend, &server.name)?;
            let to = Setting { state: server.state.unwrap_or(from.state), weight: server.weight.unwrap_or(from.weight) };
            Ok(Change { name: server.name.clone(), from, to })
        })
        .collect()
}

fn protocol_name(what: &str, name: &str) -> Result<(), StepError> {
    match name_problem(name) {
        None => Ok(()),
        Some(problem) => Err(StepError::permanent(format!("the {what} name {name:?} {problem}"))),
    }
}

fn setting_of(servers: &HashMap<String, Setting>, backend: &str, name: &str) -> Result<Setting, StepError> {
    servers
        .get(name)
        .copied()
        .ok_or_else(|| StepError::permanent(format!("HAProxy's backend {backend} has no server {name}")))
}

/// Sets every server, those that will take traffic first so the backend is never left without
/// one in between, then reads them all back.
async fn apply_and_verify(api: &Api<'_>, backend: &str, changes: &[Change]) -> Result<(), StepError> {
    let mut order: Vec<&Change> = changes.iter().collect();
    order.sort_by_key(|change| !change.to.serves());
    for change in order {
        set_server(api, backend, change).await?;
    }
    verify(api, backend, changes).await
}

/// Weight before state: a server coming into service takes its new share from its first
/// request, and one leaving it is already light when it is drained.
async fn set_server(api: &Api<'_>, backend: &str, change: &Change) -> Result<(), StepError> {
    let server = format!("{backend}/{}", change.name);
    if change.to.weight != change.from.weight {
        api.set(&format!("set server {server} weight {}", change.to.weight)).await?;
    }
    if change.to.state != change.from.state {
        api.set(&format!("set server {server} state {}", change.to.state.as_str())).await?;
    }
    Ok(())
}

/// HAProxy answered each command; this checks that what it now holds is what was asked.
async fn verify(api: &Api<'_>, backend: &str, changes: &[Change]) -> Result<(), StepError> {
    let now = api.servers(backend).await?;
    for change in changes {
        let found = setting_of(&now, backend, &change.name)?;
        if found != change.to {
            return Err(StepError::permanent(format!(
                "HAProxy reports {backend}/{} as {found} after the change, not {}",
                change.name, change.to
            )));
        }
    }
    Ok(())
}

/// After a failed run: puts every server back as `plan` found it, so the step leaves no half
/// change behind (it has no output, so nothing would roll it back). When that fails too the
/// backend is half changed and a person must look: the error is then permanent whatever its
/// cause.
async fn undo(api: &Api<'_>, backend: &str, changes: &[Change], error: StepError) -> StepError {
    let back: Vec<Change> = changes.iter().map(Change::reversed).collect();
    match apply_and_verify(api, backend, &back).await {
        Ok(()) => StepError { message: format!("{error}; every server was put back as it was"), retryable: error.retryable },
        Err(e) => StepError::permanent(format!("{error}; putting the servers back failed too: {e}")),
    }
}

/// The step's output: each server's setting now and before (what `roll_back` puts back).
fn report(backend: &str, changes: &[Change]) -> Value {
    let servers: Vec<Value> = changes
        .iter()
        .map(|change| json!({ "name": change.name, "state": change.to.state, "weight": change.to.weight, "previous": change.from }))
        .collect();
    json!({ "backend": backend, "servers": servers })
}

/// HAProxy's runtime API on one admin socket.
struct Api<'a> {
    socket: &'a Path,
    /// How long one command may take, connecting included.
    limit: Duration,
}

impl Api<'_> {
    /// Each server of `backend` with its setting (`show servers state`).
    async fn servers(&self, backend: &str) -> Result<HashMap<String, Setting>, StepError> {
        let command = format!("show servers state {backend}");
        let reply = self.ask(&command).await?;
        // An unknown backend is answered with a sentence instead of the table.
        parse_servers_state(&reply).ok_or_else(|| StepError::permanent(format!("HAProxy answered `{command}` with: {}", reply.trim())))
    }

    /// Runs a command that answers nothing when it worked (`set server …`): any answer is
    /// HAProxy's refusal ("No such server.", "Permission denied"), the same on every try.
    async fn set(&self, command: &str) -> Result<(), StepError> {
        let reply = self.ask(command).await?;
        match reply.trim() {
            "" => Ok(()),
            refusal => Err(StepError::permanent(format!("HAProxy refused `{command}`: {refusal}"))),
        }
    }

    /// Sends one command and returns HAProxy's whole reply.
    async fn ask(&self, command: &str) -> Result<String, StepError> {
        match tokio::time::timeout(self.limit, self.exchange(command)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(self.unreachable(command, e)),
            Err(_) => Err(StepError::retryable(format!(
                "HAProxy's runtime API at {} did not answer `{command}` within {:?}",
                self.socket.display(),
                self.limit
            ))),
        }
    }

    async fn exchange(&self, command: &str) -> std::io::Result<String> {
        let mut stream = UnixStream::connect(self.socket).await?;
        stream.write_all(format!("{command}\n").as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok(String::from_utf8_lossy(&reply).into_owned())
    }

    /// A socket that cannot be reached may be HAProxy restarting: worth another try. One this
    /// process may not open stays that way until a person changes its owner or mode.
    fn unreachable(&self, command: &str, e: std::io::Error) -> StepError {
        let message = format!("cannot send `{command}` to HAProxy's runtime API at {}: {e}", self.socket.display());
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            StepError::permanent(message)
        } else {
            StepError::retryable(message)
        }
    }
}

/// Reads `show servers state`: a version line, a `# ` header naming the columns, then a row a
/// server. Columns are found by name, as newer versions add some.
fn parse_servers_state(reply: &str) -> Option<HashMap<String, Setting>> {
    let mut lines = reply.lines();
    let columns: Vec<&str> = lines.find_map(|line| line.strip_prefix("# "))?.split_whitespace().collect();
    let column = |name: &str| columns.iter().position(|c| *c == name);
    let (name_at, admin_at, weight_at) = (column("srv_name")?, column("srv_admin_state")?, column("srv_uweight")?);
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let bits: u32 = fields.get(admin_at)?.parse().ok()?;
            let setting = Setting { state: AdminState::from_bits(bits), weight: fields.get(weight_at)?.parse().ok()? };
            Some((fields.get(name_at)?.to_string(), setting))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HAProxy 2.6's reply with one server serving and one started `disabled` (config and
    /// forced maintenance, 0x04 | 0x01) and then drained.
    const STATE: &str = "1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 app 1 primary 127.0.0.1 2 8 100 100 0 6 3 4 6 0 0 0 - 18081 - 0 0 - - 0
3 app 2 dr 127.0.0.1 0 5 25 100 1 1 0 0 14 0 0 0 - 18082 - 0 0 - - 0

";

    #[test]
    fn reads_each_servers_forced_state_and_weight() {
        let servers = parse_servers_state(STATE).unwrap();
        assert_eq!(servers.len(), 2);
        assert_eq!(servers["primary"], Setting { state: AdminState::Drain, weight: 100 });
        assert_eq!(servers["dr"], Setting { state: AdminState::Maint, weight: 25 });
        // Config maintenance alone (`disabled`, then `set server … state ready`) serves.
        assert_eq!(AdminState::from_bits(0x04), AdminState::Ready);
    }

    #[test]
    fn a_sentence_instead_of_the_table_is_not_read_as_servers() {
        assert_eq!(parse_servers_state("Can't find backend.\n\n"), None);
    }
}
