//! Settings reach the code: the services run with the environment the Helm chart gives
//! them (the ConfigMaps of a render of `helm/cinema`), and each setting changes what the
//! code does. The chart is rendered like `cargo xtask test` renders it (`helm/ci/render.py`
//! in the chart venv; provisioned here when missing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use cinema_tests::{Service, StackOptions, repo_root};
use serde_json::Value;

use crate::client::TestApp;

/// Chart values that differ from every default, so a match proves the chart's value won.
const OVERRIDES: &str = "\
services:
  seats:
    settings:
      CINEMA_HOLD_TTL_SECS: \"7\"
  payment:
    settings:
      CINEMA_MERCHANT_ID: cinema-chart-merchant-42
";

/// String settings and what proves each reaches the code (the rest are numbers or lists,
/// proven by `every_setting_of_the_chart_is_read`).
const PROVEN_OTHERWISE: &[(&str, &str)] = &[
    ("CINEMA_MERCHANT_ID", "the payment row and the acquirer request carry it (below)"),
    ("CINEMA_LOG_FORMAT", "every log line is JSON (below)"),
    ("RUST_LOG", "the acquirer's debug line appears only with the filter that enables it"),
    ("CINEMA_CONFIG", "the secret TOML: the harness gives database and NATS URLs as env instead"),
    ("CINEMA_LISTEN_ADDR", "helm/ci/validate.py: its port is the probes' and the container's"),
    ("CINEMA_SEATS_URL", "the Service names: a booking through the orchestrator completes"),
    ("CINEMA_PAYMENT_URL", "as above"),
    ("CINEMA_RESERVATION_URL", "as above"),
    ("CINEMA_METRICS_ADDR", "observe::the_metrics_endpoints_show_a_booking_go_through scrapes it"),
];

/// Settings the harness must own (ports, files, peers on this machine): in a pod every
/// service has its own 0.0.0.0:9090 for metrics; on one machine they would collide.
const HARNESS_OWNED: &[&str] = &[
    "CINEMA_CONFIG",
    "CINEMA_LISTEN_ADDR",
    "CINEMA_SEATS_URL",
    "CINEMA_PAYMENT_URL",
    "CINEMA_RESERVATION_URL",
    "CINEMA_METRICS_ADDR",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_hold_ttl_and_the_merchant_id_from_the_chart_reach_the_code() -> Result<()> {
    let settings = chart_settings(OVERRIDES)?;
    assert_eq!(settings[&Service::Seats]["CINEMA_HOLD_TTL_SECS"], "7");
    assert_eq!(settings[&Service::Payment]["CINEMA_MERCHANT_ID"], "cinema-chart-merchant-42");

    let mut options = StackOptions::for_tests();
    for (service, env) in &settings {
        for (key, value) in env {
            if !HARNESS_OWNED.contains(&key.as_str()) {
                options = options.service_env(*service, key, value);
            }
        }
    }
    // The acquirer logs its request at debug; the rest of the filter is the chart's.
    let chart_filter = settings[&Service::Payment]["RUST_LOG"].clone();
    options =
        options.service_env(Service::Payment, "RUST_LOG", &format!("{chart_filter},cinema_payment::acquirer=debug"));
    let app = TestApp::spawn_with(options).await?;

    let movie = app.register_movie("차트").await?;
    let screening = app.schedule(movie["movieId"].as_str().context("movieId")?, 3).await?;
    let booking = app.book(&screening, &["C-3"], "tok_visa").await?.ok()?;
    assert_eq!(booking["status"], "BOOKING_STATUS_CONFIRMED", "{booking}");
    let number = booking["bookingNumber"].as_str().context("bookingNumber")?;

    // The hold lasted the chart's 7 s, not the default 600 s.
    let holds = app
        .count(
            Service::Seats,
            &format!(
                "SELECT count(*) AS n FROM holds WHERE booking_number = '{number}' \
                 AND expires_at - created_at BETWEEN interval '6 seconds' AND interval '9 seconds'"
            ),
        )
        .await?;
    assert_eq!(holds, 1, "the hold of {number} does not expire 7 s after it was taken");

    // The payment was made as the chart's merchant: recorded, and sent to the acquirer.
    let payments = app
        .count(
            Service::Payment,
            &format!(
                "SELECT count(*) AS n FROM payments WHERE booking_number = '{number}' \
                 AND merchant_id = 'cinema-chart-merchant-42'"
            ),
        )
        .await?;
    assert_eq!(payments, 1, "the payment of {number} was not made as the chart's merchant");
    let log = std::fs::read_to_string(app.stack.log_path(Service::Payment))?;
    let request = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| {
            line["message"] == "Acquirer answered." && line["key"].as_str().is_some_and(|k| k.starts_with(number))
        })
        .with_context(|| format!("no acquirer request for {number} in the payment log"))?;
    assert_eq!(request["merchant_id"], "cinema-chart-merchant-42", "{request}");

    // CINEMA_LOG_FORMAT=json: every service logs one JSON object per line.
    for service in Service::ALL {
        let log = std::fs::read_to_string(app.stack.log_path(service))?;
        // The harness marks each start with a `=== starting ...` line of its own.
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("=== ")).collect();
        ensure!(!lines.is_empty(), "{service} logged nothing");
        for line in lines {
            ensure!(serde_json::from_str::<Value>(line).is_ok(), "{service} logged a non-JSON line: {line}");
        }
    }
    app.stack.shutdown().await
}

