//! `cargo xtask scale --table-mode mrsc`: what each operation asks of DynamoDB in both table modes
//! (issue 33), measured one request at a time through the counting proxy: writes, strongly
//! consistent reads (on a multi-Region strongly consistent table each is one cross-region round
//! trip, as is each write), eventually consistent reads (local in every mode), the latency, the
//! delay the MRSC proxy's replication adds, and the DynamoDB cost per million with replicated
//! writes (an MRSC table bills each write in every replica region).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use emulator::Emulator;
use local_stack::counting_proxy::{CountingProxy, DynamoCall};
use local_stack::demo::{DEMO_ADMIN_API_KEY, DEMO_API_KEY, DEMO_INSTANCE, FACEBOOK_APP_ID};
use local_stack::mrsc_proxy::{MrscProxy, MrscSettings};
use serde_json::{json, Value};

use crate::prices;

/// One operation of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Op {
    SyncanoFirstLogin,
    RocketChatFirstLogin,
    SyncanoReturningLogin,
    RocketChatReturningLogin,
    SyncanoUser,
    RocketChatMe,
    RocketChatLogout,
    KeyReset,
    Deletion,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::SyncanoFirstLogin => "first login (Syncano)",
            Op::RocketChatFirstLogin => "first login (Rocket.Chat)",
            Op::SyncanoReturningLogin => "returning login (Syncano)",
            Op::RocketChatReturningLogin => "returning login (Rocket.Chat)",
            Op::SyncanoUser => "GET user/ (Syncano, user key)",
            Op::RocketChatMe => "GET me (Rocket.Chat, session)",
            Op::RocketChatLogout => "logout (Rocket.Chat)",
            Op::KeyReset => "key reset (Syncano, admin key)",
            Op::Deletion => "deletion (Syncano, admin key)",
        }
    }

    fn is_login(self) -> bool {
        matches!(
            self,
            Op::SyncanoFirstLogin | Op::RocketChatFirstLogin | Op::SyncanoReturningLogin | Op::RocketChatReturningLogin
        )
    }
}

/// What one mode's requests of one operation asked, summed over its samples.
#[derive(Default, Clone)]
struct Figures {
    samples: f64,
    statuses: BTreeMap<u16, usize>,
    requests: f64,
    writes: f64,
    write_units: f64,
    consistent_reads: f64,
    eventual_reads: f64,
    read_units: f64,
    /// Requests the MRSC proxy refused (transactions, TTL).
    refused: f64,
    millis: f64,
}

impl Figures {
    fn add(&mut self, status: u16, calls: &[DynamoCall], refused: u64, elapsed: Duration) {
        self.samples += 1.0;
        *self.statuses.entry(status).or_default() += 1;
        for call in calls {
            self.requests += 1.0;
            // Units from the partition keys it touched: they read `ConsistentRead` per table of a
            // `BatchGetItem` too (the call's own flag and item count are the top level's).
            let (read, write) = call.keys.iter().fold((0.0, 0.0), |(r, w), k| (r + k.reads, w + k.writes));
            let consistent = call.consistent || call.keys.iter().any(|k| k.reads >= 1.0);
            let is_write = matches!(
                call.operation.as_str(),
                "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
            );
            let is_read =
                matches!(call.operation.as_str(), "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems");
            if is_write {
                self.writes += 1.0;
            } else if is_read && consistent {
                self.consistent_reads += 1.0;
            } else if is_read {
                self.eventual_reads += 1.0;
            }
            (self.read_units, self.write_units) = (self.read_units + read, self.write_units + write);
        }
        self.refused += refused as f64;
        self.millis += elapsed.as_secs_f64() * 1000.0;
    }

    fn per(&self, x: f64) -> f64 {
        if self.samples > 0.0 {
            x / self.samples
        } else {
            0.0
        }
    }
}

/// One table mode's regions: their gateways and what counts their DynamoDB requests.
pub(crate) struct Mode<'a> {
    pub(crate) name: &'static str,
    pub(crate) bases: Vec<String>,
    pub(crate) counting: &'a CountingProxy,
    pub(crate) mrsc: Option<&'a MrscProxy>,
    /// Regions billed for each write (1: a single-region table; 3: three MRSC replicas).
    pub(crate) replicas: f64,
}

struct Probe<'a> {
    mode: &'a Mode<'a>,
    http: reqwest::Client,
    figures: BTreeMap<Op, Figures>,
}

