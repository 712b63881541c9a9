//! `dns_update`: points names at the recovery site by replacing record sets on the zone's primary
//! server with RFC 2136 dynamic updates signed with a TSIG key (RFC 8945), over UDP.
//!
//! Each record set is read first (its previous contents go into the output, for the rollback),
//! then replaced in one update message (delete the set, add the new records: the server applies a
//! message whole or not at all, so nobody is answered with an empty set in between), then read
//! back: it counts only once the server answers with exactly the new values. A failure part-way
//! puts back the sets already replaced, so a failed step leaves the zone as it found it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hickory_net::NetError;
use hickory_net::client::{Client, ClientHandle};
use hickory_net::proto::op::{DnsRequest, ResponseCode, update_message};
use hickory_net::proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_net::proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_net::proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Problem, StepContext, StepError, StepResult};

/// Running the step again puts the same values in place; the previous values it records are
/// then the new ones, which a person sees in the run's history.
pub const IDEMPOTENT: bool = true;

const DEFAULT_TTL: u32 = 60;
const MAX_TTL: u32 = 86_400;
/// How long one query or update may wait for its answer unless `timeoutSeconds` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_TIMEOUT_SECONDS: u64 = 300;
/// The clock difference a TSIG signature tolerates (RFC 8945 recommends 300 s).
const FUDGE_SECONDS: u16 = 300;
/// A TXT value goes out in character-strings of at most 255 bytes each; a long one (a DKIM key)
/// in several.
const CHARACTER_STRING_BYTES: usize = 255;
const MAX_TXT_BYTES: usize = 4000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The zone's primary server: an IP address and port (`192.0.2.53:53`).
    pub server: String,
    /// The zone being changed, in full (`example.org.`).
    pub zone: String,
    /// The TSIG key's name as the server knows it.
    pub key_name: String,
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The Bulwark credential holding the key's secret (base64, as `keymgr`/`tsig-keygen` print it).
    pub secret: String,
    pub records: Vec<RecordConfig>,
    /// How long each query and update waits for its answer (5 s unless set).
    pub timeout_seconds: Option<u64>,
}

/// The TSIG algorithms both Knot and BIND accept and hickory can sign with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Algorithm {
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl Algorithm {
    fn tsig(self) -> TsigAlgorithm {
        match self {
            Algorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
            Algorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
        }
    }
}

/// One record set the step replaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordConfig {
    /// The owner name, in full (`db.example.org.`), inside the zone.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RecordKind,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    pub values: Vec<String>,
}

fn default_ttl() -> u32 {
    DEFAULT_TTL
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    A,
    Aaaa,
    Cname,
    Txt,
}

impl RecordKind {
    fn record_type(self) -> RecordType {
        match self {
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Cname => RecordType::CNAME,
            RecordKind::Txt => RecordType::TXT,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.record_type())
    }
}

impl Config {
    pub fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        match self.server.parse::<SocketAddr>() {
            Err(_) => problems.push(Problem::new("server", format!("`{}` is not an IP address and port, like 192.0.2.53:53", self.server))),
            Ok(address) if address.port() == 0 => problems.push(Problem::new("server", "the port cannot be 0")),
            Ok(_) => {}
        }
        let zone = match absolute_name(&self.zone) {
            Ok(zone) => Some(zone),
            Err(message) => {
                problems.push(Problem::new("zone", message));
                None
            }
        };
        if self.key_name.is_empty() || Name::from_ascii(&self.key_name).is_err() {
            problems.push(Problem::new("keyName", "must be the TSIG key's name, as the server knows it"));
        }
        if self.secret.is_empty() {
            problems.push(Problem::new("secret", "must name the credential holding the TSIG key's secret"));
        }
        if self.timeout_seconds.is_some_and(|t| !(1..=MAX_TIMEOUT_SECONDS).contains(&t)) {
            problems.push(Problem::new("timeoutSeconds", format!("must be between 1 and {MAX_TIMEOUT_SECONDS}")));
        }
        if self.records.is_empty() {
            problems.push(Problem::new("records", "needs at least one record set to change"));
        }
        for (index, record) in self.records.iter().enumerate() {
            problems.extend(record_problems(index, record, zone.as_ref()));
            problems.extend(repeated(&self.records, index));
        }
        problems
    }
}

