//! The benchmark's options and settings: which functions, which settings (CPU share, transport,
//! table mode), how many runs.

use std::path::PathBuf;

use crate::bench::BenchError;

/// The bare function every ratio is to.
pub const FLOOR: &str = "floor";
/// The second floor: the bare function plus only the DynamoDB client (`shared/examples/sdk_floor.rs`),
/// which the login functions' RSS and init budgets are against.
pub const SDK_FLOOR: &str = "sdk-floor";
/// The Node.js 20 + AWS SDK v3 peer of a returning Syncano Facebook login
/// (`../shared/bench/peer-node`), run beside `facebook-login`.
pub const PEER: &str = "peer-node";
/// The memory size whose CPU share the throttled settings run at (`lambda_bench.py --memory`).
pub const THROTTLED_MB: u32 = 128;

/// How a case is run: at full CPU or at the CPU share of a memory size, through plain HTTP or
/// through the TLS fronts, on a single-region table or an MRSC one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Setting {
    pub memory: Option<u32>,
    pub tls: bool,
    pub table: TableMode,
}

/// The table the functions use (`template.yaml`'s `TableMode`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableMode {
    /// The stack's own table, in the functions' region.
    #[default]
    Single,
    /// A global table with multi-Region strong consistency: its replica in the functions' region,
    /// behind the MRSC proxy (every write and strongly consistent read one cross-region round trip).
    Mrsc,
}

impl Setting {
    pub fn label(&self) -> String {
        let cpu = self.memory.map_or("full CPU".to_string(), |mb| format!("{mb} MB CPU share"));
        let table = match self.table {
            TableMode::Single => "",
            TableMode::Mrsc => ", MRSC table",
        };
        format!("{cpu}, {}{table}", if self.tls { "TLS" } else { "plain HTTP" })
    }

    /// The same setting on the single-region table.
    pub fn single(self) -> Setting {
        Setting { table: TableMode::Single, ..self }
    }
}

pub struct Options {
    pub warm: u32,
    pub repeat: u32,
    pub arm64: bool,
    pub out: Option<PathBuf>,
    /// Only these functions (the floors always run).
    pub only: Vec<String>,
    pub tls: bool,
    pub throttled: bool,
    pub peer: bool,
    /// The MRSC settings too (after the single-region ones).
    pub mrsc: bool,
    /// Extra variables for every measured function (experiments, e.g. `RUST_LOG=debug`).
    pub env: Vec<(String, String)>,
    /// The functions' binaries are taken from here instead of built (another tree's release
    /// build, for a before/after on one stack); the floors are still built.
    pub binaries: Option<PathBuf>,
}

impl Options {
    /// The settings to run, in order: full CPU first (its plain run is the one the round trips
    /// are counted in), plain before TLS, then on the MRSC table the first (full CPU, plain HTTP)
    /// and what Lambda sees (128 MB CPU share, TLS).
    pub fn settings(&self) -> Vec<Setting> {
        let memories = if self.throttled { vec![None, Some(THROTTLED_MB)] } else { vec![None] };
        let transports = if self.tls { vec![false, true] } else { vec![false] };
        let mut settings: Vec<Setting> = memories
            .iter()
            .flat_map(|&memory| transports.iter().map(move |&tls| Setting { memory, tls, table: TableMode::Single }))
            .collect();
        if self.mrsc {
            settings.push(Setting { memory: None, tls: false, table: TableMode::Mrsc });
            if self.throttled && self.tls {
                settings.push(Setting { memory: Some(THROTTLED_MB), tls: true, table: TableMode::Mrsc });
            }
        }
        settings
    }

    /// Whether `function` runs in `setting`: the MRSC settings measure the functions only (the
    /// floors make no write or strongly consistent read, and the peer stays the single-region
    /// comparison).
    pub fn runs_in(&self, function: &str, setting: Setting) -> bool {
        setting.table == TableMode::Single || !matches!(function, FLOOR | SDK_FLOOR | PEER)
    }

