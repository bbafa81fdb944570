//! The Envoy gateway config, rendered from the template `mesh/envoy/gateway.yaml`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::process::{Proc, ProcSpec, tail};
use crate::{Service, Stack, free_port, poll_until};

/// The template, compiled in so the harness works from any directory.
pub const GATEWAY_TEMPLATE: &str = include_str!("../../mesh/envoy/gateway.yaml");

/// Where the gateway listens and where each routed service listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayPorts {
    /// The address the listener binds (`127.0.0.1` for tests, `0.0.0.0` to expose it).
    pub listen_address: String,
    pub listen: u16,
    pub admin: u16,
    /// The host the upstream services listen on.
    pub upstream_host: String,
    pub orchestrator: u16,
    /// More orchestrator replicas behind the same cluster (empty: one orchestrator). With
    /// any, Envoy health-checks every orchestrator and retries a booking on another one
    /// when its replica refuses or drops it (see [`with_orchestrator_replicas`]).
    pub orchestrator_replicas: Vec<u16>,
    pub screening: u16,
    pub seats: u16,
    pub reservation: u16,
    pub notification: u16,
    pub loyalty: u16,
    /// The local rate limit on the public routes.
    pub rate_limit: RateLimit,
    /// Whose bearer tokens the gateway accepts.
    pub auth: GatewayAuth,
    /// Terminate TLS on the listener (`None`: plaintext).
    pub tls: Option<GatewayTls>,
    /// Serve the customer's page at `/` (`None`: no page).
    pub web: Option<WebFiles>,
}

/// The customer's page: the built files (`index.html`, `app.js`, `app.css`) and the
/// `config.json` it reads at start (how to sign in, where the gateway is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFiles {
    pub dist: PathBuf,
    pub config: PathBuf,
}

impl WebFiles {
    /// The files Envoy serves: (path, file, content type).
    fn routes(&self) -> [(&'static str, PathBuf, &'static str); 5] {
        let html = "text/html; charset=utf-8";
        [
            ("/", self.dist.join("index.html"), html),
            ("/index.html", self.dist.join("index.html"), html),
            ("/app.js", self.dist.join("app.js"), "text/javascript; charset=utf-8"),
            ("/app.css", self.dist.join("app.css"), "text/css; charset=utf-8"),
            ("/config.json", self.config.clone(), "application/json"),
        ]
    }

    /// The route list items (flow style, one per line).
    fn render(&self) -> String {
        self.routes()
            .iter()
            .map(|(path, file, content_type)| {
                format!(
                    "- {{ match: {{ path: {path:?}, headers: [{{ name: \":method\", string_match: {{ exact: GET }} }}] }}, \
                     direct_response: {{ status: 200, body: {{ filename: {:?} }} }}, response_headers_to_add: [\
                     {{ header: {{ key: content-type, value: {content_type:?} }}, append_action: OVERWRITE_IF_EXISTS_OR_ADD }}, \
                     {{ header: {{ key: cache-control, value: no-cache }}, append_action: OVERWRITE_IF_EXISTS_OR_ADD }}, \
                     {{ header: {{ key: x-content-type-options, value: nosniff }}, append_action: OVERWRITE_IF_EXISTS_OR_ADD }}], \
                     typed_per_filter_config: {{ envoy.filters.http.grpc_json_transcoder: {{ \"@type\": \
                     type.googleapis.com/envoy.config.route.v3.FilterConfig, disabled: true }} }} }}",
                    file.display().to_string()
                )
            })
            .collect::<Vec<_>>()
            .join(&format!("\n{}", " ".repeat(24)))
    }
}

/// The token issuer the gateway trusts: `iss`, `aud`, and the JWKS file with its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAuth {
    pub issuer: String,
    pub audience: String,
    pub jwks_file: PathBuf,
}

impl GatewayAuth {
    /// The dev issuer's tokens, its keys in `jwks_file` (see [`crate::auth`]).
    pub fn dev(jwks_file: PathBuf) -> Self {
        Self { issuer: crate::auth::DEV_ISSUER.to_owned(), audience: crate::auth::AUDIENCE.to_owned(), jwks_file }
    }
}

