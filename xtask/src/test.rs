//! `cargo xtask test`: what CI (`.ci/run`) runs.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use cinema_tests::Tools;

struct Step {
    name: &'static str,
    ok: bool,
    took: Duration,
}

pub fn run() -> Result<()> {
    let root = cinema_tests::repo_root();
    let mut steps: Vec<Step> = Vec::new();
    let outcome = run_steps(&root, &mut steps);

    eprintln!("\n== xtask test summary");
    for step in &steps {
        eprintln!("  {:<6} {:<40} {:>6.1}s", if step.ok { "ok" } else { "FAILED" }, step.name, step.took.as_secs_f64());
    }
    match &outcome {
        Ok(()) => eprintln!("== all {} steps passed", steps.len()),
        Err(e) => eprintln!("== failed: {e:#}"),
    }
    outcome
}

fn run_steps(root: &std::path::Path, steps: &mut Vec<Step>) -> Result<()> {
    let cargo_step = |steps: &mut Vec<Step>, name: &'static str, args: &[&str]| -> Result<()> {
        let mut command = crate::cargo();
        command.current_dir(root).args(args);
        timed(steps, name, || status(&mut command))
    };
    cargo_step(steps, "cargo fmt --check", &["fmt", "--all", "--check"])?;
    cargo_step(steps, "cargo clippy -D warnings", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo_step(steps, "cargo build --workspace --bins", &["build", "--workspace", "--bins"])?;

    let need_postgres = std::env::var_os("CINEMA_DATABASE_URL").is_none() && !cinema_tests::port_open(5432);
    let mut tools = None;
    timed(steps, "provision tools", || {
        tools = Some(Tools::ensure(need_postgres)?);
        Ok(())
    })?;
    let tools = tools.context("tools were not provisioned")?;
    let path = tools.extended_path()?;
    timed(steps, "helm chart: lint, render, validate", || crate::chart::run(root))?;

    // The SDKs and the page: their packages, their generated code against a fresh
    // generation, the contract gates; then built (the page is served by the stacks the
    // tests start; the SDKs' suites run against them), and the page compared with the
    // chart's copy (`cargo xtask web` refreshes it).
    let mut sdk_tools = None;
    timed(steps, "SDKs: npm ci, Python packages", || {
        sdk_tools = Some(crate::sdk::provision(root)?);
        Ok(())
    })?;
    let sdk_tools = sdk_tools.context("the SDK tools were not provisioned")?;
    timed(steps, "SDKs: generated code current; buf lint, breaking", || {
        crate::sdk::check_generated(root, &sdk_tools)?;
        crate::sdk::check_contracts(root, &sdk_tools)
    })?;
    let mut npm_build = Command::new("npm");
    npm_build.current_dir(root).args(["run", "build", "--workspaces", "--if-present"]);
    timed(steps, "npm run build (TypeScript SDK, the page)", || status(&mut npm_build))?;
    timed(steps, "the chart ships the page as built", || crate::web::check(root))?;
    cargo_step(steps, "cargo test --doc -p cinema-client", &["test", "--doc", "--package", "cinema-client"])?;

    let nextest = crate::cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let (name, args): (&'static str, &[&str]) = if nextest {
        ("cargo nextest run --workspace", &["nextest", "run", "--workspace", "--no-fail-fast"])
    } else {
        ("cargo test --workspace", &["test", "--workspace", "--no-fail-fast"])
    };
    let mut command = crate::cargo();
    command.current_dir(root).args(args).env("PATH", &path).env("CINEMA_TOOLS_DIR", cinema_tests::tools::tools_dir());
    timed(steps, name, || status(&mut command))?;

    // The benchmark in small (release build, a release stack): it must keep working. Through
    // cargo, not this executable (the build above may have replaced its file), with the
    // provisioned engines first on PATH (an older nats-server may be on the system's).
    let mut bench = crate::cargo();
    bench
        .current_dir(root)
        .args(["run", "--quiet", "--package", "xtask", "--", "bench", "--quick"])
        .env("PATH", &path)
        .env("CINEMA_TOOLS_DIR", cinema_tests::tools::tools_dir());
    timed(steps, "cargo xtask bench --quick (release)", || status(&mut bench))
}

fn timed(steps: &mut Vec<Step>, name: &'static str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("\n== {name}");
    let start = Instant::now();
    let result = f();
    steps.push(Step { name, ok: result.is_ok(), took: start.elapsed() });
    result.with_context(|| format!("step `{name}`"))
}

fn status(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("exited with {status}");
    }
    Ok(())
}
