//! The benchmark's cases: each function with a real event from `events/`, prepared in process
//! so that the measured logins are returning ones and the sessions the follow-ups need exist.
//! What a run uses up (a first login's person, the session `logout` ends, the user key
//! `reset-key` replaces) is made anew for each run, in every setting.

use std::collections::HashMap;
use std::path::PathBuf;

use emulator::Emulator;
use local_stack::demo::{self, FACEBOOK_APP_ID};
use local_stack::Handler;
use serde_json::{json, Value};

use crate::bench::{is_login, step, BenchError};
use crate::options::{FLOOR, PEER, SDK_FLOOR};

/// One benchmark case: a function and the event it is measured with.
pub struct Case {
    pub function: String,
    pub name: &'static str,
    pub event: Event,
}

/// The event a case is measured with.
pub enum Event {
    /// The same file in every run.
    File(PathBuf),
    /// A person the emulator has just created, so that every cold invoke is a first login.
    FirstLogin,
    /// A Rocket.Chat session opened just before the run (`logout` ends it).
    LiveSession,
    /// The sample Syncano user's key as it is just before the run (`reset-key` replaces it).
    CurrentUserKey,
}

/// The events of a case's runs.
pub enum RunEvents {
    /// One file, for every run (it uses nothing up).
    Same(PathBuf),
    /// One file per run, each used once.
    Each(Vec<PathBuf>),
}

impl Case {
    fn new(function: &str, name: &'static str, event: Event) -> Case {
        Case { function: function.to_owned(), name, event }
    }
}

pub struct Events<'a> {
    pub root: PathBuf,
    pub scratch: PathBuf,
    pub handlers: HashMap<String, Handler>,
    pub emulator: &'a Emulator,
    /// People created for first logins so far (each gets a name of its own).
    pub people: std::sync::atomic::AtomicU32,
    /// Event files made for single runs so far (each gets a file of its own).
    pub made: std::sync::atomic::AtomicU32,
}

