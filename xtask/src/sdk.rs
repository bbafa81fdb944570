//! `cargo xtask sdk`: the client SDKs' generated code and the contracts' gates.
//!
//! - `cargo xtask sdk` regenerates the code every SDK checks in, from `proto/`:
//!   TypeScript with buf and `protoc-gen-es` (npm) into `sdk/typescript/src/gen`, Python
//!   with grpcio-tools' bundled protoc (`sdk/python/generate.py`). The Rust SDK needs
//!   nothing checked in: `cinema-proto`'s build script generates it at build time.
//! - `cargo xtask sdk --check` (a step of `cargo xtask test`) generates into a scratch
//!   directory and fails when anything differs from what is checked in, then runs the
//!   contract gates: `buf lint`, `buf breaking` against the released contracts
//!   (`proto/baseline/`, updated on purpose with `cargo xtask sdk --release-contracts`),
//!   and `proto/tests` (pytest: the gate refuses a deleted field, event field or RPC).
//!
//! What they need is provisioned here: the npm workspace (`npm ci` at the root: the SDK,
//! the page, protoc-gen-es, playwright-core) and, in the tool venv, buf (`buf-bin`) and the
//! Python SDK's packages (`sdk/python/requirements-dev.txt`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail, ensure};

/// The released contracts `buf breaking` compares against.
pub const BASELINE: &str = "proto/baseline/cinema-v1.binpb";

/// Where the tools the SDKs need are.
pub struct SdkTools {
    pub buf: PathBuf,
    pub python: PathBuf,
}

/// `npm ci` at the root and the Python packages in the tool venv.
pub fn provision(root: &Path) -> Result<SdkTools> {
    npm_ci(root)?;
    let venv = cinema_tests::tools::tools_dir();
    let python = venv.join("bin").join("python");
    ensure!(python.exists(), "the tool venv {} has no python: run `cargo xtask tools`", venv.display());
    crate::status(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
            .arg(root.join("sdk/python/requirements-dev.txt")),
    )
    .context("pip install -r sdk/python/requirements-dev.txt")?;
    let buf = venv.join("bin").join("buf");
    ensure!(buf.exists(), "buf-bin did not install {}", buf.display());
    Ok(SdkTools { buf, python })
}

/// `npm ci` at the root: the npm workspace (the TypeScript SDK, the page, their tools).
pub fn npm_ci(root: &Path) -> Result<()> {
    ensure!(
        crate::on_path("npm") && crate::on_path("node"),
        "node and npm are needed for the TypeScript SDK and the page (Debian: apt-get install -y nodejs npm)"
    );
    crate::status(Command::new("npm").current_dir(root).args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]))
        .context("npm ci")
}

/// Writes every SDK's generated code under `out` (the repository root: in place).
pub fn generate(root: &Path, tools: &SdkTools, out: &Path) -> Result<()> {
    crate::status(
        Command::new(&tools.buf)
            .current_dir(root)
            .args(["generate", "proto", "--template", "sdk/typescript/buf.gen.yaml", "--output"])
            .arg(out),
    )
    .context("buf generate (TypeScript)")?;
    crate::status(
        Command::new(&tools.python)
            .current_dir(root)
            .arg("sdk/python/generate.py")
            .arg("--out")
            .arg(out.join(PYTHON_GENERATED)),
    )
    .context("sdk/python/generate.py")?;
    Ok(())
}

/// The generated directories, relative to the root.
const TYPESCRIPT_GENERATED: &str = "sdk/typescript/src/gen";
const PYTHON_GENERATED: &str = "sdk/python/src/cinema_client/_gen";

/// Fails when a fresh generation differs from the checked-in code.
pub fn check_generated(root: &Path, tools: &SdkTools) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    generate(root, tools, scratch.path())?;
    let mut stale = Vec::new();
    for dir in [TYPESCRIPT_GENERATED, PYTHON_GENERATED] {
        stale.extend(differences(&root.join(dir), &scratch.path().join(dir), Path::new(dir))?);
    }
    if !stale.is_empty() {
        bail!(
            "the checked-in generated code is stale ({}); run `cargo xtask sdk` and commit",
            stale.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    eprintln!("generated code of the TypeScript and Python SDKs is current");
    Ok(())
}

/// `buf lint` and `buf breaking` against [`BASELINE`].
pub fn check_contracts(root: &Path, tools: &SdkTools) -> Result<()> {
    crate::status(Command::new(&tools.buf).current_dir(root).args(["lint", "proto"])).context("buf lint")?;
    crate::status(Command::new(&tools.buf).current_dir(root).args(["breaking", "proto", "--against", BASELINE]))
        .context("buf breaking: a change breaks the released contracts (see proto/README.md)")?;
    crate::status(
        Command::new(&tools.python)
            .current_dir(root)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "proto/tests"])
            .env("BUF", &tools.buf),
    )
    .context("proto/tests: the contract gate's own tests")?;
    eprintln!("contracts: buf lint clean, nothing breaks {BASELINE}, the gate refuses breaking changes");
    Ok(())
}

/// Makes the current contracts the released ones `buf breaking` compares against.
pub fn release_contracts(root: &Path, tools: &SdkTools) -> Result<()> {
    crate::status(Command::new(&tools.buf).current_dir(root).args([
        "build",
        "proto",
        "--exclude-source-info",
        "-o",
        BASELINE,
    ]))
    .context("buf build")?;
    eprintln!("wrote {BASELINE}: commit it with the release");
    Ok(())
}

/// Files that differ, exist on one side only, relative to `label`.
fn differences(checked_in: &Path, fresh: &Path, label: &Path) -> Result<Vec<PathBuf>> {
    let mut names = std::collections::BTreeSet::new();
    for dir in [checked_in, fresh] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries {
                names.insert(entry?.file_name());
            }
        }
    }
    let mut differ = Vec::new();
    for name in names {
        let (a, b) = (checked_in.join(&name), fresh.join(&name));
        if name == "__pycache__" {
            continue;
        }
        if a.is_dir() || b.is_dir() {
            differ.extend(differences(&a, &b, &label.join(&name))?);
        } else if std::fs::read(&a).ok() != std::fs::read(&b).ok() {
            differ.push(label.join(&name));
        }
    }
    Ok(differ)
}