fn refused(mrsc: Option<&MrscProxy>) -> u64 {
    mrsc.map_or(0, |p| p.all_counts().iter().map(|(_, c)| c.refused).sum())
}

impl Probe<'_> {
    /// Sends `op` to region `region` alone and records what it asked of DynamoDB.
    async fn send(
        &mut self,
        op: Op,
        region: usize,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let base = &self.mode.bases[region % self.mode.bases.len()];
        let url = format!("{base}{path}");
        let mut req = self.http.request(method, &url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.mode.counting.take();
        let refused_before = refused(self.mode.mrsc);
        let started = Instant::now();
        let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        let elapsed = started.elapsed();
        let calls = self.mode.counting.take();
        let refused = refused(self.mode.mrsc) - refused_before;
        self.figures.entry(op).or_default().add(status, &calls, refused, elapsed);
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }
}

/// Runs `samples` rounds of every operation in `mode`: each round's person signs up in one region
/// and is served in the next (a client that moved region), one request at a time.
async fn probe(mode: &Mode<'_>, emulator: &Emulator, samples: usize) -> Result<BTreeMap<Op, Figures>, String> {
    let mut p = Probe { mode, http: reqwest::Client::new(), figures: BTreeMap::new() };
    let syncano_login = format!("/v1.1/instances/{DEMO_INSTANCE}/user/auth/facebook/");
    let user = format!("/v1.1/instances/{DEMO_INSTANCE}/user/");
    let key = [("x-api-key", DEMO_API_KEY)];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let rc_login =
        |token: &str| json!({ "serviceName": "facebook", "accessToken": token, "secret": "s", "expiresIn": 3600 });
    for s in 0..samples {
        let (here, there) = (s, s + 1);
        // Syncano: sign up here, sign in there, the user here, key reset there, deletion here.
        let person = emulator.create_facebook_user(&format!("{} Probe S{s}", mode.name), None);
        let token = emulator.issue_facebook_token(&person, FACEBOOK_APP_ID, 3600);
        let body = json!({ "access_token": token });
        let post = reqwest::Method::POST;
        let (_, first) =
            p.send(Op::SyncanoFirstLogin, here, post.clone(), &syncano_login, &key, Some(body.clone())).await?;
        let (_, again) =
            p.send(Op::SyncanoReturningLogin, there, post.clone(), &syncano_login, &key, Some(body)).await?;
        let user_key = text(&again["user_key"]);
        p.send(Op::SyncanoUser, here, reqwest::Method::GET, &user, &[key[0], ("x-user-key", &user_key)], None).await?;
        let id = first["id"].as_i64().or(again["id"].as_i64()).unwrap_or(0);
        let admin = [("x-api-key", DEMO_ADMIN_API_KEY)];
        let reset = format!("/v1.1/instances/{DEMO_INSTANCE}/users/{id}/reset_key/");
        p.send(Op::KeyReset, there, post.clone(), &reset, &admin, None).await?;
        let delete = format!("/v1.1/instances/{DEMO_INSTANCE}/users/{id}/");
        p.send(Op::Deletion, here, reqwest::Method::DELETE, &delete, &admin, None).await?;

        // Rocket.Chat: sign up here, sign in there, me here, logout there.
        let person = emulator.create_facebook_user(&format!("{} Probe R{s}", mode.name), None);
        let token = emulator.issue_facebook_token(&person, FACEBOOK_APP_ID, 3600);
        p.send(Op::RocketChatFirstLogin, here, post.clone(), "/api/v1/login", &[], Some(rc_login(&token))).await?;
        let (_, session) = p
            .send(Op::RocketChatReturningLogin, there, post.clone(), "/api/v1/login", &[], Some(rc_login(&token)))
            .await?;
        let (auth, user_id) = (text(&session["data"]["authToken"]), text(&session["data"]["userId"]));
        let session = [("x-auth-token", auth.as_str()), ("x-user-id", user_id.as_str())];
        p.send(Op::RocketChatMe, here, reqwest::Method::GET, "/api/v1/me", &session, None).await?;
        p.send(Op::RocketChatLogout, there, post.clone(), "/api/v1/logout", &session, None).await?;
    }
    Ok(p.figures)
}