fn record_problems(index: usize, record: &RecordConfig, zone: Option<&Name>) -> Vec<Problem> {
    let field = |part: &str| format!("records.{index}.{part}");
    let mut problems = Vec::new();
    match (absolute_name(&record.name), zone) {
        (Err(message), _) => problems.push(Problem::new(field("name"), message)),
        (Ok(name), Some(zone)) if !zone.zone_of(&name) => problems.push(Problem::new(field("name"), format!("`{name}` is outside the zone `{zone}`"))),
        _ => {}
    }
    if !(1..=MAX_TTL).contains(&record.ttl) {
        problems.push(Problem::new(field("ttl"), format!("must be between 1 and {MAX_TTL} seconds")));
    }
    if record.values.is_empty() {
        problems.push(Problem::new(field("values"), "needs at least one value"));
    }
    if record.kind == RecordKind::Cname && record.values.len() > 1 {
        problems.push(Problem::new(field("values"), "a CNAME has exactly one value"));
    }
    for (i, value) in record.values.iter().enumerate() {
        if let Err(message) = rdata(record.kind, value) {
            problems.push(Problem::new(format!("records.{index}.values.{i}"), message));
        }
    }
    problems
}

/// Two entries for one record set would record the first one's new values as the second one's
/// previous values, and a rollback would not reach the original.
fn repeated(records: &[RecordConfig], index: usize) -> Option<Problem> {
    let record = &records[index];
    let first = records[..index].iter().position(|r| r.kind == record.kind && r.name.eq_ignore_ascii_case(&record.name))?;
    Some(Problem::new(format!("records.{index}.name"), format!("{} {} is already changed by records.{first}", record.name, record.kind)))
}

/// A domain name written out in full (`db.example.org.`): a relative one would depend on an
/// origin the server does not share.
fn absolute_name(text: &str) -> Result<Name, String> {
    let name = Name::from_ascii(text).map_err(|e| format!("`{text}` is not a domain name: {e}"))?;
    if name.is_fqdn() { Ok(name) } else { Err(format!("`{text}` must be a full name ending with a dot, like `db.example.org.`")) }
}

/// A value as record data of its type.
fn rdata(kind: RecordKind, value: &str) -> Result<RData, String> {
    match kind {
        RecordKind::A => value.parse::<Ipv4Addr>().map(|ip| RData::A(A(ip))).map_err(|_| format!("`{value}` is not an IPv4 address")),
        RecordKind::Aaaa => value.parse::<Ipv6Addr>().map(|ip| RData::AAAA(AAAA(ip))).map_err(|_| format!("`{value}` is not an IPv6 address")),
        RecordKind::Cname => absolute_name(value).map(|name| RData::CNAME(CNAME(name))),
        RecordKind::Txt if value.len() > MAX_TXT_BYTES => Err(format!("a TXT value holds at most {MAX_TXT_BYTES} bytes")),
        RecordKind::Txt => {
            let mut strings: Vec<&[u8]> = value.as_bytes().chunks(CHARACTER_STRING_BYTES).collect();
            if strings.is_empty() {
                strings.push(b"");
            }
            Ok(RData::TXT(TXT::from_bytes(strings)))
        }
    }
}

/// Record data as the step writes and compares values: one spelling per value (`::1` however it
/// was written, names in lower case), so the server's answer compares equal to the config.
fn text(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(aaaa) => aaaa.0.to_string(),
        RData::CNAME(cname) => cname.0.to_lowercase().to_string(),
        // A TXT record of several character-strings reads as one value, joined.
        RData::TXT(txt) => String::from_utf8_lossy(&txt.txt_data.concat()).into_owned(),
        other => other.to_string(),
    }
}

