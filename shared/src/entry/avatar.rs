//! `GET /avatar/{username}`: the picture behind every `avatarUrl` (Rocket.Chat clients load each
//! avatar from it), after `apps/meteor/server/routes/avatar/user.ts` and `utils.ts`, as
//! Rocket.Chat serves a user without an uploaded avatar:
//!
//! - every name, a user's or not, and `@name`: the initials SVG Rocket.Chat renders
//!   (`renderSVGLetters` of the requested name), with its fixed `Last-Modified` and a 304 for a
//!   client that has it;
//! - every answer carries `Cache-Control: private, max-age=3600` and `Content-Disposition:
//!   inline`, as `setCacheAndDispositionHeaders` sets them (but `private`).
//!
//! The answer is a function of the requested name alone: no lookup, nothing of the person. We
//! never redirect to the provider's picture: its URL carries the provider's account id
//! (Facebook's app-scoped id, which its deletion callbacks use; GitHub's account id), it would
//! outlive a deletion in every cache, and a redirect for users against letters for unknown
//! names would tell whether a username exists (docs/security.md, "Avatar privacy").

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::entry::dialect::rocketchat;
use crate::entry::http::RequestLog;

/// `Accounts_AvatarCacheTime`'s default, in seconds: the answer never changes for a name, so
/// an hour only bounds how long a browser keeps a colour and letter.
pub const CACHE_SECONDS: u32 = 3600;
/// `Cache-Control` of every answer: the browser's cache only, not shared caches between users.
pub const CACHE_CONTROL: &str = "private, max-age=3600";
/// The `Last-Modified` of every generated avatar (`FALLBACK_LAST_MODIFIED` in utils.ts).
pub const FALLBACK_LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";
/// `?size=` is clamped to this range; 200 without it (utils.ts).
const MIN_SIZE: u32 = 16;
const MAX_SIZE: u32 = 1024;
const DEFAULT_SIZE: u32 = 200;

/// Material colours, picked by the name's length, as Rocket.Chat's `getAvatarColor` does.
const COLORS: [&str; 18] = [
    "#F44336", "#E91E63", "#9C27B0", "#673AB7", "#3F51B5", "#2196F3", "#03A9F4", "#00BCD4", "#009688", "#4CAF50",
    "#8BC34A", "#CDDC39", "#FFC107", "#FF9800", "#FF5722", "#795548", "#9E9E9E", "#607D8B",
];

/// What `GET /avatar/{username}` answers: the initials SVG of this name (the requested name,
/// whether a user has it or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Avatar {
    Letters(String),
}

/// The avatar of the requested `username`: `@name` draws `name`, as Rocket.Chat does; anything
/// else draws itself. Nothing is looked up.
pub fn avatar_of(username: &str) -> Avatar {
    Avatar::Letters(username.strip_prefix('@').unwrap_or(username).to_string())
}

/// `text` as SVG/XML character data or attribute value: `&`, `<`, `>`, `"` and `'` escaped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
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
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\">\n<rect width=\"100%\" height=\"100%\" fill=\"{color}\"/>\n<text x=\"50%\" y=\"50%\" dy=\"0.36em\" text-anchor=\"middle\" pointer-events=\"none\" fill=\"#ffffff\" font-family=\"'Helvetica', 'Arial', 'Lucida Grande', 'sans-serif'\" font-size=\"{font_size}\">\n{initials}\n</text>\n</svg>",
        initials = xml_escape(&initials)
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

fn with_cache_headers(mut resp: Response<Body>) -> Response<Body> {
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
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

/// `GET /avatar/{username}`, with its one log line. The app is not asked anything: the answer
/// is the requested name's.
pub async fn handle(_app: &crate::usecases::app::App, req: &Request, route: &'static str) -> Response<Body> {
    let log = RequestLog::start(req, route);
    let username = req.path_parameters_ref().and_then(|p| p.first("username")).unwrap_or_default().to_string();
    if username.is_empty() {
        // The route needs a non-empty segment; Rocket.Chat answers 404 too.
        let resp = rocketchat::not_found_response();
        log.finish(resp.status(), Some(&"no username"));
        return resp;
    }
    let resp = answer(req, avatar_of(&username));
    log.finish(resp.status(), None::<&&str>);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::http::encode_path_segment;

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
    fn what_the_svg_draws_is_escaped() {
        assert_eq!(xml_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        for name in ["<script>", "&amp", "\"onload=", "'", ">"] {
            let svg = render_svg_letters(name, 64);
            assert_eq!(svg.matches('<').count(), 5, "only the SVG's own elements: {svg}");
            assert!(
                svg.contains("\">\n\n</text>")
                    || svg.contains("\">\nS\n</text>")
                    || svg.contains("\">\nA\n</text>")
                    || svg.contains("\">\nO\n</text>"),
                "{svg}"
            );
        }
        assert_eq!(avatar_of("@zed"), Avatar::Letters("zed".into()));
        assert_eq!(avatar_of("nobody.here"), Avatar::Letters("nobody.here".into()));
    }

    #[test]
    fn usernames_are_one_path_segment() {
        assert_eq!(encode_path_segment("rocket.cat"), "rocket.cat");
        assert_eq!(encode_path_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }
}
