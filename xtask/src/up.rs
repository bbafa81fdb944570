//! `cargo xtask up`: the whole stack on the default ports until Ctrl-C.

use anyhow::{Context as _, Result, bail};
use cinema_tests::auth::Claims;
use cinema_tests::{DatabaseChoice, NatsChoice, PortPlan, Service, Stack, StackOptions, postgres};

/// Own NATS and Postgres ports, so `up` never collides with system servers.
const NATS_PORT: u16 = 4223;
const NATS_MONITOR_PORT: u16 = 8223;
const POSTGRES_PORT: u16 = 5433;

pub async fn run(fresh: bool, build: bool, tls: bool) -> Result<()> {
    let root = cinema_tests::repo_root();
    let state = root.join(".cinema");

    if build {
        eprintln!("== building the services (cargo build --workspace --bins)");
        let status = crate::cargo()
            .current_dir(&root)
            .args(["build", "--workspace", "--bins"])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build failed ({status})");
        }
        build_page(&root)?;
    }

    let env = |key: &str| std::env::var(key).ok().filter(|v| !v.is_empty());
    let database = match env("CINEMA_DATABASE_URL") {
        Some(url) => DatabaseChoice::Server(url),
        None => DatabaseChoice::Embedded { port: Some(POSTGRES_PORT) },
    };
    let nats = match env("CINEMA_NATS_URL") {
        Some(url) => NatsChoice::Server(url),
        None => NatsChoice::Own { port: Some(NATS_PORT), monitor_port: Some(NATS_MONITOR_PORT) },
    };

    if fresh {
        eprintln!("== --fresh: wiping {}", state.display());
        if state.exists() {
            if !cinema_tests::process::reap_orphans(&state) {
                bail!("another `xtask up` still runs on {}", state.display());
            }
            std::fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
        }
        if let DatabaseChoice::Server(url) = &database {
            let names: Vec<String> = Service::ALL.iter().map(|s| format!("cinema_{}", s.name())).collect();
            postgres::drop_databases(url, &names).await?;
        }
        if matches!(nats, NatsChoice::Server(_)) {
            eprintln!("   (the external NATS server keeps its streams)");
        }
    }

    let local_ca = match tls {
        true => Some(cinema_tests::tls::LocalCa::load_or_create(&state.join("tls"))?),
        false => None,
    };
    eprintln!("== starting the stack (state and logs in {})", state.display());
    let options = StackOptions {
        ports: PortPlan::Defaults,
        state_dir: Some(state.clone()),
        database,
        nats,
        database_prefix: Some("cinema".to_owned()),
        drop_databases: false,
        supervise: true,
        gateway: true,
        rust_log: env("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
        gateway_tls: local_ca.as_ref().map(|ca| ca.gateway()),
        ..StackOptions::for_tests()
    };
    let options = Service::ALL.into_iter().fold(options, |options, service| {
        options.service_env(service, "CINEMA_METRICS_ADDR", &format!("127.0.0.1:{}", metrics_port(service)))
    });
    let stack = Stack::start(options).await?;

    eprintln!("== loading demo data through {}", stack.gateway_url());
    let ca = local_ca.as_ref().map(|ca| ca.ca_file());
    let demo = match crate::demo::load(&stack.gateway_url(), &stack.admin_token(), ca.as_deref()).await {
        Ok(demo) => Some(demo),
        Err(e) => {
            eprintln!("   could not load demo data: {e:#}");
            None
        }
    };
    print_examples(&stack, demo.as_ref(), ca);

    eprintln!("\n== running; Ctrl-C stops everything");
    wait_for_stop_signal().await?;
    eprintln!("\n== stopping");
    stack.shutdown().await?;
    eprintln!("== stopped");
    Ok(())
}

/// Where `cargo xtask up` serves a service's Prometheus metrics.
fn metrics_port(service: Service) -> u16 {
    9461 + Service::ALL.iter().position(|s| *s == service).unwrap_or_default() as u16
}

async fn wait_for_stop_signal() -> Result<()> {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("listening for Ctrl-C"),
        _ = term.recv() => Ok(()),
    }
}