/// Probes every mode and prints one table per mode, then the cost per million logins.
pub(crate) async fn run_and_report(modes: &[Mode<'_>], emulator: &Emulator, samples: usize) -> Result<(), String> {
    let settings = MrscSettings::default();
    let (write_ms, read_ms) =
        (settings.write_delay.as_secs_f64() * 1000.0, settings.consistent_read_delay.as_secs_f64() * 1000.0);
    let mut all = Vec::new();
    for mode in modes {
        eprintln!(
            "== per operation: {samples} rounds of each operation on the {} table, one request at a time",
            mode.name
        );
        all.push(probe(mode, emulator, samples).await?);
    }
    println!("## Per operation, both table modes (cargo xtask scale --table-mode mrsc)\n");
    println!(
        "Each operation {samples} times, one request at a time, each round's person signing up in one region and served in the next (round-robin over the regions). DynamoDB requests per operation, as the counting proxy saw them: writes (each one cross-region round trip on MRSC, as the write is replicated before it succeeds), strongly consistent reads (one cross-region round trip each on MRSC), eventually consistent reads (local in both modes). The MRSC proxy adds {write_ms:.0} ms to each write and {read_ms:.0} ms to each strongly consistent read (about the us-east-1/us-east-2 round trip); \"added\" is that delay summed (an upper bound: writes in parallel overlap). Refused: requests the MRSC table refuses (transactions), which never reach it.\n"
    );
    for (mode, figures) in modes.iter().zip(&all) {
        println!("### {} table\n", mode.name);
        println!("| operation | answers | DynamoDB requests | writes (write units) | strongly consistent reads | eventually consistent reads | cross-region round trips | refused | latency ms (mean) | added by replication, ms | DynamoDB $ per million |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (op, f) in figures {
            let answers: Vec<String> = f.statuses.iter().map(|(s, c)| format!("{s} ×{c}")).collect();
            let cross = if mode.mrsc.is_some() { f.per(f.writes + f.consistent_reads) } else { 0.0 };
            let added = if mode.mrsc.is_some() {
                f.per(f.writes) * write_ms + f.per(f.consistent_reads) * read_ms
            } else {
                0.0
            };
            let dollars = 1e6
                * (f.per(f.read_units) * prices::DYNAMODB_READ_UNIT
                    + f.per(f.write_units) * mode.replicas * prices::DYNAMODB_REPLICATED_WRITE_UNIT);
            println!(
                "| {} | {} | {:.1} | {:.1} ({:.1}) | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.2} |",
                op.name(),
                answers.join(", "),
                f.per(f.requests),
                f.per(f.writes),
                f.per(f.write_units),
                f.per(f.consistent_reads),
                f.per(f.eventual_reads),
                cross,
                f.per(f.refused),
                f.per(f.millis),
                added,
                dollars
            );
        }
        println!();
    }
    println!("### DynamoDB cost per million logins\n");
    println!(
        "Read units at ${:.3} per million; write units at ${:.3} per million in each region that holds a replica (a single-region table: 1; MRSC: the 3 replicas of this proxy's region set; AWS prices a replicated write request unit as a write request unit and bills it in every replica's region). Half first logins, half returning, both dialects equally:\n",
        prices::DYNAMODB_READ_UNIT * 1e6,
        prices::DYNAMODB_REPLICATED_WRITE_UNIT * 1e6
    );
    println!("| table | replicas billed per write | read units per login | write units per login | DynamoDB $ per million logins |\n|---|---:|---:|---:|---:|");
    for (mode, figures) in modes.iter().zip(&all) {
        let logins: Vec<&Figures> = figures.iter().filter(|(op, _)| op.is_login()).map(|(_, f)| f).collect();
        let n = logins.len().max(1) as f64;
        let reads: f64 = logins.iter().map(|f| f.per(f.read_units)).sum::<f64>() / n;
        let writes: f64 = logins.iter().map(|f| f.per(f.write_units)).sum::<f64>() / n;
        let dollars = 1e6
            * (reads * prices::DYNAMODB_READ_UNIT + writes * mode.replicas * prices::DYNAMODB_REPLICATED_WRITE_UNIT);
        let failed = logins.iter().any(|f| f.statuses.keys().any(|s| !(200..300).contains(s)));
        let note = if failed { " (not every login answered 2xx: not what a login costs)" } else { "" };
        println!("| {} | {:.0} | {reads:.1} | {writes:.1} | {dollars:.2}{note} |", mode.name, mode.replicas);
    }
    println!();
    Ok(())
}
