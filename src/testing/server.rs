//! [`TestServer`]: a coderlite server process for a Rust test suite, started on a database of
//! its own (`--ephemeral`), ready when this returns, stopped when it drops.
//!
//! ```no_run
//! let server = coderlite::testing::TestServer::builder("coderlite").test_controls().start().unwrap();
//! // Call server.url() with server.token() as `Coder-Session-Token`.
//! ```

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::path::PathBuf;
use std::process::Child;
use std::process::ChildStdin;
use std::process::Command;
use std::process::ExitStatus;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Deserialize;

/// The line `--ready-json` prints once the server serves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReadyLine {
    pub url: String,
    /// An owner's API key (`Coder-Session-Token`); `None` only when the database has no owner.
    pub token: Option<String>,
    pub db: String,
    pub pid: u32,
    pub replica_id: String,
}

/// Why a test server did not start.
#[derive(Debug, thiserror::Error)]
pub enum TestServerError {
    #[error("start {binary}: {source}")]
    Spawn { binary: String, source: std::io::Error },
    #[error("the server exited before it was ready ({status}); its log ends:\n{log}")]
    Exited { status: String, log: String },
    #[error("the server's ready line is not what --ready-json prints ({why}): {line:?}")]
    BadReadyLine { line: String, why: String },
}

/// How to start a [`TestServer`].
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    binary: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl TestServerBuilder {
    /// `--test-controls`: reset, snapshots, fixtures and the clock under `/api/coderlite/v1`.
    pub fn test_controls(self) -> Self {
        self.arg("--test-controls")
    }

    /// `--test-controls --clock virtual`: time moves only when the test moves it.
    pub fn virtual_clock(self) -> Self {
        self.test_controls().arg("--clock").arg("virtual")
    }

    /// `--demo`: the demo fixtures and their faster service intervals.
    pub fn demo(self) -> Self {
        self.arg("--demo")
    }

    /// A scratch database next to the PostgreSQL database `url` names, instead of SQLite.
    pub fn postgres(self, url: &str) -> Self {
        self.arg("--db").arg(url)
    }

    /// Any other `coderlite server` flag.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// An environment variable of the server process.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Starts the server and waits for its ready line.
    pub fn start(self) -> Result<TestServer, TestServerError> {
        let binary = self.binary.display().to_string();
        let mut child = Command::new(&self.binary)
            .arg("server")
            .args(["--ephemeral", "--ready-json", "--exit-on-stdin-close"])
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| TestServerError::Spawn { binary, source })?;
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || keep_tail(stderr, &log));
        }
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = match child.stdout.take() {
            Some(stdout) => {
                let mut reader = BufReader::new(stdout);
                let read = reader.read_line(&mut line);
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
                read.unwrap_or(0)
            }
            None => 0,
        };
        if read == 0 {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            // The log thread finishes with the process; give it a moment to catch the end.
            std::thread::sleep(Duration::from_millis(50));
            return Err(TestServerError::Exited { status, log: log.lock().clone() });
        }
        let ready: ReadyLine = match serde_json::from_str(line.trim_end()) {
            Ok(ready) => ready,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TestServerError::BadReadyLine { line, why: e.to_string() });
            }
        };
        Ok(TestServer { child, stdin, ready, log })
    }
}

/// Keeps the last 64 KiB of a stream.
fn keep_tail(mut stream: impl Read, log: &Mutex<String>) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut log = log.lock();
        log.push_str(&String::from_utf8_lossy(&buf[..n]));
        if log.len() > 64 * 1024 {
            let cut = log.len() - 64 * 1024;
            let cut = (cut..log.len()).find(|i| log.is_char_boundary(*i)).unwrap_or(log.len());
            log.drain(..cut);
        }
    }
}

/// A running `coderlite server --ephemeral`. Dropping it closes the server's stdin (it shuts
/// down and removes its database) and waits for it, killing it after 10 s.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    stdin: Option<ChildStdin>,
    ready: ReadyLine,
    log: Arc<Mutex<String>>,
}

impl TestServer {
    /// A builder for the binary at `binary` (a path, or a name looked up on `PATH`).
    pub fn builder(binary: impl Into<PathBuf>) -> TestServerBuilder {
        TestServerBuilder { binary: binary.into(), args: Vec::new(), envs: Vec::new() }
    }

    /// A server with test controls, from the binary `CODERLITE_BIN` names, else `coderlite`
    /// on `PATH`.
    pub fn start() -> Result<Self, TestServerError> {
        let binary = std::env::var_os("CODERLITE_BIN").map_or_else(|| PathBuf::from("coderlite"), PathBuf::from);
        Self::builder(binary).test_controls().start()
    }

    /// The base URL, like `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.ready.url
    }

    /// An owner's API key.
    pub fn token(&self) -> &str {
        self.ready.token.as_deref().unwrap_or_default()
    }

    /// The whole ready line.
    pub fn ready(&self) -> &ReadyLine {
        &self.ready
    }

    /// What the server logged so far (the last 64 KiB).
    pub fn log(&self) -> String {
        self.log.lock().clone()
    }

    /// Stops the server (as dropping does) and answers how it exited.
    pub fn stop(mut self) -> std::io::Result<ExitStatus> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> std::io::Result<ExitStatus> {
        drop(self.stdin.take());
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= give_up {
                self.child.kill()?;
                return self.child.wait();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}