/// The listener's certificate chain and private key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayTls {
    pub cert_chain: PathBuf,
    pub private_key: PathBuf,
}

/// Envoy's token bucket for the public routes: `tokens_per_fill` every
/// `fill_interval` (the steady rate), at most `max_tokens` at once (the burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max_tokens: u32,
    pub tokens_per_fill: u32,
    pub fill_interval: Duration,
}

impl Default for RateLimit {
    /// 1,000 calls a second, bursts of 2,000: far above what one machine serves,
    /// so it only stops a flood.
    fn default() -> Self {
        Self { max_tokens: 2_000, tokens_per_fill: 100, fill_interval: Duration::from_millis(100) }
    }
}

impl RateLimit {
    /// `per_second` calls a second with bursts of `burst`.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        Self { max_tokens: burst.max(1), tokens_per_fill: per_second.max(1), fill_interval: Duration::from_secs(1) }
    }
}

impl GatewayPorts {
    /// The ports of `cargo xtask up` (gateway 8080, admin 9901, services 50060..50066).
    pub fn defaults() -> Self {
        Self::with(8080, 9901, |s| s.default_port())
    }

    /// Gateway on `listen`/`admin`; each service's port from `port_of`.
    pub fn with(listen: u16, admin: u16, port_of: impl Fn(Service) -> u16) -> Self {
        Self {
            listen_address: "127.0.0.1".to_owned(),
            listen,
            admin,
            upstream_host: "127.0.0.1".to_owned(),
            orchestrator: port_of(Service::Orchestrator),
            orchestrator_replicas: Vec::new(),
            screening: port_of(Service::Screening),
            seats: port_of(Service::Seats),
            reservation: port_of(Service::Reservation),
            notification: port_of(Service::Notification),
            loyalty: port_of(Service::Loyalty),
            rate_limit: RateLimit::default(),
            auth: GatewayAuth::dev(PathBuf::from("jwks.json")),
            tls: None,
            web: None,
        }
    }
}

/// Renders the gateway config: every placeholder of the template is substituted.
pub fn render_gateway_config(ports: &GatewayPorts, descriptor_path: &Path) -> String {
    let descriptor = descriptor_path.display().to_string();
    let limit = ports.rate_limit;
    // Envoy wants a whole number of milliseconds (at least 1) as `<seconds>s`.
    let fill_ms = limit.fill_interval.as_millis().max(1);
    let jwks = format!("local_jwks: {{ filename: {:?} }}", ports.auth.jwks_file.display().to_string());
    let tls = match &ports.tls {
        None => String::new(),
        Some(tls) => format!(
            "transport_socket: {{ name: envoy.transport_sockets.tls, typed_config: {{ \"@type\": \
             type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, \
             common_tls_context: {{ alpn_protocols: [h2, http/1.1], tls_certificates: [{{ \
             certificate_chain: {{ filename: {:?} }}, private_key: {{ filename: {:?} }} }}] }} }} }}",
            tls.cert_chain.display().to_string(),
            tls.private_key.display().to_string()
        ),
    };
    let web = ports.web.as_ref().map(WebFiles::render).unwrap_or_default();
    let substitutions: [(&str, String); 21] = [
        ("{{LISTEN_ADDRESS}}", ports.listen_address.clone()),
        ("{{LISTEN_PORT}}", ports.listen.to_string()),
        ("{{ADMIN_PORT}}", ports.admin.to_string()),
        ("{{DESCRIPTOR}}", descriptor),
        ("{{UPSTREAM_HOST}}", ports.upstream_host.clone()),
        ("{{ORCHESTRATOR_PORT}}", ports.orchestrator.to_string()),
        ("{{SCREENING_PORT}}", ports.screening.to_string()),
        ("{{SEATS_PORT}}", ports.seats.to_string()),
        ("{{RESERVATION_PORT}}", ports.reservation.to_string()),
        ("{{NOTIFICATION_PORT}}", ports.notification.to_string()),
        ("{{LOYALTY_PORT}}", ports.loyalty.to_string()),
        ("{{RATE_LIMIT_MAX_TOKENS}}", limit.max_tokens.max(1).to_string()),
        ("{{RATE_LIMIT_TOKENS_PER_FILL}}", limit.tokens_per_fill.max(1).to_string()),
        ("{{RATE_LIMIT_FILL_INTERVAL}}", format!("{}.{:03}s", fill_ms / 1000, fill_ms % 1000)),
        ("{{RATE_LIMIT_RETRY_AFTER_SECS}}", fill_ms.div_ceil(1000).to_string()),
        ("{{JWT_ISSUER}}", ports.auth.issuer.clone()),
        ("{{JWT_AUDIENCE}}", ports.auth.audience.clone()),
        ("{{JWT_JWKS}}", jwks),
        ("{{LISTENER_TLS}}", tls),
        ("{{EXTRA_CLUSTERS}}", String::new()),
        ("{{WEB_ROUTES}}", web),
    ];
    let config = substitutions
        .iter()
        .fold(GATEWAY_TEMPLATE.to_owned(), |config, (placeholder, value)| config.replace(placeholder, value));
    with_orchestrator_replicas(config, ports)
}