impl Events<'_> {
    fn sample(&self, path: &str) -> Result<Value, BenchError> {
        let text = std::fs::read_to_string(self.root.join(path)).map_err(|e| step(path)(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| step(path)(e.to_string()))
    }

    /// The sample at `path` with a Rocket.Chat session's headers.
    fn with_session(&self, path: &str, token: &Value, user_id: &Value) -> Result<Value, BenchError> {
        let mut event = self.sample(path)?;
        event["headers"]["x-auth-token"] = token.clone();
        event["headers"]["x-user-id"] = user_id.clone();
        Ok(event)
    }

    fn write(&self, name: &str, event: &Value) -> Result<PathBuf, BenchError> {
        let path = self.scratch.join(format!("{name}.json"));
        std::fs::write(&path, event.to_string()).map_err(|e| step(name)(e.to_string()))?;
        Ok(path)
    }

    /// Runs `event` through `function` in process; returns its status and JSON body.
    async fn invoke(&self, function: &str, event: &Value) -> Result<(u16, Value), BenchError> {
        let handler = self.handlers.get(function).ok_or_else(|| step(function)("no such function".into()))?;
        let req = lambda_http::request::from_str(&event.to_string()).map_err(|e| step(function)(e.to_string()))?;
        let resp = handler(req).await;
        Ok((resp.status().as_u16(), serde_json::from_slice(resp.body()).unwrap_or_default()))
    }

    /// The cases; the sample users log in once first, so the measured logins are returning
    /// ones, and the session and user key the follow-up functions need exist.
    pub async fn prepare(&self, functions: &[String]) -> Result<Vec<Case>, BenchError> {
        let any = self.root.join("events/facebook-login/200-success.json");
        let mut cases = vec![
            Case::new(FLOOR, "any event", Event::File(any.clone())),
            Case::new(SDK_FLOOR, "GetItem", Event::File(any)),
        ];
        for function in functions.iter().map(String::as_str).filter(|f| is_login(f)) {
            let path = format!("events/{function}/200-success.json");
            let (status, body) = self.invoke(function, &self.sample(&path)?).await?;
            if status != 200 {
                return Err(step(format!("{function}: first login of the sample user"))(body.to_string()));
            }
            cases.push(Case::new(function, "returning user", Event::File(self.root.join(&path))));
            if function == "facebook-login" {
                // The Node peer does the same returning login with the same event.
                cases.push(Case::new(PEER, "returning user", Event::File(self.root.join(&path))));
            }
            if matches!(function, "facebook-login" | "login") {
                cases.push(Case::new(function, "first login", Event::FirstLogin));
            }
        }
        let (token, rc_user) = self.rocketchat_session().await?;
        let me = self.with_session("events/me/401-unknown-session.json", &token, &rc_user)?;
        cases.push(Case::new("me", "live session", Event::File(self.write("me", &me)?)));
        cases.push(Case::new("logout", "cold: live session", Event::LiveSession));
        cases.push(Case::new("current-user", "valid user key", Event::CurrentUserKey));

        let (_, user) = self.invoke("facebook-login", &self.sample("events/facebook-login/200-success.json")?).await?;
        let id = user["id"].to_string();
        let mut reset = self.sample("events/reset-key/404-unknown-user.json")?;
        let raw_path = format!("/v1.1/instances/{}/users/{id}/reset_key/", demo::DEMO_INSTANCE);
        reset["pathParameters"]["id"] = json!(id);
        reset["rawPath"] = json!(raw_path);
        reset["requestContext"]["http"]["path"] = json!(raw_path);
        cases.push(Case::new("reset-key", "existing user", Event::File(self.write("reset-key", &reset)?)));
        cases.push(Case::new(
            "syncano-fallback",
            "wrong method",
            Event::File(self.root.join("events/syncano-fallback/405-wrong-method.json")),
        ));

        let mut allow =
            self.with_session("events/rocketchat-authorizer/deny-unknown-session.json", &token, &rc_user)?;
        allow["identitySource"] = json!([token, rc_user]);
        let allow_path = self.write("rocketchat-authorizer", &allow)?;
        cases.push(Case::new("rocketchat-authorizer", "live session", Event::File(allow_path)));
        Ok(cases)
    }

    /// A new session of the sample Rocket.Chat user: its token and user id.
    async fn rocketchat_session(&self) -> Result<(Value, Value), BenchError> {
        let (status, rc) = self.invoke("login", &self.sample("events/login/200-success.json")?).await?;
        if status != 200 {
            return Err(step("login: a session of the sample user")(rc.to_string()));
        }
        Ok((rc["data"]["authToken"].clone(), rc["data"]["userId"].clone()))
    }

    /// The event files of `case`'s `repeat` runs: its one file for every run, or one made anew per
    /// run for what a run uses up. Made before the runs, so that the round trips counted during
    /// them are the measured function's only.
    pub async fn for_runs(&self, case: &Case, repeat: u32) -> Result<RunEvents, BenchError> {
        let mut files = Vec::new();
        for _ in 0..repeat {
            files.push(match &case.event {
                Event::File(path) => return Ok(RunEvents::Same(path.clone())),
                Event::FirstLogin => self.first_login(&case.function)?,
                Event::LiveSession => {
                    let (token, user) = self.rocketchat_session().await?;
                    let logout = self.with_session("events/logout/401-unknown-session.json", &token, &user)?;
                    self.write(&format!("logout-{}", self.next_file()), &logout)?
                }
                Event::CurrentUserKey => {
                    let sample = self.sample("events/facebook-login/200-success.json")?;
                    let (status, user) = self.invoke("facebook-login", &sample).await?;
                    if status != 200 {
                        return Err(step("facebook-login: the sample user's key")(user.to_string()));
                    }
                    let mut current = self.sample("events/current-user/403-wrong-user-key.json")?;
                    current["headers"]["x-user-key"] = user["user_key"].clone();
                    self.write(&format!("current-user-{}", self.next_file()), &current)?
                }
            });
        }
        Ok(RunEvents::Each(files))
    }

    /// A number for the name of a file made for one run.
    fn next_file(&self) -> u32 {
        self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A first-login event of `function` for a person the emulator has just created.
    fn first_login(&self, function: &str) -> Result<PathBuf, BenchError> {
        // A name of its own, so the username is free (no suffix to try).
        let n = self.people.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let person = self.emulator.create_facebook_user(&format!("Bench {}", letters(n)), None);
        let token = format!("EAABench{}", &person);
        self.emulator.register_facebook_token(&person, FACEBOOK_APP_ID, &token, 3600);
        let (path, field) = match function {
            "login" => ("events/login/200-success.json", "accessToken"),
            _ => ("events/facebook-login/200-success.json", "access_token"),
        };
        let mut event = self.sample(path)?;
        let mut body: Value = serde_json::from_str(event["body"].as_str().unwrap_or("{}")).unwrap_or_default();
        body[field] = json!(token);
        event["body"] = json!(body.to_string());
        // A file per run: a file shared by the runs would hold the last person's token only, and
        // every run but one would be a returning login.
        self.write(&format!("{function}-first-{}", self.next_file()), &event)
    }
}

/// `n` in letters, base 26 (a username keeps letters; digits would read as a suffix): a, b, …,
/// z, ba, bb, …
fn letters(mut n: u32) -> String {
    let mut out = vec![b'a' + (n % 26) as u8];
    while n >= 26 {
        n /= 26;
        out.push(b'a' + (n % 26) as u8);
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_login_names_are_distinct_letters() {
        assert_eq!([letters(0), letters(25), letters(26), letters(27)], ["a", "z", "ba", "bb"]);
        let names: std::collections::HashSet<String> = (0..2000).map(letters).collect();
        assert_eq!(names.len(), 2000);
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase())));
    }
}
