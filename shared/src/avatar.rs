//! `GET /avatar/{username}`: the picture behind every `avatarUrl` (Rocket.Chat clients load each
//! avatar from it), after `apps/meteor/server/routes/avatar/user.ts` and `utils.ts`:
//!
//! - a user whose provider gave a picture: a 302 to it (Rocket.Chat serves the file it stored;
//!   we never fetch or store the provider's picture);
//! - a user without one, an unknown username, or `@name`: the initials SVG Rocket.Chat renders
//!   (`renderSVGLetters`), with its fixed `Last-Modified` and a 304 for a client that has it;
//! - every answer carries `Cache-Control: public, max-age=3600` (`Accounts_AvatarCacheTime`'s
//!   default) and `Content-Disposition: inline`, as `setCacheAndDispositionHeaders` sets them.
//!
//! Usernames live in the default instance (`UNAME#{instance}#{username}`), as the Rocket.Chat
//! login creates them.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::dialect::rocketchat;
use crate::http::RequestLog;
use crate::login::LoginError;

/// `Accounts_AvatarCacheTime`'s default, in seconds.
pub const CACHE_SECONDS: u32 = 3600;
/// The `Last-Modified` of every generated avatar (`FALLBACK_LAST_MODIFIED` in utils.ts).
pub const FALLBACK_LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";
/// `?size=` is clamped to this range; 200 without it (utils.ts).
const MIN_SIZE: u32 = 16;
const MAX_SIZE: u32 = 1024;
const DEFAULT_SIZE: u32 = 200;
/// Longer names are no username of ours: the placeholder, without a lookup.
const MAX_USERNAME_LEN: usize = 64;

/// Material colours, picked by the name's length, as Rocket.Chat's `getAvatarColor` does.
const COLORS: [&str; 18] = [
    "#F44336", "#E91E63", "#9C27B0", "#673AB7", "#3F51B5", "#2196F3", "#03A9F4", "#00BCD4", "#009688", "#4CAF50",
    "#8BC34A", "#CDDC39", "#FFC107", "#FF9800", "#FF5722", "#795548", "#9E9E9E", "#607D8B",
];

/// What `GET /avatar/{username}` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Avatar {
    /// The picture the provider gave for the user.
    Redirect(String),
    /// The initials SVG of this name (a username, or the requested name when no user has it).
    Letters(String),
}

/// A username as one URL path segment (RFC 3986 unreserved characters kept, the rest
/// percent-encoded), as `encodeURIComponent` would write it.
pub fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The initial Rocket.Chat draws: the first ASCII letter or digit of the name, upper-cased.
fn initial(name: &str) -> String {
    name.chars().find(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase().to_string()).unwrap_or_default()
}

/// `renderSVGLetters(name, size)`: a coloured square with the name's initial.
pub fn render_svg_letters(name: &str, size: u32) -> String {
    let (color, initials) = if name == "?" {
        ("#000", "?".to_string())
    } else {
        (COLORS[name.chars().count() % COLORS.len()], initial(name))
    };
    let font_size = f64::from(size) / 1.6;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\">\n<rect width=\"100%\" height=\"100%\" fill=\"{color}\"/>\n<text x=\"50%\" y=\"50%\" dy=\"0.36em\" text-anchor=\"middle\" pointer-events=\"none\" fill=\"#ffffff\" font-family=\"'Helvetica', 'Arial', 'Lucida Grande', 'sans-serif'\" font-size=\"{font_size}\">\n{initials}\n</text>\n</svg>"
    )
}

/// `?size=`: an integer clamped to 16..=1024; anything else is the default 200.
fn requested_size(req: &Request) -> u32 {
    let query = req.query_string_parameters_ref().and_then(|q| q.first("size").map(str::to_owned));
    match query.and_then(|s| s.trim().parse::<i64>().ok()) {
        Some(n) if n > 0 => u32::try_from(n.clamp(i64::from(MIN_SIZE), i64::from(MAX_SIZE))).unwrap_or(DEFAULT_SIZE),
        _ => DEFAULT_SIZE,
    }
}

impl App {
    /// The avatar of `username` in the default instance (two reads at most: the username, then
    /// the user). `@name` always draws the letters, as Rocket.Chat does.
    pub async fn avatar(&self, username: &str) -> Result<Avatar, LoginError> {
        if let Some(name) = username.strip_prefix('@') {
            return Ok(Avatar::Letters(name.to_string()));
        }
        if username.len() > MAX_USERNAME_LEN {
            return Ok(Avatar::Letters(username.to_string()));
        }
        let user = self.store.find_by_username(&self.config.default_instance, username).await?;
        Ok(match user.and_then(|u| u.avatar_url) {
            Some(url) if HeaderValue::from_str(&url).is_ok() => Avatar::Redirect(url),
            _ => Avatar::Letters(username.to_string()),
        })
    }
}

fn with_cache_headers(mut resp: Response<Body>) -> Response<Body> {
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={CACHE_SECONDS}")) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    resp
}

fn response(status: StatusCode, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp
}

/// The HTTP answer for an avatar.
fn answer(req: &Request, avatar: Avatar) -> Response<Body> {
    let resp = match avatar {
        Avatar::Redirect(url) => {
            let mut resp = response(StatusCode::FOUND, Body::Empty);
            if let Ok(v) = HeaderValue::from_str(&url) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Avatar::Letters(_)
            if req.headers().get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok())
                == Some(FALLBACK_LAST_MODIFIED) =>
        {
            let mut resp = response(StatusCode::NOT_MODIFIED, Body::Empty);
            resp.headers_mut().insert(header::LAST_MODIFIED, HeaderValue::from_static(FALLBACK_LAST_MODIFIED));
            resp
        }
        Avatar::Letters(name) => {
            let mut resp = response(StatusCode::OK, Body::Text(render_svg_letters(&name, requested_size(req))));
            let headers = resp.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
            headers.insert(header::LAST_MODIFIED, HeaderValue::from_static(FALLBACK_LAST_MODIFIED));
            // An SVG is a document: nothing in it may run or load anything.
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'"));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            resp
        }
    };
    with_cache_headers(resp)
}

/// `GET /avatar/{username}`, with its one log line. A failure (DynamoDB unavailable) answers in
/// Rocket.Chat's error envelope and is not cached.
pub async fn handle(app: &App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let username = req.path_parameters_ref().and_then(|p| p.first("username")).unwrap_or_default().to_string();
    if username.is_empty() {
        // The route needs a non-empty segment; Rocket.Chat answers 404 too.
        let resp = rocketchat::not_found_response();
        log.finish(resp.status(), Some(&"no username"));
        return resp;
    }
    let result = app.avatar(&username).await;
    crate::http::respond(log, result, |avatar| answer(req, avatar.clone()), rocketchat::error_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_rocketchats() {
        let svg = render_svg_letters("rocket.cat", 200);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 200 200\">"), "{svg}");
        assert!(svg.contains("fill=\"#8BC34A\""), "10 characters: colour 10 (from 0): {svg}");
        assert!(svg.contains("font-size=\"125\">\nR\n</text>"), "{svg}");
        assert!(render_svg_letters("?", 16).contains("fill=\"#000\""));
        assert!(render_svg_letters("..", 16).contains("\">\n\n</text>"), "no letter, no initial");
    }

    #[test]
    fn usernames_are_one_path_segment() {
        assert_eq!(encode_path_segment("rocket.cat"), "rocket.cat");
        assert_eq!(encode_path_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }
}