/// Envoy's gRPC health check of an orchestrator: every half second, whether or not the
/// cluster has traffic; one failure takes it out, one success brings it back.
const ORCHESTRATOR_HEALTH_CHECK: &str = "health_checks: [{ timeout: 0.5s, interval: 0.5s, no_traffic_interval: 0.5s, \
     unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: {} }]";

/// A booking refused (connect failure, refused stream) or dropped (reset: the replica died
/// mid-call) by one replica is sent to another. BookTickets is idempotent on its request
/// id and CancelBooking on the booking, so a booking the dead replica began is answered
/// once, by whoever holds its saga next.
const BOOKING_RETRY: &str = "retry_policy: { retry_on: \"connect-failure,refused-stream,reset\", num_retries: 3, \
     retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts, typed_config: { \"@type\": \
     type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate } }], \
     host_selection_retry_max_attempts: 5 }";

/// The rendered config with [`GatewayPorts::orchestrator_replicas`] added to the
/// orchestrator's cluster, its health check, and the retry of BookingService calls. The
/// template (shared with the chart, where the orchestrator's Service name resolves to every
/// pod) has one orchestrator endpoint: this adds to it without new placeholders.
fn with_orchestrator_replicas(config: String, ports: &GatewayPorts) -> String {
    if ports.orchestrator_replicas.is_empty() {
        return config;
    }
    let mut out = Vec::new();
    let (mut in_cluster, mut in_booking_route) = (false, false);
    let first = format!("socket_address: {{ address: {}, port_value: {} }}", ports.upstream_host, ports.orchestrator);
    for line in config.lines() {
        out.push(line.to_owned());
        let indent = &line[..line.len() - line.trim_start().len()];
        let trimmed = line.trim();
        if trimmed.starts_with("- match:") {
            in_booking_route = trimmed.contains("\"/cinema.booking.v1.BookingService/\"");
        } else if in_booking_route && trimmed == "cluster: orchestrator" {
            out.push(format!("{indent}{BOOKING_RETRY}"));
            in_booking_route = false;
        }
        if line.starts_with("    - name: ") {
            in_cluster = trimmed == "- name: orchestrator";
        } else if in_cluster && trimmed.starts_with("connect_timeout:") {
            out.push(format!("{indent}{ORCHESTRATOR_HEALTH_CHECK}"));
        } else if in_cluster && trimmed == first {
            // `- endpoint:` sits six columns left of its `socket_address`.
            let item = &indent[..indent.len().saturating_sub(6)];
            for port in &ports.orchestrator_replicas {
                out.push(format!(
                    "{item}- endpoint: {{ address: {{ socket_address: {{ address: {}, port_value: {port} }} }} }}",
                    ports.upstream_host
                ));
            }
        }
    }
    out.join("\n") + "\n"
}

/// Another Envoy gateway in front of `stack`'s services, on free ports, with its own
/// rate limit (the stack's own gateway keeps its config). Stopped when dropped.
pub struct ExtraGateway {
    pub proc: Proc,
    pub port: u16,
    pub admin_port: u16,
}

