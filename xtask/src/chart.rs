//! The chart step of `cargo xtask test`: the Helm chart (`helm/cinema`) is linted, rendered
//! without a cluster, schema-checked, policy-checked, and its gateway config validated by
//! the real Envoy.
//!
//! Tools: a venv of its own, `$CINEMA_TOOLS_DIR/chart-venv`, with the pinned
//! `helm/ci/requirements.txt` plus `helm-sdkpy` (Helm's Go library with Python bindings),
//! installed once and reused while the pins do not change.
//!
//! Rendering: helm-sdkpy has no `template` action, so `helm/ci/render.py` runs Helm's own
//! install against a stand-in API server on 127.0.0.1 (discovery + accept every create,
//! releases in Helm's memory driver) and keeps the release manifest. Four renders: the
//! default values, `helm/ci/values-linkerd-external.yaml` (Linkerd on, external Postgres
//! and NATS, no page), `helm/ci/values-tls-oidc.yaml` (TLS on the gateway's listener, the
//! signing keys inline, the page's sign-in set explicitly), and `helm/ci/values-ha.yaml`
//! (a NATS cluster of three and a CloudNativePG Cluster of three instances).
//!
//! Envoy validates each gateway config with the files it names in place: the chart's
//! descriptor set, a throwaway TLS pair, and the page's files written out of the render's
//! ConfigMap.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context as _, Result, bail, ensure};

/// `helm-sdkpy`: installed apart from the requirements (see helm/ci/requirements.txt).
const HELM_SDKPY: &str = "helm-sdkpy==0.1.32";

/// The renders: (name, extra values files).
const RENDERS: [(&str, &[&str]); 4] = [
    ("default", &[]),
    ("linkerd-external", &["helm/ci/values-linkerd-external.yaml"]),
    ("tls-oidc", &["helm/ci/values-tls-oidc.yaml"]),
    ("ha", &["helm/ci/values-ha.yaml"]),
];

/// checkov checks skipped, each with why:
/// - CKV_K8S_43 "Image should use digest": the pipeline deploys immutable per-commit tags
///   (`sha-<commit>`, never reused) and the chart takes a digest wherever one is known
///   (`*.image.digest`); the default render has none to give.
const CHECKOV_SKIPS: &[&str] = &["CKV_K8S_43"];

/// Runs the whole step; prints what it measured.
pub fn run(root: &Path) -> Result<()> {
    let python = ensure_venv(root)?;
    let out = render_dir(root);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    // Lint (strict). The binding drops Helm's messages, so on failure render for the reason.
    let lint = capture(Command::new(&python).current_dir(root).args(["helm/ci/render.py", "lint", "helm/cinema"]))?;
    if !lint.status.success() {
        let why = capture(
            Command::new(&python)
                .current_dir(root)
                .args(["helm/ci/render.py", "template", "helm/cinema"])
                .args(["cinema", "cinema"])
                .arg(out.join("lint-failure.yaml")),
        )?;
        bail!("helm lint failed:\n{}{}", text(&lint), text(&why));
    }
    eprintln!("[chart] helm lint: ok");

    let mut rendered = Vec::new();
    for (name, values) in RENDERS {
        let file = out.join(format!("{name}.yaml"));
        let mut command = Command::new(&python);
        command
            .current_dir(root)
            .args(["helm/ci/render.py", "template", "helm/cinema", "cinema", "cinema"])
            .arg(&file)
            .args(values);
        let output = capture(&mut command)?;
        ensure!(output.status.success(), "rendering the chart ({name}) failed:\n{}", text(&output));
        rendered.push(file);
    }

    let validate = capture(Command::new(&python).current_dir(root).arg("helm/ci/validate.py").args(&rendered))?;
    ensure!(validate.status.success(), "the rendered manifests are invalid:\n{}", text(&validate));
    eprintln!("[chart] kubernetes-validate and chart checks: {}", String::from_utf8_lossy(&validate.stdout).trim());

    checkov(&python, &rendered)?;
    for file in &rendered {
        envoy_validate(root, file)?;
    }
    Ok(())
}

/// Where the renders go: `<target dir>/chart`.
fn render_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("chart")
}

/// The chart venv's python, provisioned when missing or when the pins changed.
pub fn ensure_venv(root: &Path) -> Result<PathBuf> {
    let dir = cinema_tests::tools::tools_dir().join("chart-venv");
    let python = dir.join("bin").join("python");
    let requirements = root.join("helm/ci/requirements.txt");
    let pins = format!(
        "{}\n{HELM_SDKPY}\n",
        std::fs::read_to_string(&requirements).context("reading helm/ci/requirements.txt")?
    );
    let stamp = dir.join(".pins");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins) {
        return Ok(python);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".provision.lock")).context("creating the chart venv lock")?;
    lock.lock().context("locking the chart venv")?;
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins) {
        return Ok(python);
    }
    eprintln!("[chart] provisioning {}", dir.display());
    if !python.exists() {
        crate::status(Command::new("python3").args(["-m", "venv"]).arg(&dir))
            .context("python3 -m venv (Debian: apt-get install python3-venv)")?;
    }
    let pip = || {
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet"]);
        pip
    };
    crate::status(pip().arg("-r").arg(&requirements)).context("pip install -r helm/ci/requirements.txt")?;
    crate::status(pip().args(["--ignore-requires-python", "--no-deps", HELM_SDKPY]))
        .context("pip install helm-sdkpy")?;
    std::fs::write(&stamp, pins).context("writing the chart venv stamp")?;
    Ok(python)
}

