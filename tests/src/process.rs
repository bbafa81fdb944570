//! Child processes that never outlive their owner.
//!
//! Each child leads its own process group (so a terminal's Ctrl-C reaches only the owner,
//! which stops children in order, and so helpers the child forks, e.g. `runuser`'s
//! `postgres`, are signalled too). Stopping sends the stop signal to the group, polls for
//! the exit with a deadline, then SIGKILLs the group. Dropping a [`Proc`] stops it; tokio's
//! `kill_on_drop` is the last resort.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

/// How to (re)start one process.
#[derive(Debug, Clone)]
pub struct ProcSpec {
    /// Short name for logs and errors (`seats`, `nats`, `envoy`).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// stdout and stderr are appended here.
    pub log: PathBuf,
    /// The signal that asks for a graceful stop (`TERM`; Postgres: `INT`, a fast shutdown).
    pub stop_signal: &'static str,
    /// A file that gets a `<pid> <program>` line per start, so that a later run can reap
    /// the processes of an owner that died without cleaning up ([`reap_orphans`]).
    pub registry: Option<PathBuf>,
}

impl ProcSpec {
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>, log: PathBuf) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            log,
            stop_signal: "TERM",
            registry: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A running child process (its own process group).
#[derive(Debug)]
pub struct Proc {
    spec: ProcSpec,
    child: tokio::process::Child,
    pid: u32,
    started_at: Instant,
    status: Option<ExitStatus>,
    stop_requested: bool,
}

impl Proc {
    /// Starts `spec`, logging to `spec.log` (appended, after a header line).
    pub fn spawn(spec: ProcSpec) -> Result<Proc> {
        if let Some(dir) = spec.log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .with_context(|| format!("opening {}", spec.log.display()))?;
        writeln!(log, "=== starting {}: {} {:?}", spec.name, spec.program.display(), spec.args)
            .with_context(|| format!("writing {}", spec.log.display()))?;
        let stderr: File = log.try_clone().with_context(|| format!("cloning {}", spec.log.display()))?;
        let child = tokio::process::Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} ({})", spec.name, spec.program.display()))?;
        let pid = child.id().with_context(|| format!("{} exited at once", spec.name))?;
        if let Some(registry) = &spec.registry {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(registry)
                .with_context(|| format!("opening {}", registry.display()))?;
            writeln!(file, "{pid} {}", spec.program.display())
                .with_context(|| format!("writing {}", registry.display()))?;
        }
        Ok(Proc { spec, child, pid, started_at: Instant::now(), status: None, stop_requested: false })
    }

    pub fn spec(&self) -> &ProcSpec {
        &self.spec
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// `Some(status)` once the process has exited (reaps it).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Sends `signal` (a `kill -s` name: `TERM`, `KILL`, `STOP`, `CONT`, ...) to the group.
    pub fn signal(&self, signal: &str) {
        // The `kill` utility keeps this crate free of unsafe code; failures mean the group
        // is already gone.
        let _ = std::process::Command::new("kill")
            .args(["-s", signal, "--", &format!("-{}", self.pid)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Sends the stop signal once, without waiting (to stop several processes together).
    pub fn request_stop(&mut self) {
        if !self.stop_requested && self.exit_status().is_none() {
            self.stop_requested = true;
            self.signal(self.spec.stop_signal);
        }
    }

    /// Asks the group to stop, waits up to `grace`, then SIGKILLs it. Blocking.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.exit_status().is_none() {
            self.request_stop();
            if self.wait_exit(grace).is_none() {
                self.kill();
            }
        }
        // Stragglers in the group (if any) go too.
        self.signal("KILL");
        self.status
    }

    /// SIGKILLs the whole group at once and reaps the child. Blocking (briefly).
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.signal("KILL");
        let _ = self.child.start_kill();
        self.wait_exit(Duration::from_secs(10))
    }

    fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// The last `lines` lines of a log file (empty when it cannot be read).
pub fn tail(path: &std::path::Path, lines: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The owner file of a run directory: the pid of the process that started its children.
pub const OWNER_FILE: &str = "owner.pid";
/// The registry file of a run directory (see [`ProcSpec::registry`]).
pub const REGISTRY_FILE: &str = "processes";

/// Claims `run_dir` for this process: if a previous owner died without stopping its
/// children (SIGKILLed test, crashed `xtask up`), SIGKILLs their process groups first.
pub fn claim_run_dir(run_dir: &std::path::Path) -> Result<()> {
    reap_orphans(run_dir);
    std::fs::write(run_dir.join(OWNER_FILE), std::process::id().to_string())
        .with_context(|| format!("writing {}", run_dir.join(OWNER_FILE).display()))?;
    let _ = std::fs::remove_file(run_dir.join(REGISTRY_FILE));
    Ok(())
}

/// Kills what a dead owner of `run_dir` left running. Returns whether the owner is dead
/// (or unknown), i.e. whether the directory is free to reuse or remove.
pub fn reap_orphans(run_dir: &std::path::Path) -> bool {
    let owner = std::fs::read_to_string(run_dir.join(OWNER_FILE)).ok().and_then(|s| s.trim().parse::<u32>().ok());
    // A live owner, this process included (parallel tests), keeps its stack.
    if let Some(owner) = owner
        && pid_alive(owner)
    {
        return false;
    }
    let registry = std::fs::read_to_string(run_dir.join(REGISTRY_FILE)).unwrap_or_default();
    let mut killed = Vec::new();
    for line in registry.lines() {
        let Some((pid, program)) = line.split_once(' ') else {
            continue;
        };
        // Only if the pid still runs what we started (pids get reused).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if !argv0.is_empty() && argv0 == program.as_bytes() {
            eprintln!("[stack] killing orphaned {program} (pid {pid}) of a dead run");
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            killed.push(pid.to_owned());
        }
    }
    // Wait (bounded) until every process of those groups is gone (Postgres' postmaster is
    // not the group leader), so their ports and data directories are free.
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until && killed.iter().any(|pid| group_alive(pid)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Whether `pid` runs (a zombie, e.g. a SIGKILLed owner nobody reaped yet, does not).
fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`: comm may hold spaces and parentheses.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

fn group_alive(pgid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reaps the orphans of dead test stacks (`$TMPDIR/cinema-*` run directories whose owner
/// died) and removes those directories.
pub fn reap_dead_test_stacks() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let is_stack = entry.file_name().to_string_lossy().starts_with("cinema-") && path.join(OWNER_FILE).is_file();
        if is_stack && reap_orphans(&path) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
