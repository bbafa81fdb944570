//! `cargo xtask web`: the chart's copy of the customer's page.
//!
//! In production the Envoy gateway serves the page itself, from files the Helm chart ships
//! (`helm/cinema/files/web/`, a ConfigMap mounted into the gateway pods). They are the
//! output of the page's build (`web/dist/`), checked in so the chart installs from the
//! repository alone.
//!
//! - `cargo xtask web` builds the page (`npm ci`, then `npm run build -w web`, which builds
//!   the TypeScript SDK first) and copies the built files into the chart.
//! - `cargo xtask web --check` builds it and fails when the chart's copy differs; `cargo
//!   xtask test` runs the comparison after its own build of the page.
//!
//! The build is deterministic (fixed names, no hashes, no timestamps, no absolute paths:
//! see `web/build.mjs`), so a difference always means the copy is stale.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// The files the build writes and the chart ships.
pub const FILES: [&str; 3] = ["index.html", "app.js", "app.css"];

/// Where the build writes them, relative to the root.
const DIST: &str = "web/dist";

/// The chart's copy, relative to the root.
pub const CHART_COPY: &str = "helm/cinema/files/web";

/// `npm ci` at the root (the npm workspace), then the page's build.
pub fn build(root: &Path) -> Result<()> {
    crate::sdk::npm_ci(root)?;
    crate::status(Command::new("npm").current_dir(root).args(["run", "build", "-w", "web"]))
        .context("npm run build -w web")
}

/// Copies the built page into the chart.
pub fn update(root: &Path) -> Result<()> {
    let copy = root.join(CHART_COPY);
    std::fs::create_dir_all(&copy).with_context(|| format!("creating {}", copy.display()))?;
    for name in FILES {
        let from = root.join(DIST).join(name);
        std::fs::copy(&from, copy.join(name)).with_context(|| format!("copying {}", from.display()))?;
    }
    for name in stale_extras(&copy)? {
        std::fs::remove_file(copy.join(&name)).with_context(|| format!("removing {CHART_COPY}/{name}"))?;
    }
    eprintln!("copied {DIST}/{{{}}} to {CHART_COPY}: commit them", FILES.join(","));
    Ok(())
}

/// Fails when the chart's copy is not the page as built in `web/dist/`.
pub fn check(root: &Path) -> Result<()> {
    let copy = root.join(CHART_COPY);
    let mut stale: Vec<String> = Vec::new();
    for name in FILES {
        let built = std::fs::read(root.join(DIST).join(name))
            .with_context(|| format!("reading {DIST}/{name} (build the page first: npm run build -w web)"))?;
        if std::fs::read(copy.join(name)).ok().as_deref() != Some(built.as_slice()) {
            stale.push(name.to_owned());
        }
    }
    stale.extend(stale_extras(&copy)?);
    if !stale.is_empty() {
        bail!(
            "the chart's copy of the page ({CHART_COPY}) is stale ({}); run `cargo xtask web` and commit",
            stale.join(", ")
        );
    }
    eprintln!("the chart ships the page as built ({CHART_COPY})");
    Ok(())
}

/// Files in the chart's copy the build does not write.
fn stale_extras(copy: &Path) -> Result<Vec<String>> {
    let mut extras = Vec::new();
    let entries = match std::fs::read_dir(copy) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(extras),
        Err(e) => return Err(e).with_context(|| format!("listing {}", copy.display())),
    };
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !FILES.contains(&name.as_str()) {
            extras.push(name);
        }
    }
    extras.sort();
    Ok(extras)
}
