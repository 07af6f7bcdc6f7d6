//! Route paths as API Gateway HTTP APIs match them: literal segments, `{name}`, `{name+}` and
//! `$default`, with API Gateway's order of specificity.

use crate::template::Route;

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// Matches itself (case-sensitive).
    Literal(String),
    /// `{name}`: one non-empty segment.
    Param(String),
    /// `{name+}`: the rest of the path, at least one non-empty segment; only last.
    Greedy(String),
}

/// A route path: segments, or the `$default` catch-all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    Segments(Vec<Segment>),
    Default,
}

impl Pattern {
    /// Parses a template path. `/a/b/` and `/a/b` differ: the trailing empty segment is kept.
    pub(super) fn parse(path: &str) -> Result<Pattern, String> {
        if path == Route::DEFAULT_PATH {
            return Ok(Pattern::Default);
        }
        let rest = path.strip_prefix('/').ok_or_else(|| format!("path `{path}` must start with `/`"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let last = parts.len() - 1;
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    let (name, greedy) = match name.strip_suffix('+') {
                        Some(name) => (name, true),
                        None => (name, false),
                    };
                    if name.is_empty() || name.contains(['{', '}', '+']) {
                        return Err(format!("invalid path variable `{part}` in `{path}`"));
                    }
                    if greedy && i != last {
                        return Err(format!("greedy variable `{part}` must be the last segment of `{path}`"));
                    }
                    Ok(if greedy { Segment::Greedy(name.to_owned()) } else { Segment::Param(name.to_owned()) })
                } else if part.contains(['{', '}']) {
                    Err(format!("a path variable must be a whole segment: `{part}` in `{path}`"))
                } else if part.is_empty() && i != last {
                    Err(format!("empty segment in `{path}`"))
                } else {
                    Ok(Segment::Literal((*part).to_owned()))
                }
            })
            .collect::<Result<_, _>>()
            .map(Pattern::Segments)
    }

    /// Matches the (still percent-encoded) request path; returns the raw path variables.
    pub(super) fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let segments = match self {
            Pattern::Default => return Some(Vec::new()),
            Pattern::Segments(segments) => segments,
        };
        let mut rest = path.strip_prefix('/')?;
        let mut params = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if let Segment::Greedy(name) = segment {
                if rest.split('/').all(str::is_empty) {
                    return None;
                }
                params.push((name.as_str(), rest));
                return Some(params);
            }
            let (part, tail) = match rest.split_once('/') {
                Some((part, tail)) if !last => (part, tail),
                Some(_) => return None,
                None if last => (rest, ""),
                None => return None,
            };
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Param(name) if !part.is_empty() => params.push((name.as_str(), part)),
                _ => return None,
            }
            rest = tail;
        }
        Some(params)
    }

    /// Sort key, smaller is more specific: per segment literal < `{x}` < `{x+}`; `$default` last.
    pub(super) fn specificity(&self) -> Vec<u8> {
        match self {
            Pattern::Default => vec![u8::MAX],
            Pattern::Segments(segments) => segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(_) => 0,
                    Segment::Param(_) => 1,
                    Segment::Greedy(_) => 2,
                })
                .collect(),
        }
    }
}