/// Every setting in the chart's ConfigMaps is read by the binary it is given to: a number
/// or a list that the binary cannot parse makes it refuse to start, naming the setting
/// (an unknown `CINEMA_*` key would be ignored, so this fails for a setting nothing reads).
/// String settings must be in [`PROVEN_OTHERWISE`].
#[tokio::test(flavor = "multi_thread")]
async fn every_setting_of_the_chart_is_read() -> Result<()> {
    let settings = chart_settings("")?;
    let app = TestApp::spawn_with(StackOptions { gateway: false, ..StackOptions::for_tests() }).await?;
    let bin_dir = cinema_tests::stack::default_bin_dir()?;
    let mut checked = 0;
    for (service, env) in &settings {
        for (key, value) in env {
            let parseable = value.parse::<f64>().is_ok() || value.starts_with('[');
            if !parseable {
                ensure!(
                    PROVEN_OTHERWISE.iter().any(|(k, _)| k == key),
                    "{service}: the chart sets {key}={value}, and no test proves the binary reads it"
                );
                continue;
            }
            let field = key.trim_start_matches("CINEMA_").to_lowercase().replace("__", ".");
            let output = run_until_exit(
                Command::new(bin_dir.join(service.binary()))
                    .env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .env("CINEMA_LISTEN_ADDR", "127.0.0.1:0")
                    .env("CINEMA_DATABASE_URL", app.stack.database_url(*service))
                    .env("CINEMA_NATS_URL", app.stack.nats_url())
                    .env(key, "not-a-number"),
                Duration::from_secs(30),
            )
            .with_context(|| format!("{service} with {key}=not-a-number"))?;
            // Serde's flatten may drop the key from the message; the bad value stays in it.
            ensure!(
                output.contains(&field) || output.contains("not-a-number"),
                "{service} refused {key}=not-a-number for another reason:\n{output}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} settings checked");
    app.stack.shutdown().await
}

/// The chart ships the descriptor set the protos compile to (the gateway's REST
/// transcoder reads it). Refresh: `CINEMA_UPDATE_CHART=1 cargo test -p cinema-tests --test e2e chart::`.
#[test]
fn the_chart_ships_the_current_descriptor_set() {
    let path = repo_root().join("helm/cinema/files/cinema.pb");
    if std::env::var_os("CINEMA_UPDATE_CHART").is_some() {
        std::fs::write(&path, cinema_proto::FILE_DESCRIPTOR_SET).expect("write the descriptor set");
    }
    let shipped = std::fs::read(&path).expect("read helm/cinema/files/cinema.pb");
    assert!(
        shipped == cinema_proto::FILE_DESCRIPTOR_SET,
        "helm/cinema/files/cinema.pb is stale: CINEMA_UPDATE_CHART=1 cargo test -p cinema-tests --test e2e chart::"
    );
}

/// The chart's mesh policy names exactly the internal services of the protos.
#[test]
fn mesh_policy_matches_the_protos() {
    let validate = std::fs::read_to_string(repo_root().join("helm/ci/validate.py")).expect("validate.py");
    let helpers =
        std::fs::read_to_string(repo_root().join("helm/cinema/templates/_helpers.tpl")).expect("_helpers.tpl");
    for service in cinema_proto::INTERNAL_SERVICES {
        assert!(validate.contains(&format!("\"{service}\"")), "validate.py does not guard {service}");
        assert!(helpers.contains(&format!("internal: [{service}]")), "the chart catalog misses {service}");
    }
    for service in cinema_proto::PUBLIC_SERVICES {
        assert!(helpers.contains(service), "the chart catalog misses {service}");
    }
}

/// The ConfigMap of each gRPC workload in a render of the chart with `values`.
fn chart_settings(values: &str) -> Result<BTreeMap<Service, BTreeMap<String, String>>> {
    let root = repo_root();
    let dir = tempfile::tempdir()?;
    let values_file = dir.path().join("values.yaml");
    std::fs::write(&values_file, values)?;
    let out = dir.path().join("render.yaml");
    let python = chart_python(&root)?;
    let output = Command::new(&python)
        .current_dir(&root)
        .args(["helm/ci/render.py", "template", "helm/cinema", "cinema", "cinema"])
        .arg(&out)
        .arg(&values_file)
        .output()?;
    ensure!(output.status.success(), "render failed: {}", String::from_utf8_lossy(&output.stderr));
    let docs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(out.with_extension("yaml.json"))?)?;
    let mut settings = BTreeMap::new();
    for service in Service::ALL {
        let name = format!("cinema-{}", service.name());
        let map = docs
            .iter()
            .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name.as_str())
            .and_then(|d| d["data"].as_object())
            .with_context(|| format!("no ConfigMap {name}"))?;
        let env = map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect();
        settings.insert(service, env);
    }
    Ok(settings)
}