/// A record set's contents: values sorted and without repeats, as a server holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RrSet {
    ttl: u32,
    values: Vec<String>,
}

impl RrSet {
    fn new(ttl: u32, mut values: Vec<String>) -> RrSet {
        values.sort();
        values.dedup();
        RrSet { ttl, values }
    }
}

/// A record set the step replaced, as its output records it: what it wrote and what was there
/// before (`None`: nothing, so a rollback deletes the set).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Change {
    name: String,
    #[serde(rename = "type")]
    kind: RecordKind,
    ttl: u32,
    values: Vec<String>,
    previous: Option<RrSet>,
}

/// What a rollback reads from the run's output.
#[derive(Debug, Deserialize)]
struct Recorded {
    records: Vec<Change>,
}

/// A configured record set, parsed.
struct Target {
    name: Name,
    kind: RecordKind,
    set: RrSet,
}

impl Target {
    fn parse(record: &RecordConfig) -> Result<Target, StepError> {
        let name = absolute_name(&record.name).map_err(StepError::permanent)?;
        let values: Vec<String> = record.values.iter().map(|v| rdata(record.kind, v).map(|data| text(&data))).collect::<Result<_, _>>().map_err(StepError::permanent)?;
        Ok(Target { name, kind: record.kind, set: RrSet::new(record.ttl, values) })
    }
}

pub async fn run(cfg: &Config, ctx: &StepContext<'_>) -> StepResult {
    let mut server = Server::connect(cfg, ctx).await?;
    let targets = cfg.records.iter().map(Target::parse).collect::<Result<Vec<_>, _>>()?;
    let mut done = Vec::new();
    for target in &targets {
        if let Err(error) = replace_one(&mut server, target, ctx, &mut done).await {
            return Err(put_back(&mut server, &done, error).await);
        }
    }
    Ok(json!({ "records": done, "verified": true }))
}

pub async fn roll_back(cfg: &Config, output: &Value, ctx: &StepContext<'_>) -> StepResult {
    let recorded: Recorded =
        serde_json::from_value(output.clone()).map_err(|e| StepError::permanent(format!("the step's output does not list the record sets it replaced: {e}")))?;
    let mut server = Server::connect(cfg, ctx).await?;
    restore(&mut server, &recorded.records).await?;
    let restored: Vec<Value> = recorded.records.iter().map(|c| json!({ "name": c.name, "type": c.kind, "restored": c.previous })).collect();
    Ok(json!({ "records": restored, "verified": true }))
}

/// Replaces one record set. It joins `done` as soon as the server has accepted the update, so
/// a later failure (its own read-back included) puts it back too; an update the server refused
/// changed nothing.
async fn replace_one(server: &mut Server, target: &Target, ctx: &StepContext<'_>, done: &mut Vec<Change>) -> Result<(), StepError> {
    if ctx.cancelled() {
        return Err(StepError::permanent(format!("cancelled before {} {} was replaced", target.name, target.kind)));
    }
    let previous = server.current(&target.name, target.kind).await?;
    server.replace(&target.name, target.kind, Some(&target.set)).await?;
    done.push(Change { name: target.name.to_string(), kind: target.kind, ttl: target.set.ttl, values: target.set.values.clone(), previous });
    server.confirm(&target.name, target.kind, Some(&target.set)).await
}

/// Undoes a failed run's replacements and says so in its error. When that fails too the zone is
/// half changed, and another attempt would record the half-changed sets as the previous ones:
/// then the error is permanent, for a person to look at.
async fn put_back(server: &mut Server, done: &[Change], error: StepError) -> StepError {
    if done.is_empty() {
        return error;
    }
    match restore(server, done).await {
        Ok(()) => StepError { message: format!("{}; the {} record set(s) already replaced were put back", error.message, done.len()), retryable: error.retryable },
        Err(undo) => StepError::permanent(format!("{}; putting back the record sets already replaced failed too: {}", error.message, undo.message)),
    }
}

