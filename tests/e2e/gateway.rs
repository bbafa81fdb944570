//! The Envoy gateway: its config is valid, it routes exactly the public services.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context as _, Result, ensure};
use cinema_tests::auth::DevIssuer;
use cinema_tests::{GatewayAuth, GatewayPorts, Stack, StackOptions, Tools, free_port, render_gateway_config};

#[test]
fn envoy_accepts_the_rendered_gateway_config() -> Result<()> {
    let tools = Tools::ensure(false)?;
    let dir = tempfile::tempdir()?;
    let descriptor = dir.path().join("cinema.pb");
    std::fs::write(&descriptor, cinema_proto::FILE_DESCRIPTOR_SET)?;
    let mut ports = GatewayPorts::with(free_port()?, free_port()?, |s| s.default_port());
    ports.auth = GatewayAuth::dev(DevIssuer::load_or_create(dir.path())?.jwks_path());
    let single = ports.clone();
    // Also with orchestrator replicas (health checks, booking retries).
    ports.orchestrator_replicas = vec![free_port()?, free_port()?];
    for (name, ports) in [("gateway.yaml", single), ("gateway-replicas.yaml", ports)] {
        let config = dir.path().join(name);
        std::fs::write(&config, render_gateway_config(&ports, &descriptor))?;
        let output = Command::new(&tools.envoy)
            .args(["--mode", "validate", "--disable-hot-restart", "-c"])
            .arg(&config)
            .output()
            .context("running envoy --mode validate")?;
        let log = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        ensure!(output.status.success(), "envoy rejected {name}:\n{log}");
        ensure!(log.contains("OK"), "no OK from envoy for {name}:\n{log}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_lists_the_public_services_through_the_gateway() -> Result<()> {
    let stack = Stack::start(StackOptions::for_tests()).await?;

    let output = Command::new(stack.grpcurl_path())
        .args(["-plaintext", &stack.gateway_addr(), "list"])
        .output()
        .context("running grpcurl list")?;
    ensure!(output.status.success(), "grpcurl list failed: {}", String::from_utf8_lossy(&output.stderr));
    let listed: BTreeSet<String> =
        String::from_utf8_lossy(&output.stdout).lines().map(|l| l.trim().to_owned()).collect();
    for service in cinema_proto::PUBLIC_SERVICES {
        ensure!(listed.contains(*service), "{service} missing from {listed:?}");
    }

    // Reflection lists the internal services too, but Envoy does not route them: an HTTP
    // 404 from the gateway, which gRPC reports as UNIMPLEMENTED.
    let mut payment =
        cinema_proto::payment::v1::payment_service_client::PaymentServiceClient::new(stack.gateway_channel()?);
    let status = payment
        .get_payment(cinema_proto::payment::v1::GetPaymentRequest::default())
        .await
        .expect_err("the internal PaymentService must not be reachable through the gateway");
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");

    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_is_transcoded_and_unknown_paths_are_404() -> Result<()> {
    let stack = Stack::start(StackOptions::for_tests()).await?;
    let http = reqwest::Client::new();
    let gateway = stack.gateway_url();

    let movies = http.get(format!("{gateway}/v1/movies")).send().await?;
    let status = movies.status();
    let body = movies.text().await?;
    ensure!(status == 200, "GET /v1/movies: {status}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).context("not JSON")?;
    ensure!(json["movies"].is_array(), "no movies array: {body}");

    for path in ["/v1/nothing-here", "/cinema.payment.v1.PaymentService/Charge"] {
        let response = http.post(format!("{gateway}{path}")).send().await?;
        ensure!(response.status() == 404, "{path}: {}", response.status());
    }
    stack.shutdown().await
}

/// `cargo xtask up --tls`: the gateway terminates TLS with a certificate from a local CA;
/// curl-like clients and the real grpcurl trust that CA, plaintext is refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_terminates_tls_with_the_local_ca() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = cinema_tests::tls::LocalCa::load_or_create(dir.path())?;
    let again = cinema_tests::tls::LocalCa::load_or_create(dir.path())?;
    ensure!(std::fs::read(ca.ca_file())? == std::fs::read(again.ca_file())?, "the CA is kept between runs");
    let stack = Stack::start(StackOptions { gateway_tls: Some(ca.gateway()), ..StackOptions::for_tests() }).await?;
    let gateway = stack.gateway_url();
    ensure!(gateway.starts_with("https://localhost:"), "{gateway}");

    let trusting = cinema_mesh::https::Tls::load(Some(&ca.ca_file()))?.client(std::time::Duration::from_secs(10))?;
    let movies = trusting.get(format!("{gateway}/v1/movies")).send().await?;
    ensure!(movies.status() == 200, "GET /v1/movies over TLS: {}", movies.status());
    let booking = trusting.get(format!("{gateway}/v1/bookings/BK000000000000")).send().await?;
    ensure!(booking.status() == 401, "sign-in still applies over TLS: {}", booking.status());
    let untrusting = cinema_mesh::https::Tls::load(None)?.client(std::time::Duration::from_secs(10))?;
    ensure!(untrusting.get(format!("{gateway}/v1/movies")).send().await.is_err(), "an unknown CA must not be trusted");
    let plaintext = reqwest::Client::new().get(gateway.replace("https://", "http://") + "/v1/movies").send().await;
    ensure!(plaintext.map_or(true, |r| !r.status().is_success()), "plaintext must not be served");

    let output = Command::new(stack.grpcurl_path())
        .arg("-cacert")
        .arg(ca.ca_file())
        .args([
            &stack.gateway_addr().replace("127.0.0.1", "localhost"),
            "cinema.screening.v1.ScreeningService/ListMovies",
        ])
        .output()
        .context("running grpcurl")?;
    ensure!(output.status.success(), "grpcurl over TLS: {}", String::from_utf8_lossy(&output.stderr));
    stack.shutdown().await
}

/// The customer's page, when built, is served by the gateway itself: its files with
/// their content types, and a `config.json` whose demo customers can sign in.
#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_serves_the_page_and_its_demo_sign_in() -> anyhow::Result<()> {
    anyhow::ensure!(
        cinema_tests::web::is_built(&cinema_tests::web::dist_dir()),
        "web/dist is not built: npm run build -w web (cargo xtask test does)"
    );
    let stack = Stack::start(StackOptions::for_tests()).await?;
    let http = reqwest::Client::new();
    for (path, content_type) in [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
        ("/config.json", "application/json"),
    ] {
        let answer = http.get(format!("{}{path}", stack.gateway_url())).send().await?;
        anyhow::ensure!(answer.status() == 200, "{path}: {}", answer.status());
        let got = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        anyhow::ensure!(got.starts_with(content_type), "{path}: content-type {got}");
        anyhow::ensure!(!answer.bytes().await?.is_empty(), "{path}: empty");
    }
    // Demo customers sign in with tokens the gateway accepts.
    let config: serde_json::Value =
        http.get(format!("{}/config.json", stack.gateway_url())).send().await?.json().await?;
    let kim = &config["signIn"]["customers"][0];
    anyhow::ensure!(config["signIn"]["kind"] == "demo" && kim["id"] == "kim", "{config}");
    let token = kim["token"].as_str().unwrap_or_default();
    let points = http.get(format!("{}/v1/customers/kim/points", stack.gateway_url())).bearer_auth(token).send().await?;
    anyhow::ensure!(points.status() == 200, "kim's demo token: {}", points.status());
    // Only GET; other paths stay unknown.
    let post = http.post(format!("{}/app.js", stack.gateway_url())).send().await?;
    anyhow::ensure!(post.status() == 404, "POST /app.js: {}", post.status());
    let other = http.get(format!("{}/secrets.txt", stack.gateway_url())).send().await?;
    anyhow::ensure!(other.status() == 404, "GET /secrets.txt: {}", other.status());
    stack.shutdown().await?;
    Ok(())
}