/// `$CINEMA_TOOLS_DIR/chart-venv/bin/python` (what `cargo xtask test` provisions), created
/// here with the same pins when missing.
fn chart_python(root: &Path) -> Result<PathBuf> {
    let dir = cinema_tests::tools::tools_dir().join("chart-venv");
    let python = dir.join("bin/python");
    std::fs::create_dir_all(&dir)?;
    let lock = std::fs::File::create(dir.join(".provision.lock"))?;
    lock.lock()?;
    let ready = || {
        Command::new(&python)
            .args(["-c", "import helm_sdkpy, yaml"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready() {
        let run = |command: &mut Command| -> Result<()> {
            let status = command.status()?;
            ensure!(status.success(), "{command:?} failed");
            Ok(())
        };
        if !python.exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
        }
        let pip = || {
            let mut c = Command::new(&python);
            c.args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet"]);
            c
        };
        run(pip().arg("-r").arg(root.join("helm/ci/requirements.txt")))?;
        run(pip().args(["--ignore-requires-python", "--no-deps", "helm-sdkpy==0.1.32"]))?;
    }
    Ok(python)
}

/// Runs `command` until it exits (polling, with a deadline); its stdout and stderr. A
/// process still running at the deadline, or exiting successfully, did not refuse.
fn run_until_exit(command: &mut Command, deadline: Duration) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path)?;
    let mut child = command.stdout(out.try_clone()?).stderr(out).spawn()?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            let output = std::fs::read_to_string(&out_path)?;
            ensure!(!status.success(), "exited successfully:\n{output}");
            return Ok(output);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "still running after {deadline:?} (the setting is not read):\n{}",
                std::fs::read_to_string(&out_path)?
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