/// Puts each change's previous record set back, the newest change first.
async fn restore(server: &mut Server, changes: &[Change]) -> Result<(), StepError> {
    for change in changes.iter().rev() {
        let name = absolute_name(&change.name).map_err(StepError::permanent)?;
        server.replace(&name, change.kind, change.previous.as_ref()).await?;
        server.confirm(&name, change.kind, change.previous.as_ref()).await?;
    }
    Ok(())
}

/// The zone's primary as the step talks to it: plain queries to read record sets, updates
/// signed with the TSIG key.
struct Server {
    address: SocketAddr,
    zone: Name,
    signer: TSigner,
    client: Client<TokioRuntimeProvider>,
}

impl Server {
    async fn connect(cfg: &Config, ctx: &StepContext<'_>) -> Result<Server, StepError> {
        if let Some(problem) = cfg.check().into_iter().next() {
            return Err(StepError::permanent(format!("{}: {}", problem.field, problem.message)));
        }
        let address: SocketAddr = cfg.server.parse().map_err(|_| StepError::permanent(format!("server: `{}` is not an IP address and port", cfg.server)))?;
        let zone = absolute_name(&cfg.zone).map_err(StepError::permanent)?;
        let signer = signer(cfg, ctx).await?;
        let timeout = cfg.timeout_seconds.map_or(DEFAULT_TIMEOUT, Duration::from_secs).min(ctx.timeout);
        let stream = UdpClientStream::builder(address, TokioRuntimeProvider::default()).with_timeout(Some(timeout)).build();
        let (client, exchange) = Client::<TokioRuntimeProvider>::from_sender(stream);
        // The exchange carries requests out and answers back; it ends once the client is dropped.
        tokio::spawn(exchange);
        Ok(Server { address, zone, signer, client })
    }

    /// The record set the server holds now, or `None`.
    async fn current(&mut self, name: &Name, kind: RecordKind) -> Result<Option<RrSet>, StepError> {
        let what = format!("the query for {name} {kind}");
        let response = self.client.query(name.clone(), DNSClass::IN, kind.record_type()).await.map_err(|e| self.no_answer(&what, e))?;
        match response.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            code => return Err(refused(&what, code, None)),
        }
        // An alias at the name answers with its CNAME: that is not the record set asked for.
        let records: Vec<&Record> = response.answers.iter().filter(|r| r.name == *name && r.record_type() == kind.record_type()).collect();
        let Some(first) = records.first() else { return Ok(None) };
        Ok(Some(RrSet::new(first.ttl, records.iter().map(|r| text(&r.data)).collect())))
    }

    /// Replaces the record set with `set`, or deletes it for `None`, in one signed update.
    async fn replace(&mut self, name: &Name, kind: RecordKind, set: Option<&RrSet>) -> Result<(), StepError> {
        let what = format!("the update of {name} {kind}");
        let mut message = update_message::delete_rrset(Record::update0(name.clone(), 0, kind.record_type()), self.zone.clone(), true);
        if let Some(set) = set {
            for value in &set.values {
                let data = rdata(kind, value).map_err(StepError::permanent)?;
                message.add_authority(Record::from_rdata(name.clone(), set.ttl, data));
            }
        }
        // Signed here rather than by the stream, so a refusal of the key reaches us as the
        // server's answer (NOTAUTH with BADSIG) instead of a failure to check its signature.
        let signed = message.finalize(&self.signer, unix_now()).map_err(|e| StepError::permanent(format!("cannot sign {what}: {e}")))?;
        let Some(mut verifier) = signed else {
            return Err(StepError::permanent(format!("cannot sign {what}: no way to check the answer's signature")));
        };
        let response = self.client.send(DnsRequest::from(message)).first_answer().await.map_err(|e| self.no_answer(&what, e))?;
        let code = response.metadata.response_code;
        let tsig_error = response.signature().and_then(|tsig| tsig.data.error);
        if code != ResponseCode::NoError || tsig_error.is_some() {
            return Err(refused(&what, code, tsig_error));
        }
        // Only a success signed with our key counts: anyone on the path can send an unsigned one.
        verifier
            .verify(response.as_buffer())
            .map_err(|e| StepError::permanent(format!("the answer to {what} is not signed with key {}: {e}", self.signer.signer_name())))?;
        Ok(())
    }

    /// Reads the record set back: an update counts once the server answers with its values.
    async fn confirm(&mut self, name: &Name, kind: RecordKind, expected: Option<&RrSet>) -> Result<(), StepError> {
        let found = self.current(name, kind).await?;
        if found.as_ref().map(|s| &s.values) == expected.map(|s| &s.values) {
            return Ok(());
        }
        Err(StepError::permanent(format!(
            "after the update {} answers {name} {kind} with {} instead of {}",
            self.address,
            shown(found.as_ref()),
            shown(expected)
        )))
    }

    /// No answer, or none that could be read: the server may be restarting, so worth another try.
    fn no_answer(&self, what: &str, error: NetError) -> StepError {
        StepError::retryable(format!("{what}: no answer from {}: {error}", self.address))
    }
}