/// checkov's Kubernetes policies over every render; fails on any failed check.
fn checkov(python: &Path, rendered: &[PathBuf]) -> Result<()> {
    let checkov = python.with_file_name("checkov");
    let mut command = Command::new(checkov);
    command
        .args(["--framework", "kubernetes", "--compact", "--quiet", "-o", "json", "--skip-check"])
        .arg(CHECKOV_SKIPS.join(","));
    for file in rendered {
        command.arg("-f").arg(file);
    }
    let output = capture(&mut command)?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("checkov printed no JSON report:\n{}", text(&output)))?;
    let reports = match report {
        serde_json::Value::Array(reports) => reports,
        one => vec![one],
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for report in &reports {
        let summary = &report["summary"];
        passed += summary["passed"].as_u64().unwrap_or(0);
        failed += summary["failed"].as_u64().unwrap_or(0);
        skipped += summary["skipped"].as_u64().unwrap_or(0);
        for check in report["results"]["failed_checks"].as_array().into_iter().flatten() {
            failures.push(format!("{} {} ({})", check["check_id"], check["resource"], check["check_name"]));
        }
    }
    ensure!(failed == 0 && output.status.success(), "checkov: {failed} failed:\n{}", failures.join("\n"));
    ensure!(passed > 0, "checkov checked nothing:\n{}", text(&output));
    eprintln!("[chart] checkov: {passed} passed, {failed} failed, {skipped} skipped ({})", CHECKOV_SKIPS.join(", "));
    Ok(())
}

/// `envoy --mode validate` on the gateway config of one render, with the chart's
/// descriptor set; the image's Envoy minor version must be the one validating it.
fn envoy_validate(root: &Path, rendered: &Path) -> Result<()> {
    let docs: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(rendered.with_extension("yaml.json")).context("reading the rendered JSON")?,
    )?;
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["data"]["envoy.yaml"].is_string())
        .and_then(|d| d["data"]["envoy.yaml"].as_str())
        .context("no gateway ConfigMap in the render")?;
    let image = docs
        .iter()
        .filter(|d| d["kind"] == "Deployment")
        .flat_map(|d| d["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default())
        .find(|c| c["name"] == "envoy")
        .and_then(|c| c["image"].as_str().map(str::to_owned))
        .context("no envoy container in the render")?;

    let tools = cinema_tests::Tools::ensure(false)?;
    let version = capture(Command::new(&tools.envoy).arg("--version"))?;
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    // `<path>  version: <commit>/1.40.0/Clean/RELEASE/BoringSSL`
    let minor = version
        .split_once("version: ")
        .and_then(|(_, v)| v.split('/').nth(1))
        .and_then(|v| v.rsplit_once('.').map(|(minor, _)| minor.to_owned()))
        .with_context(|| format!("envoy --version: {version}"))?;
    ensure!(
        image.contains(&format!("v{minor}.")),
        "the gateway image {image} is not Envoy {minor}, the version the config is validated with"
    );

    let descriptor = root.join("helm/cinema/files/cinema.pb");
    // The listener's certificate (gateway.tls): a throwaway pair stands in for the Secret.
    let tls = root.join("helm/ci/tls");
    // The page's files (web.enabled), as the pods mount them from the render's ConfigMap.
    let web = rendered.with_extension("web");
    write_page_files(&docs, &web)?;
    let file = rendered.with_extension("envoy.yaml");
    std::fs::write(
        &file,
        config
            .replace("/etc/envoy/descriptor/cinema.pb", &descriptor.display().to_string())
            .replace("/etc/envoy/tls/", &format!("{}/", tls.display()))
            .replace("/etc/envoy/web/", &format!("{}/", web.display())),
    )?;
    let output = capture(
        Command::new(&tools.envoy)
            .args(["--mode", "validate", "--disable-hot-restart", "--log-level", "error", "-c"])
            .arg(&file),
    )?;
    if !output.status.success() {
        let all = text(&output);
        let tail = all.char_indices().rev().nth(3000).map_or(all.as_str(), |(i, _)| &all[i..]);
        bail!("envoy --mode validate {}:\n{tail}", file.display());
    }
    eprintln!(
        "[chart] envoy {minor} --mode validate ({}): ok",
        rendered.file_stem().unwrap_or_default().to_string_lossy()
    );
    Ok(())
}

/// Writes the files of the ConfigMap the gateway mounts at `/etc/envoy/web` (none when the
/// render has no page) into `dir`, emptied first.
fn write_page_files(docs: &[serde_json::Value], dir: &Path) -> Result<()> {
    use base64::Engine as _;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    let volume =
        docs.iter().filter(|d| d["kind"] == "Deployment").map(|d| &d["spec"]["template"]["spec"]).find_map(|pod| {
            let envoy = pod["containers"].as_array()?.iter().find(|c| c["name"] == "envoy")?;
            let mount = envoy["volumeMounts"].as_array()?.iter().find(|m| m["mountPath"] == "/etc/envoy/web")?;
            pod["volumes"].as_array()?.iter().find(|v| v["name"] == mount["name"])
        });
    let Some(name) = volume.and_then(|v| v["configMap"]["name"].as_str()) else {
        return Ok(());
    };
    let map = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name)
        .with_context(|| format!("the gateway mounts ConfigMap {name} at /etc/envoy/web; the render has none"))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (key, value) in map["data"].as_object().into_iter().flatten() {
        std::fs::write(dir.join(key), value.as_str().unwrap_or_default())?;
    }
    for (key, value) in map["binaryData"].as_object().into_iter().flatten() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap_or_default())
            .with_context(|| format!("ConfigMap {name}: binaryData {key} is not base64"))?;
        std::fs::write(dir.join(key), bytes)?;
    }
    Ok(())
}

fn capture(command: &mut Command) -> Result<Output> {
    command.output().with_context(|| format!("running {command:?}"))
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