    pub fn wants(&self, function: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|f| f == function)
            || matches!(function, FLOOR | SDK_FLOOR)
            || (function == PEER && self.peer && self.only.iter().any(|f| f == "facebook-login"))
    }

    pub fn parse(args: &[String]) -> Result<Options, BenchError> {
        let mut o = Options {
            warm: 100,
            repeat: 5,
            arm64: true,
            out: None,
            only: Vec::new(),
            tls: true,
            throttled: true,
            peer: true,
            mrsc: true,
            env: Vec::new(),
            binaries: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value =
                |name: &str| it.next().cloned().ok_or_else(|| BenchError::Usage(format!("{name} needs a value")));
            let number = |name: &str, v: String| {
                v.parse::<u32>().map_err(|_| BenchError::Usage(format!("{name}: {v:?} is not a number")))
            };
            match arg.as_str() {
                "--warm" => o.warm = number("--warm", value("--warm")?)?,
                "--repeat" => o.repeat = number("--repeat", value("--repeat")?)?.max(1),
                "--no-arm64" => o.arm64 = false,
                "--out" => o.out = Some(PathBuf::from(value("--out")?)),
                "--only" => o.only.extend(value("--only")?.split(',').map(str::trim).map(str::to_string)),
                "--no-tls" => o.tls = false,
                "--no-128" => o.throttled = false,
                "--no-peer" => o.peer = false,
                "--no-mrsc" => o.mrsc = false,
                "--binaries" => o.binaries = Some(PathBuf::from(value("--binaries")?)),
                "--env" => {
                    let kv = value("--env")?;
                    let (k, v) = kv.split_once('=').ok_or_else(|| BenchError::Usage(format!("--env {kv:?}: K=V")))?;
                    o.env.push((k.to_string(), v.to_string()));
                }
                other => return Err(BenchError::Usage(format!("unknown option {other:?}"))),
            }
        }
        if o.out.is_some()
            && (!o.only.is_empty()
                || !o.tls
                || !o.throttled
                || !o.peer
                || !o.mrsc
                || !o.env.is_empty()
                || o.binaries.is_some())
        {
            return Err(BenchError::Usage("--out writes docs/bench.md: only with the whole run".into()));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_full_cpu_first_and_plain_before_tls() {
        let all = Options::parse(&[]).expect("options");
        let labels: Vec<String> = all.settings().iter().map(Setting::label).collect();
        assert_eq!(
            labels,
            [
                "full CPU, plain HTTP",
                "full CPU, TLS",
                "128 MB CPU share, plain HTTP",
                "128 MB CPU share, TLS",
                "full CPU, plain HTTP, MRSC table",
                "128 MB CPU share, TLS, MRSC table"
            ]
        );
        let plain = Options::parse(&["--no-tls".into(), "--no-128".into(), "--no-mrsc".into()]).expect("options");
        assert_eq!(plain.settings(), [Setting::default()]);
        let mrsc = Setting { table: TableMode::Mrsc, ..Setting::default() };
        let no_tls = Options::parse(&["--no-tls".into()]).expect("options");
        assert_eq!(no_tls.settings().last(), Some(&mrsc), "MRSC at full CPU, plain HTTP only: {:?}", no_tls.settings());
        assert!(no_tls.runs_in("me", mrsc) && !no_tls.runs_in(FLOOR, mrsc) && !no_tls.runs_in(PEER, mrsc));
        assert!(Options::parse(&["--no-mrsc".into(), "--out".into(), "x.md".into()]).is_err());
        assert!(Options::parse(&["--only".into(), "me".into(), "--out".into(), "x.md".into()]).is_err());
    }

    #[test]
    fn only_keeps_the_floors_and_the_peer_beside_facebook_login() {
        let o = Options::parse(&["--only".into(), "facebook-login".into()]).expect("options");
        assert!(o.wants("facebook-login") && o.wants(FLOOR) && o.wants(SDK_FLOOR) && o.wants(PEER));
        assert!(!o.wants("me"));
        let me = Options::parse(&["--only".into(), "me".into()]).expect("options");
        assert!(!me.wants(PEER) && me.wants("me"));
    }
}
