//! The functions under cargo-lambda's Lambda runtime emulator, invoked as the cloud invokes
//! them: `cargo lambda watch` runs each function's own `main` (runtime loop, configuration read
//! once from the environment, invocation deadline from the context) and `cargo lambda invoke`
//! sends it an event.
//!
//! A test starts an emulator of its own ([`LambdaEmulator::start`]) with its environment (its
//! bucket, Glue databases, workgroup and merge keys), on a free port, stopped when dropped. The
//! demo uses the stack's emulator (`scripts/lambda-local.sh`, [`LambdaEmulator::existing`]).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

/// The invocation timeout the emulator gives (the deadline a function sees): the compactor's
/// `Timeout` in template.yaml, the longest of the three functions'.
pub const TIMEOUT_SECONDS: u32 = 900;

/// The directory holding `cargo-lambda` (installed into `.venv` by `scripts/cargo-lambda.sh`).
fn cargo_lambda_dir() -> Result<String> {
    let script = crate::repo_dir().join("scripts/cargo-lambda.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed ({})", script.display(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn path_with(dir: &str) -> String {
    match std::env::var("PATH") {
        Ok(p) => format!("{dir}:{p}"),
        Err(_) => dir.to_string(),
    }
}

fn answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// A port nobody listens on now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("finding a free port for the Lambda emulator")?;
    Ok(listener.local_addr().context("local address")?.port())
}

/// A running emulator (owned: stopped on drop) or the stack's.
pub struct LambdaEmulator {
    pub port: u16,
    path: String,
    dir: PathBuf,
    child: Option<Child>,
    log: Option<PathBuf>,
    invocations: usize,
}

impl LambdaEmulator {
    /// The emulator `scripts/lambda-local.sh start` runs on `port`.
    pub fn existing(port: u16, dir: &Path) -> Result<Self> {
        if !answers(port) {
            bail!("no Lambda emulator on 127.0.0.1:{port} (scripts/lambda-local.sh start)");
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            port,
            path: path_with(&cargo_lambda_dir()?),
            dir: dir.to_path_buf(),
            child: None,
            log: None,
            invocations: 0,
        })
    }

    /// Starts `cargo lambda watch` with `env` as every function's environment, its env file
    /// and log in `dir`.
    pub fn start(env: &BTreeMap<String, String>, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = path_with(&cargo_lambda_dir()?);
        let env_file = dir.join("lambda.env");
        // Values single-quoted (literal in the env-file syntax; an unquoted '=' is refused).
        let mut text = String::new();
        for (k, v) in env {
            if v.contains(['\'', '\n']) {
                bail!("{k}={v:?}: a value for the Lambda emulator cannot hold a quote or newline");
            }
            text.push_str(&format!("{k}='{v}'\n"));
        }
        std::fs::write(&env_file, text)
            .with_context(|| format!("writing {}", env_file.display()))?;
        let log = dir.join("lambda.log");
        let port = free_port()?;
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("log file")?;
        let child = Command::new("cargo")
            .current_dir(crate::repo_dir())
            .env("PATH", &path)
            .args([
                "lambda",
                "watch",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .arg("--env-file")
            .arg(&env_file)
            .args(["--timeout", &TIMEOUT_SECONDS.to_string()])
            // The functions run as built when the emulator started: an edit in the clone
            // during a test must not restart them mid-invocation.
            .arg("--ignore-changes")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group, so that stopping it stops the functions it runs too.
            .process_group(0)
            .spawn()
            .context("starting cargo lambda watch")?;
        let mut emulator = Self {
            port,
            path,
            dir: dir.to_path_buf(),
            child: Some(child),
            log: Some(log),
            invocations: 0,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(port) {
            if let Some(status) = emulator
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "cargo lambda watch exited ({status}): {}",
                    emulator.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "cargo lambda watch did not answer on 127.0.0.1:{port} within 60 s: {}",
                    emulator.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(emulator)
    }

    fn log_tail(&self) -> String {
        let Some(log) = &self.log else {
            return String::new();
        };
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(30);
        format!(
            "last lines of {}:\n{}",
            log.display(),
            lines[start..].join("\n")
        )
    }

    /// Invokes `function` with `payload`: its answer (JSON), or the function's error (the
    /// runtime's error response: `errorType`, `errorMessage`) as [`FunctionError`].
    pub fn invoke_outcome(
        &mut self,
        function: &str,
        payload: &Value,
    ) -> Result<std::result::Result<Value, FunctionError>> {
        match self.invoke(function, payload) {
            Ok(v) => Ok(Ok(v)),
            Err(e) => {
                let text = format!("{e:#}");
                // The error types the functions answer with (their `Diagnostic`s).
                for error_type in ["TablesFailed", "InvalidInput"] {
                    if text.contains(error_type) {
                        return Ok(Err(FunctionError {
                            error_type: error_type.to_string(),
                            message: text,
                        }));
                    }
                }
                Err(e)
            }
        }
    }

    /// Invokes `function` with `payload` and returns its answer (JSON). A function error (the
    /// runtime's error response) is an error here.
    pub fn invoke(&mut self, function: &str, payload: &Value) -> Result<Value> {
        self.invocations += 1;
        let event = self
            .dir
            .join(format!("{function}-event-{}.json", self.invocations));
        std::fs::write(&event, payload.to_string())
            .with_context(|| format!("writing {}", event.display()))?;
        let out = Command::new("cargo")
            .current_dir(crate::repo_dir())
            .env("PATH", &self.path)
            .args([
                "lambda",
                "invoke",
                function,
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(&event)
            .output()
            .context("running cargo lambda invoke")?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() {
            bail!(
                "cargo lambda invoke {function} {}: {stdout}{}\n{}",
                event.display(),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            );
        }
        serde_json::from_str(&stdout)
            .map_err(|e| anyhow!("{function} answered {stdout:?}, not JSON: {e}"))
    }
}

/// A function's error response, as the caller of `Invoke` receives it.
#[derive(Clone, Debug)]
pub struct FunctionError {
    pub error_type: String,
    pub message: String,
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = Command::new("kill")
                .arg("--")
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
        }
    }
}

/// An EventBridge scheduled event for the compactor's merge rule, as the schedule delivers it
/// (`events/compactor-schedule.json` with the current time).
pub fn schedule_event() -> Value {
    serde_json::json!({
        "version": "0",
        "id": crate::unique_name("schedule", '-'),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/dmslake-compactor-merge"],
        "detail": {}
    })
}