fn print_examples(stack: &Stack, demo: Option<&crate::demo::Demo>, ca: Option<std::path::PathBuf>) {
    // With TLS: the name on the certificate, and the CA to trust.
    let (gw, grpcurl, curl) = match &ca {
        Some(ca) => (
            stack.gateway_addr().replace("127.0.0.1", "localhost"),
            format!("grpcurl -cacert {}", ca.display()),
            format!("curl --cacert {}", ca.display()),
        ),
        None => (stack.gateway_addr(), "grpcurl -plaintext".to_owned(), "curl".to_owned()),
    };
    println!("\n== cinema is up");
    println!("gateway       {}  (gRPC, gRPC-Web, REST)", stack.gateway_url());
    println!("envoy admin   {}", stack.gateway_admin_url());
    for service in Service::ALL {
        println!("{:<14}{}  db {}", service.name(), stack.grpc_url(service), stack.database_url(service));
    }
    println!("nats          {}", stack.nats_url());
    println!("logs          {}/logs/  (one file per process)", stack.run_dir().display());
    for service in Service::ALL {
        println!("metrics       http://127.0.0.1:{}/metrics  ({})", metrics_port(service), service.name());
    }
    println!("dashboard     mesh/observability/grafana-dashboard.json  (import into Grafana; Prometheus datasource)");
    match std::env::var("CINEMA_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => println!("traces        exported over OTLP to {endpoint}"),
        _ => println!(
            "traces        off; set CINEMA_OTLP_ENDPOINT=http://127.0.0.1:4317 (an OTLP/gRPC collector) and restart"
        ),
    }

    let (movie, screening) =
        demo.map(|d| (d.movie_id.as_str(), d.screening_id.as_str())).unwrap_or(("<movie id>", "<screening id>"));
    let customer = crate::demo::CUSTOMER_ID;
    let issuer = stack.issuer();
    let ttl = std::time::Duration::from_secs(24 * 3600);
    let sign = |claims: Claims| issuer.sign(&claims.ttl(ttl));
    let scheme = if ca.is_some() { "https" } else { "http" };
    if cinema_tests::web::is_built(&cinema_tests::web::dist_dir()) {
        println!("\n-- the customer's page: {scheme}://127.0.0.1:8080/ (sign in as a demo customer)");
    }
    println!("\n-- sign in: tokens from the dev issuer (valid 24 h; `cargo xtask token --customer <id>` makes more)");
    println!("export TOKEN={}", sign(Claims::new(customer)));
    println!("export ADMIN_TOKEN={}", sign(Claims::new("admin").roles(&["admin"])));
    println!("export OPERATOR_TOKEN={}", sign(Claims::new("ops-kim").roles(&["operator"])));
    let auth = "-H \"authorization: Bearer $TOKEN\"";
    println!("\n-- gRPC (grpcurl)");
    if !crate::on_path("grpcurl")
        && let Some(dir) = stack.grpcurl_path().parent()
    {
        println!("export PATH={}:$PATH", dir.display());
    }
    println!("{grpcurl} {gw} list");
    println!("{grpcurl} {gw} cinema.screening.v1.ScreeningService/ListMovies");
    println!("{grpcurl} -d '{{\"movieId\":\"{movie}\"}}' {gw} cinema.screening.v1.ScreeningService/ListScreenings");
    println!("{grpcurl} -d '{{\"screeningId\":\"{screening}\"}}' {gw} cinema.seats.v1.SeatsService/GetSeatMap");
    println!(
        "{grpcurl} {auth} -d '{{\"requestId\":\"'$(cat /proc/sys/kernel/random/uuid)'\",\"screeningId\":\"{screening}\",\"seatIds\":[\"A-1\",\"A-2\"],\"payment\":{{\"cardToken\":\"tok_visa\"}}}}' {gw} cinema.booking.v1.BookingService/BookTickets"
    );
    println!(
        "{grpcurl} {auth} -d '{{\"bookingNumber\":\"<booking number>\"}}' {gw} cinema.reservation.v1.BookingQueryService/WatchBooking"
    );
    println!(
        "{grpcurl} -H \"authorization: Bearer $OPERATOR_TOKEN\" -d '{{\"bookingNumber\":\"<booking number>\"}}' {gw} cinema.booking.v1.SagaOperatorService/GetSagaTimeline"
    );
    println!("\n-- REST (curl)");
    let base = stack.gateway_url();
    println!("{curl} -s {base}/v1/movies");
    println!("{curl} -s {base}/v1/movies/{movie}/screenings");
    println!("{curl} -s {base}/v1/screenings/{screening}/seats");
    println!(
        "{curl} -s -X POST {base}/v1/bookings {auth} -H 'content-type: application/json' -d '{{\"requestId\":\"'$(cat /proc/sys/kernel/random/uuid)'\",\"screeningId\":\"{screening}\",\"seatIds\":[\"I-5\",\"I-6\"],\"payment\":{{\"cardToken\":\"tok_visa\"}}}}'"
    );
    println!("{curl} -s {auth} {base}/v1/bookings/<booking number>");
    println!("{curl} -s {auth} {base}/v1/bookings/<booking number>/notifications");
    println!("{curl} -s -X DELETE {auth} {base}/v1/bookings/<booking number>");
    println!("{curl} -s {auth} {base}/v1/customers/{customer}/bookings");
    println!("{curl} -s {auth} {base}/v1/customers/{customer}/points");
    println!(
        "{curl} -s -X POST -H \"authorization: Bearer $ADMIN_TOKEN\" {base}/v1/movies -d '{{\"title\":\"듄\",\"status\":\"MOVIE_STATUS_RUNNING\",\"runningMinutes\":155}}'"
    );
}

/// Builds the customer's page (and the TypeScript SDK it uses) when node is here; the
/// gateway serves it at `/` (without node, `up` runs without the page).
fn build_page(root: &std::path::Path) -> Result<()> {
    if !root.join("web").join("package.json").exists() {
        return Ok(());
    }
    if !crate::on_path("node") || !crate::on_path("npm") {
        eprintln!("== no node/npm: the page is not built (Debian: apt-get install -y nodejs npm)");
        return Ok(());
    }
    eprintln!("== building the page (npm ci; npm run build --workspaces)");
    for args in [
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"][..],
        &["run", "build", "--workspaces", "--if-present"][..],
    ] {
        crate::status(std::process::Command::new("npm").current_dir(root).args(args))?;
    }
    Ok(())
}
