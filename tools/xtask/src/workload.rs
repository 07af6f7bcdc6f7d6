//! The scale simulation's workload: the mix of application requests (`Kind`), the simulated
//! people and the requests each kind sends, from a deterministic generator (the same seed, the
//! same workload).

use emulator::Emulator;
use local_stack::demo::{DEMO_API_KEY, DEMO_INSTANCE};
use serde_json::{json, Value};

use crate::scale::Options;

/// A small deterministic generator (xorshift64*): the same seed, the same workload.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One application request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    SyncanoFirstLogin,
    RocketChatFirstLogin,
    SyncanoLogin,
    RocketChatLogin,
    RejectedLogin,
    SyncanoCurrentUser,
    RocketChatMe,
    SyncanoAuthorizer,
    RocketChatAuthorizer,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::SyncanoFirstLogin => "Syncano first login",
            Kind::RocketChatFirstLogin => "Rocket.Chat first login",
            Kind::SyncanoLogin => "Syncano returning login",
            Kind::RocketChatLogin => "Rocket.Chat returning login",
            Kind::RejectedLogin => "Syncano login with another app's token (401)",
            Kind::SyncanoCurrentUser => "Syncano GET user/",
            Kind::RocketChatMe => "Rocket.Chat GET me",
            Kind::SyncanoAuthorizer => "an app route behind the Syncano authorizer",
            Kind::RocketChatAuthorizer => "an app route behind the Rocket.Chat authorizer",
        }
    }

    /// The route API Gateway matches (its access log's `routeKey`).
    pub(crate) fn route_key(self) -> &'static str {
        match self {
            Kind::SyncanoFirstLogin | Kind::SyncanoLogin | Kind::RejectedLogin => {
                "POST /v1.1/instances/{instance}/user/auth/facebook/"
            }
            Kind::RocketChatFirstLogin | Kind::RocketChatLogin => "POST /api/v1/login",
            Kind::SyncanoCurrentUser => "GET /v1.1/instances/{instance}/user/",
            Kind::RocketChatMe => "GET /api/v1/me",
            Kind::SyncanoAuthorizer => "GET /v1.1/instances/{instance}/test/syncano-only/",
            Kind::RocketChatAuthorizer => "GET /test/rocketchat-only",
        }
    }

    pub(crate) const ALL: [Kind; 9] = [
        Kind::SyncanoFirstLogin,
        Kind::RocketChatFirstLogin,
        Kind::SyncanoLogin,
        Kind::RocketChatLogin,
        Kind::RejectedLogin,
        Kind::SyncanoCurrentUser,
        Kind::RocketChatMe,
        Kind::SyncanoAuthorizer,
        Kind::RocketChatAuthorizer,
    ];

    /// The rest of the mix after first logins and rejections, by weight.
    const REST: [(Kind, u32); 6] = [
        (Kind::SyncanoLogin, 30),
        (Kind::RocketChatLogin, 20),
        (Kind::SyncanoCurrentUser, 15),
        (Kind::RocketChatMe, 15),
        (Kind::SyncanoAuthorizer, 10),
        (Kind::RocketChatAuthorizer, 10),
    ];

    pub(crate) fn pick(rng: &mut Rng, o: &Options) -> Kind {
        let u = rng.unit();
        if u < o.first_logins {
            return if rng.below(2) == 0 { Kind::SyncanoFirstLogin } else { Kind::RocketChatFirstLogin };
        }
        if u < o.first_logins + o.rejected {
            return Kind::RejectedLogin;
        }
        let total: u32 = Kind::REST.iter().map(|(_, w)| w).sum();
        let mut n = rng.below(total as usize) as u32;
        for (kind, w) in Kind::REST {
            if n < w {
                return kind;
            }
            n -= w;
        }
        Kind::SyncanoLogin
    }
}

/// A person who signed in: their Facebook token, Syncano user key and Rocket.Chat session.
#[derive(Clone)]
pub(crate) struct Person {
    pub(crate) token: String,
    pub(crate) user_key: String,
    pub(crate) session: (String, String),
}

pub(crate) struct World {
    pub(crate) emulator: Emulator,
    pub(crate) bases: Vec<String>,
    pub(crate) clients: Vec<reqwest::Client>,
}

impl World {
    pub(crate) async fn send(&self, env: usize, client: usize, req: Request) -> Result<(u16, Value), String> {
        let (status, body, _) = self.send_measured(env, client, req).await?;
        Ok((status, body))
    }

    /// As [`World::send`], also the answer's length in bytes.
    pub(crate) async fn send_measured(
        &self,
        env: usize,
        client: usize,
        req: Request,
    ) -> Result<(u16, Value, usize), String> {
        let http = &self.clients[client];
        let url = format!("{}{}", self.bases[env], req.path);
        let mut builder = if req.body.is_some() { http.post(&url) } else { http.get(&url) };
        for (k, v) in &req.headers {
            builder = builder.header(*k, v);
        }
        if let Some(body) = req.body {
            builder = builder.json(&body);
        }
        let resp = builder.send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), bytes.len()))
    }

    pub(crate) fn new_person(&self, n: usize) -> String {
        self.emulator.create_facebook_user(&format!("Person {n}"), None)
    }
}

pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
}

pub(crate) fn syncano_login(token: &str) -> Request {
    Request {
        path: format!("/v1.1/instances/{DEMO_INSTANCE}/user/auth/facebook/"),
        headers: vec![("x-api-key", DEMO_API_KEY.into())],
        body: Some(json!({ "access_token": token })),
    }
}

pub(crate) fn rocketchat_login(token: &str) -> Request {
    Request {
        path: "/api/v1/login".into(),
        headers: Vec::new(),
        body: Some(json!({ "serviceName": "facebook", "accessToken": token, "secret": "s", "expiresIn": 3600 })),
    }
}

pub(crate) fn request(kind: Kind, person: &Person, token: &str) -> Request {
    let user_key = || vec![("x-api-key", DEMO_API_KEY.to_string()), ("x-user-key", person.user_key.clone())];
    let session = || vec![("x-auth-token", person.session.0.clone()), ("x-user-id", person.session.1.clone())];
    match kind {
        Kind::SyncanoFirstLogin | Kind::SyncanoLogin => syncano_login(token),
        Kind::RocketChatFirstLogin | Kind::RocketChatLogin => rocketchat_login(token),
        Kind::RejectedLogin => syncano_login(token),
        Kind::SyncanoCurrentUser => {
            Request { path: format!("/v1.1/instances/{DEMO_INSTANCE}/user/"), headers: user_key(), body: None }
        }
        Kind::RocketChatMe => Request { path: "/api/v1/me".into(), headers: session(), body: None },
        Kind::SyncanoAuthorizer => {
            Request { path: local_stack::gateway::syncano_only(DEMO_INSTANCE), headers: user_key(), body: None }
        }
        Kind::RocketChatAuthorizer => {
            Request { path: local_stack::gateway::ROCKETCHAT_ONLY.into(), headers: session(), body: None }
        }
    }
}