impl ExtraGateway {
    pub async fn start(stack: &Stack, rate_limit: RateLimit) -> Result<ExtraGateway> {
        Self::start_with(stack, |ports| ports.rate_limit = rate_limit).await
    }

    /// A gateway whose orchestrator cluster is `orchestrators` (ports of the stack's
    /// orchestrator and of replicas from [`Stack::add_replica`]).
    pub async fn with_orchestrators(stack: &Stack, orchestrators: &[u16]) -> Result<ExtraGateway> {
        let (first, more) = orchestrators.split_first().context("no orchestrator")?;
        Self::start_with(stack, |ports| {
            ports.orchestrator = *first;
            ports.orchestrator_replicas = more.to_vec();
        })
        .await
    }

    /// A gateway on free ports in front of `stack`'s services, `configure`d.
    pub async fn start_with(stack: &Stack, configure: impl FnOnce(&mut GatewayPorts)) -> Result<ExtraGateway> {
        let (port, admin_port) = (free_port()?, free_port()?);
        let mut ports = GatewayPorts::with(port, admin_port, |s| stack.port(s));
        configure(&mut ports);
        ports.auth = GatewayAuth::dev(stack.issuer().jwks_path());
        let dir = stack.run_dir().join(format!("gateway-{port}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let descriptor = dir.join("cinema.pb");
        std::fs::write(&descriptor, cinema_proto::FILE_DESCRIPTOR_SET)
            .with_context(|| format!("writing {}", descriptor.display()))?;
        let config = dir.join("gateway.yaml");
        std::fs::write(&config, render_gateway_config(&ports, &descriptor))
            .with_context(|| format!("writing {}", config.display()))?;
        let log = dir.join("envoy.log");
        let mut spec = ProcSpec::new(format!("envoy-{port}"), &stack.tools().envoy, log.clone())
            .arg("--disable-hot-restart")
            .arg("--log-level")
            .arg("warn")
            .arg("-c")
            .arg(config.as_os_str());
        spec.registry = Some(stack.run_dir().join(crate::process::REGISTRY_FILE));
        let proc = std::sync::Mutex::new(Proc::spawn(spec)?);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let ready = format!("http://127.0.0.1:{admin_port}/ready");
        let waited = poll_until("the extra gateway", Duration::from_secs(30), Duration::from_millis(50), || async {
            if proc.lock().unwrap_or_else(|e| e.into_inner()).exit_status().is_some() {
                anyhow::bail!("envoy exited");
            }
            Ok(http.get(&ready).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()))
        })
        .await;
        let proc = proc.into_inner().unwrap_or_else(|e| e.into_inner());
        waited.with_context(|| format!("the end of {}:\n{}", log.display(), tail(&log, 40)))?;
        Ok(ExtraGateway { proc, port, admin_port })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_substituted() {
        let config = render_gateway_config(&GatewayPorts::defaults(), Path::new("/x/cinema.pb"));
        assert!(!config.contains("{{"), "unsubstituted placeholder left");
        assert!(config.contains("proto_descriptor: \"/x/cinema.pb\""));
        assert!(config.contains("port_value: 50062"));
        assert!(config.contains("fill_interval: 0.100s"), "default fill interval");
    }

    #[test]
    fn the_rate_limit_is_rendered() {
        let mut ports = GatewayPorts::defaults();
        ports.rate_limit = RateLimit::per_second(5, 3);
        let config = render_gateway_config(&ports, Path::new("/x/cinema.pb"));
        assert!(config.contains("max_tokens: 3\n"), "burst");
        assert!(config.contains("tokens_per_fill: 5\n"), "rate");
        assert!(config.contains("fill_interval: 1.000s\n"), "interval");
        assert!(config.contains("retry after 1 s"), "the 429 body names the wait");
    }

    /// Envoy transcodes nothing (404 "Could not resolve .. to a method") when the
    /// descriptor set lost the `google.api.http` options.
    #[test]
    fn the_descriptor_set_keeps_the_http_annotations() {
        let set = cinema_proto::FILE_DESCRIPTOR_SET;
        for path in [
            "/v1/movies",
            "/v1/movies/{movie_id}/screenings",
            "/v1/bookings/{booking_number}",
            "/v1/customers/{customer_id}/points",
        ] {
            assert!(
                set.windows(path.len()).any(|w| w == path.as_bytes()),
                "no google.api.http rule for {path} in cinema_proto::FILE_DESCRIPTOR_SET"
            );
        }
    }

    #[test]
    fn transcodes_exactly_the_public_services() {
        let config = render_gateway_config(&GatewayPorts::defaults(), Path::new("/x/cinema.pb"));
        for service in cinema_proto::PUBLIC_SERVICES {
            assert!(config.contains(&format!("- {service}\n")), "{service} not transcoded");
            assert!(config.contains(&format!("prefix: \"/{service}/\"")), "{service} not routed");
        }
        for service in cinema_proto::INTERNAL_SERVICES {
            assert!(!config.contains(service), "{service} must not be routed");
        }
        // Operators reach their services through the gateway (with a token; the service
        // checks the role), but are not transcoded.
        for service in cinema_proto::OPERATOR_SERVICES {
            assert!(config.contains(&format!("prefix: \"/{service}/\"")), "{service} not routed");
            assert!(!config.contains(&format!("- {service}\n")), "{service} must not be transcoded");
        }
    }

    #[test]
    fn the_issuer_and_tls_are_rendered() {
        let mut ports = GatewayPorts::defaults();
        ports.auth = GatewayAuth::dev(PathBuf::from("/run/jwks.json"));
        let plain = render_gateway_config(&ports, Path::new("/x/cinema.pb"));
        assert!(plain.contains("local_jwks: { filename: \"/run/jwks.json\" }"));
        assert!(plain.contains(&format!("issuer: \"{}\"", crate::auth::DEV_ISSUER)));
        assert!(!plain.contains("DownstreamTlsContext"));
        ports.tls = Some(GatewayTls { cert_chain: "/t/cert.pem".into(), private_key: "/t/key.pem".into() });
        let tls = render_gateway_config(&ports, Path::new("/x/cinema.pb"));
        assert!(tls.contains("DownstreamTlsContext") && tls.contains("\"/t/key.pem\""));
    }

    #[test]
    fn orchestrator_replicas_join_its_cluster_with_a_health_check_and_booking_retries() {
        let single = render_gateway_config(&GatewayPorts::defaults(), Path::new("/x/cinema.pb"));
        assert!(!single.contains("health_checks") && !single.contains("retry_policy"), "one orchestrator: as before");

        let mut ports = GatewayPorts::defaults();
        ports.orchestrator_replicas = vec![50070, 50071];
        let config = render_gateway_config(&ports, Path::new("/x/cinema.pb"));
        let cluster = config.split("    - name: orchestrator\n").nth(1).unwrap().split("    - name: ").next().unwrap();
        for port in [50060, 50070, 50071] {
            assert!(cluster.contains(&format!("port_value: {port} }}")), "{port} not in the cluster:\n{cluster}");
        }
        assert_eq!(cluster.matches("grpc_health_check").count(), 1, "{cluster}");
        assert_eq!(config.matches("retry_policy").count(), 1, "BookingService only");
        let booking = config.split("\"/cinema.booking.v1.BookingService/\"").nth(1).unwrap();
        assert!(booking.split("- match:").next().unwrap().contains("connect-failure,refused-stream,reset"));
        // The other clusters keep one endpoint.
        assert_eq!(config.matches("port_value: 50070").count(), 1);
    }

    #[test]
    fn the_page_is_served_only_when_there_is_one() {
        let mut ports = GatewayPorts::defaults();
        assert!(!render_gateway_config(&ports, Path::new("/x/cinema.pb")).contains("direct_response: { status: 200"));
        ports.web = Some(WebFiles { dist: "/w/dist".into(), config: "/run/config.json".into() });
        let config = render_gateway_config(&ports, Path::new("/x/cinema.pb"));
        for file in ["/w/dist/index.html", "/w/dist/app.js", "/w/dist/app.css", "/run/config.json"] {
            assert!(config.contains(&format!("filename: \"{file}\"")), "{file} not served");
        }
    }
}