async fn signer(cfg: &Config, ctx: &StepContext<'_>) -> Result<TSigner, StepError> {
    let secret = ctx.secrets.secret(&cfg.secret).await?;
    let key = B64
        .decode(secret.trim())
        .map_err(|_| StepError::permanent(format!("the credential {:?} does not hold a base64 TSIG secret", cfg.secret)))?;
    let key_name = Name::from_ascii(&cfg.key_name).map_err(|e| StepError::permanent(format!("keyName: {e}")))?;
    TSigner::new(key, cfg.algorithm.tsig(), key_name, FUDGE_SECONDS)
        .map_err(|e| StepError::permanent(format!("cannot sign with key {:?}: {e}", cfg.key_name)))
}

/// A refusal names the server's code (and the TSIG error, for a refused key). Only a server
/// failure may go differently next time; a refused key, a zone the server does not serve or a
/// malformed update will not.
fn refused(what: &str, code: ResponseCode, tsig_error: Option<TsigError>) -> StepError {
    let mut reason = format!("{} ({code})", upper_case(code));
    if let Some(tsig_error) = tsig_error {
        reason = format!("{reason}, TSIG {}", upper_case(tsig_error));
    }
    let message = format!("the DNS server refused {what}: {reason}");
    if code == ResponseCode::ServFail { StepError::retryable(message) } else { StepError::permanent(message) }
}

/// A code as the RFCs spell it (`NOTAUTH`, `BADSIG`).
fn upper_case(code: impl fmt::Debug) -> String {
    format!("{code:?}").to_uppercase()
}

fn shown(set: Option<&RrSet>) -> String {
    set.map_or_else(|| "nothing".to_string(), |s| s.values.join(", "))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_the_way_they_are_written() {
        for (kind, written, read) in [
            (RecordKind::A, "127.0.0.2", "127.0.0.2"),
            (RecordKind::Aaaa, "2001:db8:0:0::1", "2001:db8::1"),
            (RecordKind::Cname, "Standby.Example.ORG.", "standby.example.org."),
            (RecordKind::Txt, "v=failover", "v=failover"),
            (RecordKind::Txt, "", ""),
        ] {
            assert_eq!(text(&rdata(kind, written).unwrap()), read, "{kind} {written}");
        }
        let long = "é".repeat(200);
        assert_eq!(text(&rdata(RecordKind::Txt, &long).unwrap()), long, "split across character-strings and joined again");
        assert!(rdata(RecordKind::Txt, &"x".repeat(MAX_TXT_BYTES + 1)).is_err());
        assert!(rdata(RecordKind::Cname, "standby").is_err(), "a relative name");
    }
}
