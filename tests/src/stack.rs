//! [`Stack`]: NATS, Postgres, the seven services and the Envoy gateway, started and waited
//! for, stopped when dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::auth::{AuthChannel, Caller, DevIssuer};
use crate::gateway::{GatewayAuth, GatewayPorts, GatewayTls, render_gateway_config};
use crate::process::{Proc, ProcSpec, tail};
use crate::{Service, Tools, free_port, poll_until, port_open, postgres};
use tonic::service::interceptor::InterceptedService;

/// Where the stack's Postgres comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseChoice {
    /// `$CINEMA_DATABASE_URL` (as the server), else 127.0.0.1:5432 when it accepts TCP,
    /// else an embedded server on a free port.
    Auto,
    /// An existing server, e.g. `postgres://postgres@127.0.0.1:5432` (a path is ignored).
    Server(String),
    /// An own server with its data under `<state dir>/pgdata`, on `port` (free if `None`).
    Embedded { port: Option<u16> },
}

/// Where the stack's NATS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatsChoice {
    /// An own `nats-server -js` with its store under `<state dir>/nats` (free ports if `None`).
    Own { port: Option<u16>, monitor_port: Option<u16> },
    /// An existing server, e.g. `nats://127.0.0.1:4222`.
    Server(String),
    /// An own JetStream cluster of `nodes` servers on loopback ports, routed to each
    /// other; every service gets all their URLs and `CINEMA_STREAM_REPLICAS=nodes`.
    Cluster { nodes: usize },
}

/// Which ports the services and the gateway get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortPlan {
    /// Free ports (tests: several stacks can run at once).
    Free,
    /// [`Service::default_port`], gateway 8080 and admin 9901 (`cargo xtask up`).
    Defaults,
}

/// How to start a [`Stack`]. [`StackOptions::for_tests`] is the default.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub ports: PortPlan,
    /// Persistent state (NATS store, embedded Postgres data, logs, configs); `None`: a
    /// temporary directory removed with the stack.
    pub state_dir: Option<PathBuf>,
    pub database: DatabaseChoice,
    pub nats: NatsChoice,
    /// Database names are `<prefix>_<service>`; `None`: `cinema_<stack id>`.
    pub database_prefix: Option<String>,
    /// Drop the stack's databases when it stops (only on a server the stack did not start).
    pub drop_databases: bool,
    /// Restart services that exit on their own (not those stopped through the stack).
    pub supervise: bool,
    /// Where the service binaries are; `None`: `$CINEMA_BIN_DIR`, else next to the running
    /// executable (a trailing `deps` stripped).
    pub bin_dir: Option<PathBuf>,
    /// Start Envoy too.
    pub gateway: bool,
    /// JetStream `sync_interval: always` (durability against machine crashes).
    pub nats_sync_always: bool,
    /// `CINEMA_LOG_FORMAT` for the services.
    pub log_format: String,
    /// `RUST_LOG` for the services.
    pub rust_log: String,
    /// Extra environment for every service.
    pub env: Vec<(String, String)>,
    /// Extra environment for one service (applied after [`StackOptions::env`]).
    pub service_env: BTreeMap<Service, Vec<(String, String)>>,
    /// How long a process may take to become ready.
    pub ready_timeout: Duration,
    /// Terminate TLS at the gateway with this certificate (`None`: plaintext).
    pub gateway_tls: Option<GatewayTls>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self::for_tests()
    }
}

impl StackOptions {
    /// Free ports, a temporary directory, private databases dropped afterwards, own NATS.
    pub fn for_tests() -> Self {
        Self {
            ports: PortPlan::Free,
            state_dir: None,
            database: DatabaseChoice::Auto,
            nats: NatsChoice::Own { port: None, monitor_port: None },
            database_prefix: None,
            drop_databases: true,
            supervise: false,
            bin_dir: None,
            gateway: true,
            nats_sync_always: false,
            log_format: "text".to_owned(),
            rust_log: std::env::var("CINEMA_TEST_RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            env: Vec::new(),
            service_env: BTreeMap::new(),
            ready_timeout: Duration::from_secs(60),
            gateway_tls: None,
        }
    }

    /// Adds `key=value` to one service's environment.
    pub fn service_env(mut self, service: Service, key: &str, value: &str) -> Self {
        self.service_env.entry(service).or_default().push((key.to_owned(), value.to_owned()));
        self
    }
}

struct Slot {
    spec: ProcSpec,
    proc: Option<Proc>,
    /// Stopped through the stack: the supervisor leaves it alone.
    held: bool,
    restarts: u32,
    next_restart: Option<Instant>,
}

#[derive(Default)]
struct Procs {
    services: BTreeMap<Service, Slot>,
    /// Extra replicas of a service, by port (see [`Stack::add_replica`]).
    replicas: BTreeMap<u16, Proc>,
    /// How to start each replica again on its port ([`Stack::restart_replica`]).
    replica_specs: BTreeMap<u16, ProcSpec>,
    envoy: Option<Proc>,
    nats: Option<Proc>,
    postgres: Option<Proc>,
    /// How to start the stack's own NATS and Postgres again (chaos: outages).
    nats_spec: Option<ProcSpec>,
    postgres_spec: Option<ProcSpec>,
    /// The nodes of an own NATS cluster ([`NatsChoice::Cluster`]).
    cluster: Vec<ClusterNode>,
}

/// One server of the stack's own NATS cluster.
struct ClusterNode {
    /// Its `server_name` (what JetStream names a stream's leader by).
    name: String,
    spec: ProcSpec,
    proc: Option<Proc>,
    health: String,
}

impl Procs {
    /// Stops everything: gateway, then every service (signalled together), then NATS and
    /// Postgres.
    fn stop_all(&mut self) {
        let grace = Duration::from_secs(10);
        if let Some(mut envoy) = self.envoy.take() {
            envoy.stop(grace);
        }
        for slot in self.services.values_mut() {
            slot.held = true;
            if let Some(proc) = slot.proc.as_mut() {
                proc.request_stop();
            }
        }
        for proc in self.replicas.values_mut() {
            proc.request_stop();
        }
        for (_, mut proc) in std::mem::take(&mut self.replicas) {
            proc.stop(grace);
        }
        for slot in self.services.values_mut() {
            if let Some(mut proc) = slot.proc.take() {
                proc.stop(grace);
            }
        }
        if let Some(mut nats) = self.nats.take() {
            nats.stop(grace);
        }
        for node in &mut self.cluster {
            if let Some(proc) = node.proc.as_mut() {
                proc.request_stop();
            }
        }
        for node in &mut self.cluster {
            if let Some(mut proc) = node.proc.take() {
                proc.stop(grace);
            }
        }
        if let Some(mut postgres) = self.postgres.take() {
            postgres.stop(grace);
        }
    }
}

/// The customer [`Stack::gateway_channel`] signs in as.
pub const DEFAULT_CUSTOMER: &str = "customer-1";

/// The whole system, running. Dropping it stops every process (and drops its databases
/// when [`StackOptions::drop_databases`]).
pub struct Stack {
    id: String,
    run_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    tools: Tools,
    gateway_port: u16,
    admin_port: u16,
    service_ports: BTreeMap<Service, u16>,
    nats_url: String,
    db_server: String,
    db_names: BTreeMap<Service, String>,
    drop_databases_on_stop: bool,
    ready_timeout: Duration,
    /// The own NATS's JetStream health URL (empty: an external server).
    nats_health: String,
    procs: Arc<Mutex<Procs>>,
    supervisor: Option<tokio::task::JoinHandle<()>>,
    /// Signs the bearer tokens the gateway accepts.
    issuer: Arc<DevIssuer>,
    /// The gateway terminates TLS.
    gateway_tls: bool,
}

impl Stack {
    /// Starts everything and waits until each part is ready.
    pub async fn start(options: StackOptions) -> Result<Stack> {
        // Every client of the harness and the e2e tests is made after this.
        crate::install_crypto_provider();
        let id: String = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let bin_dir = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => default_bin_dir()?,
        };
        for service in Service::ALL {
            let bin = bin_dir.join(service.binary());
            if !bin.is_file() {
                bail!("{} not found: build the services first (cargo build --workspace --bins)", bin.display());
            }
        }

        let (temp, run_dir) = match &options.state_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix(&format!("cinema-{id}-"))
                    .tempdir()
                    .context("creating the stack's temp dir")?;
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        };
        // An embedded Postgres may run as another user: it must reach its data dir.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("chmod {}", run_dir.display()))?;
        }
        if temp.is_some() {
            crate::process::reap_dead_test_stacks();
        }
        crate::process::claim_run_dir(&run_dir)?;
        let issuer = Arc::new(DevIssuer::load_or_create(&run_dir.join("auth"))?);
        let registry = run_dir.join(crate::process::REGISTRY_FILE);
        let logs = run_dir.join("logs");

        let database = match &options.database {
            DatabaseChoice::Auto => match std::env::var("CINEMA_DATABASE_URL") {
                Ok(url) if !url.is_empty() => DatabaseChoice::Server(url),
                _ if port_open(5432) => DatabaseChoice::Server("postgres://postgres@127.0.0.1:5432".to_owned()),
                _ => DatabaseChoice::Embedded { port: None },
            },
            other => other.clone(),
        };
        let need_postgres = matches!(database, DatabaseChoice::Embedded { .. });
        let tools =
            tokio::task::spawn_blocking(move || Tools::ensure(need_postgres)).await.context("provisioning tools")??;

        let (gateway_port, admin_port) = match options.ports {
            PortPlan::Free => (free_port()?, free_port()?),
            PortPlan::Defaults => (8080, 9901),
        };
        let mut service_ports = BTreeMap::new();
        for service in Service::ALL {
            let port = match options.ports {
                PortPlan::Free => free_port()?,
                PortPlan::Defaults => service.default_port(),
            };
            service_ports.insert(service, port);
        }
        if options.ports == PortPlan::Defaults {
            let taken: Vec<String> = service_ports
                .values()
                .copied()
                .chain([gateway_port, admin_port])
                .filter(|p| port_open(*p))
                .map(|p| p.to_string())
                .collect();
            if !taken.is_empty() {
                bail!("ports already in use: {} (is another stack running?)", taken.join(", "));
            }
        }

        let procs = Arc::new(Mutex::new(Procs::default()));
        let prefix = options.database_prefix.clone().unwrap_or_else(|| format!("cinema_{id}"));
        let db_names: BTreeMap<Service, String> =
            Service::ALL.iter().map(|s| (*s, format!("{prefix}_{}", s.name()))).collect();

        let mut stack = Stack {
            id,
            run_dir: run_dir.clone(),
            _temp: temp,
            tools,
            gateway_port,
            admin_port,
            service_ports,
            nats_url: String::new(),
            db_server: String::new(),
            db_names,
            drop_databases_on_stop: false,
            ready_timeout: options.ready_timeout,
            nats_health: String::new(),
            procs,
            supervisor: None,
            issuer,
            gateway_tls: options.gateway_tls.is_some(),
        };

        // NATS and Postgres start concurrently; we wait for both.
        stack.nats_url = match &options.nats {
            NatsChoice::Server(url) => url.clone(),
            NatsChoice::Cluster { nodes } => {
                let nodes = (*nodes).max(1);
                let ports: Vec<(u16, u16, u16)> =
                    (0..nodes).map(|_| Ok((free_port()?, free_port()?, free_port()?))).collect::<Result<_>>()?;
                let routes: Vec<String> =
                    ports.iter().map(|(_, route, _)| format!("nats-route://127.0.0.1:{route}")).collect();
                let sync = if options.nats_sync_always { "\n  sync_interval: always" } else { "" };
                for (i, (port, route, monitor)) in ports.iter().enumerate() {
                    let name = format!("cinema_{}_n{i}", stack.id);
                    let store = run_dir.join(format!("nats-{i}"));
                    std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
                    let config = run_dir.join(format!("nats-{i}.conf"));
                    std::fs::write(
                        &config,
                        format!(
                            "server_name: {name}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor}\n\
                             jetstream {{\n  store_dir: {store:?}{sync}\n}}\n\
                             cluster {{\n  name: cinema_{id}\n  listen: 127.0.0.1:{route}\n  routes: [{routes}]\n}}\n",
                            id = stack.id,
                            store = store.display().to_string(),
                            routes = routes.join(", "),
                        ),
                    )
                    .with_context(|| format!("writing {}", config.display()))?;
                    let mut spec = ProcSpec::new(
                        format!("nats-{i}"),
                        &stack.tools.nats_server,
                        logs.join(format!("nats-{i}.log")),
                    )
                    .arg("-c")
                    .arg(config.as_os_str());
                    spec.registry = Some(registry.clone());
                    let proc = Proc::spawn(spec.clone())?;
                    let health = format!("http://127.0.0.1:{monitor}/healthz");
                    stack.lock().cluster.push(ClusterNode { name, spec, proc: Some(proc), health });
                }
                for i in 0..nodes {
                    stack.wait_cluster_node(i).await?;
                }
                ports.iter().map(|(port, _, _)| format!("nats://127.0.0.1:{port}")).collect::<Vec<_>>().join(",")
            }
            NatsChoice::Own { port, monitor_port } => {
                let port = match port {
                    Some(p) => *p,
                    None => free_port()?,
                };
                let monitor = match monitor_port {
                    Some(p) => *p,
                    None => free_port()?,
                };
                let store = run_dir.join("nats");
                std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
                let config = run_dir.join("nats.conf");
                let sync = if options.nats_sync_always { "\n  sync_interval: always" } else { "" };
                std::fs::write(
                    &config,
                    format!(
                        "server_name: cinema_{id}\nlisten: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor}\n\
                         jetstream {{\n  store_dir: {store:?}{sync}\n}}\n",
                        id = stack.id,
                        store = store.display().to_string(),
                    ),
                )
                .with_context(|| format!("writing {}", config.display()))?;
                let mut spec = ProcSpec::new("nats", &stack.tools.nats_server, logs.join("nats.log"))
                    .arg("-c")
                    .arg(config.as_os_str());
                spec.registry = Some(registry.clone());
                stack.lock().nats_spec = Some(spec.clone());
                stack.lock().nats = Some(Proc::spawn(spec)?);
                let health = format!("http://127.0.0.1:{monitor}/healthz?js-enabled-only=true");
                stack.wait_http("nats", &health, "nats.log").await?;
                stack.nats_health = health;
                format!("nats://127.0.0.1:{port}")
            }
        };

        match &database {
            DatabaseChoice::Server(url) => {
                stack.db_server = postgres::split_server_url(url).0;
                stack.drop_databases_on_stop = options.drop_databases;
            }
            DatabaseChoice::Embedded { port } => {
                let port = match port {
                    Some(p) => *p,
                    None => free_port()?,
                };
                if port_open(port) {
                    bail!("port {port} for the embedded Postgres is already in use");
                }
                let bin = stack.tools.postgres_bin.clone().context("no Postgres binaries")?;
                let data = run_dir.join("pgdata");
                let log = logs.join("postgres.log");
                std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
                let mut spec = tokio::task::spawn_blocking(move || postgres::prepare_embedded(&bin, &data, port, log))
                    .await
                    .context("preparing Postgres")??;
                spec.registry = Some(registry.clone());
                stack.lock().postgres_spec = Some(spec.clone());
                stack.lock().postgres = Some(Proc::spawn(spec)?);
                stack.db_server = format!("postgres://postgres@127.0.0.1:{port}");
            }
            DatabaseChoice::Auto => bail!("DatabaseChoice::Auto was not resolved"),
        }
        let postgres_ready = postgres::wait_ready(&stack.db_server, options.ready_timeout);
        let postgres_died = async {
            poll_until("Postgres to exit", options.ready_timeout, Duration::from_millis(100), || async {
                let own = stack.lock().postgres.is_some();
                Ok((own && !stack.infra_running("postgres")).then_some(()))
            })
            .await
        };
        tokio::select! {
            ready = postgres_ready => ready,
            died = postgres_died => match died {
                Ok(()) => Err(anyhow::anyhow!("Postgres exited")),
                Err(_) => Err(anyhow::anyhow!("Postgres did not become ready")),
            },
        }
        .with_context(|| format!("Postgres not ready; log:\n{}", stack.infra_tail("postgres")))?;

        // The services, all at once; then wait for each.
        for service in Service::ALL {
            let mut spec = stack.service_spec(service, &bin_dir, &logs, &options);
            spec.registry = Some(registry.clone());
            let proc = Proc::spawn(spec.clone())?;
            stack
                .lock()
                .services
                .insert(service, Slot { spec, proc: Some(proc), held: false, restarts: 0, next_restart: None });
        }
        for service in Service::ALL {
            stack.wait_healthy(service).await?;
        }

        if options.gateway {
            let descriptor = run_dir.join("cinema.pb");
            std::fs::write(&descriptor, cinema_proto::FILE_DESCRIPTOR_SET)
                .with_context(|| format!("writing {}", descriptor.display()))?;
            let mut ports = GatewayPorts::with(gateway_port, admin_port, |s| stack.port(s));
            ports.auth = GatewayAuth::dev(stack.issuer.jwks_path());
            ports.tls = options.gateway_tls.clone();
            ports.web = crate::web::files(&run_dir.join("web"), &stack.issuer)?;
            let config = run_dir.join("gateway.yaml");
            std::fs::write(&config, render_gateway_config(&ports, &descriptor))
                .with_context(|| format!("writing {}", config.display()))?;
            let mut spec = ProcSpec::new("envoy", &stack.tools.envoy, logs.join("envoy.log"))
                .arg("--disable-hot-restart")
                .arg("--log-level")
                .arg("warn")
                .arg("-c")
                .arg(config.as_os_str());
            spec.registry = Some(registry.clone());
            stack.lock().envoy = Some(Proc::spawn(spec)?);
            let ready = format!("http://127.0.0.1:{admin_port}/ready");
            stack.wait_http("envoy", &ready, "envoy.log").await?;
        }

        if options.supervise {
            stack.supervisor = Some(tokio::spawn(supervise(Arc::clone(&stack.procs))));
        }
        Ok(stack)
    }

    /// The dev issuer whose tokens this stack's gateway accepts.
    pub fn issuer(&self) -> &DevIssuer {
        &self.issuer
    }

    /// A valid bearer token for the customer `subject`.
    pub fn customer_token(&self, subject: &str) -> String {
        self.issuer.customer(subject)
    }

    /// A valid bearer token with the `admin` role (subject `admin`).
    pub fn admin_token(&self) -> String {
        self.issuer.with_roles("admin", &["admin"])
    }

    /// A valid bearer token for `subject` with the `operator` role.
    pub fn operator_token(&self, subject: &str) -> String {
        self.issuer.with_roles(subject, &["operator"])
    }

    /// Load through this stack's gateway, booking as a load customer and creating
    /// screenings as the admin.
    pub fn load_options(&self, mode: crate::load::Mode, duration: Duration) -> Result<crate::load::Options> {
        Ok(crate::load::Options {
            customer: Caller::bearer(Some(&self.customer_token("load-customer")))?,
            admin: Caller::bearer(Some(&self.admin_token()))?,
            ..crate::load::Options::new(self.gateway_url(), mode, duration)
        })
    }

    /// The stack's short random id (part of its database names).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The Envoy gateway: `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS
    /// (gRPC, gRPC-Web and REST).
    pub fn gateway_url(&self) -> String {
        match self.gateway_tls {
            // The name the local certificate is for.
            true => format!("https://localhost:{}", self.gateway_port),
            false => format!("http://127.0.0.1:{}", self.gateway_port),
        }
    }

    /// `127.0.0.1:<port>` of the gateway (for grpcurl).
    pub fn gateway_addr(&self) -> String {
        format!("127.0.0.1:{}", self.gateway_port)
    }

    /// Envoy's admin interface.
    pub fn gateway_admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// A service's own gRPC endpoint, bypassing Envoy: `http://127.0.0.1:<port>`.
    pub fn grpc_url(&self, service: Service) -> String {
        format!("http://127.0.0.1:{}", self.port(service))
    }

    pub fn port(&self, service: Service) -> u16 {
        self.service_ports.get(&service).copied().unwrap_or_else(|| service.default_port())
    }

    /// A lazily connecting channel to a service (bypassing Envoy).
    pub fn channel(&self, service: Service) -> Result<Channel> {
        Ok(Endpoint::from_shared(self.grpc_url(service)).context("service url")?.connect_lazy())
    }

    /// A lazily connecting channel to the gateway, every call signed in as the customer
    /// [`DEFAULT_CUSTOMER`].
    pub fn gateway_channel(&self) -> Result<AuthChannel> {
        self.gateway_channel_as(Some(&self.customer_token(DEFAULT_CUSTOMER)))
    }

    /// A lazily connecting channel to the gateway with `token` on every call (`None`: anonymous).
    pub fn gateway_channel_as(&self, token: Option<&str>) -> Result<AuthChannel> {
        let channel = Endpoint::from_shared(self.gateway_url()).context("gateway url")?.connect_lazy();
        Ok(InterceptedService::new(channel, Caller::bearer(token)?))
    }

    /// A lazily connecting channel straight to `service` (bypassing the gateway), every
    /// call carrying the identity the gateway would forward for `identity`.
    pub fn channel_as(&self, service: Service, identity: &cinema_mesh::identity::Identity) -> Result<AuthChannel> {
        Ok(InterceptedService::new(self.channel(service)?, Caller::forwarded(identity)?))
    }

    /// The service's own database.
    pub fn database_url(&self, service: Service) -> String {
        postgres::database_url(&self.db_server, &self.database_name(service))
    }

    /// The Postgres server (no database path).
    pub fn database_server_url(&self) -> &str {
        &self.db_server
    }

    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    pub fn grpcurl_path(&self) -> &Path {
        &self.tools.grpcurl
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    /// The stack's directory: `cinema.pb`, `gateway.yaml`, `nats.conf`, `logs/`, stores.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn log_path(&self, service: Service) -> PathBuf {
        self.run_dir.join("logs").join(format!("{}.log", service.name()))
    }

    /// The last 60 lines of a service's log.
    pub fn log_tail(&self, service: Service) -> String {
        tail(&self.log_path(service), 60)
    }

    /// Whether the service's process is alive.
    pub fn is_running(&self, service: Service) -> bool {
        let mut procs = self.lock();
        procs
            .services
            .get_mut(&service)
            .and_then(|slot| slot.proc.as_mut())
            .is_some_and(|proc| proc.exit_status().is_none())
    }

    /// The service's process id (it leads its own process group), while it runs.
    pub fn pid(&self, service: Service) -> Option<u32> {
        let mut procs = self.lock();
        let proc = procs.services.get_mut(&service)?.proc.as_mut()?;
        proc.exit_status().is_none().then(|| proc.pid())
    }

    /// The service's database name on [`Stack::database_server_url`].
    pub fn database_name(&self, service: Service) -> String {
        self.db_names.get(&service).cloned().unwrap_or_else(|| format!("cinema_{}_{}", self.id, service.name()))
    }

    /// The engines this stack started itself, while they run: `("envoy", pid)`,
    /// `("nats", pid)` (every node of a cluster), `("postgres", pid)` (the postmaster).
    pub fn engine_pids(&self) -> Vec<(&'static str, u32)> {
        let mut procs = self.lock();
        let procs = &mut *procs;
        let mut pids = Vec::new();
        let singles =
            [("envoy", procs.envoy.as_mut()), ("nats", procs.nats.as_mut()), ("postgres", procs.postgres.as_mut())];
        let nodes = procs.cluster.iter_mut().map(|node| ("nats", node.proc.as_mut()));
        for (name, proc) in singles.into_iter().chain(nodes) {
            if let Some(proc) = proc
                && proc.exit_status().is_none()
            {
                pids.push((name, proc.pid()));
            }
        }
        pids
    }

    /// How often the supervisor restarted the service.
    pub fn restarts(&self, service: Service) -> u32 {
        self.lock().services.get(&service).map_or(0, |s| s.restarts)
    }

    /// `kill -9` the service (the supervisor does not bring it back; see [`Stack::restart`]).
    pub fn kill(&self, service: Service) -> Result<()> {
        let mut procs = self.lock();
        let slot = procs.services.get_mut(&service).with_context(|| format!("{service} is not part of the stack"))?;
        slot.held = true;
        if let Some(mut proc) = slot.proc.take() {
            proc.kill();
        }
        Ok(())
    }

    /// Stops the service gracefully (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&self, service: Service) -> Result<()> {
        let proc = {
            let mut procs = self.lock();
            let slot =
                procs.services.get_mut(&service).with_context(|| format!("{service} is not part of the stack"))?;
            slot.held = true;
            slot.proc.take()
        };
        if let Some(mut proc) = proc {
            proc.stop(Duration::from_secs(10));
        }
        Ok(())
    }

    /// SIGSTOP / SIGCONT the service (it hangs instead of failing fast).
    pub fn pause(&self, service: Service, paused: bool) -> Result<()> {
        let procs = self.lock();
        let proc = procs
            .services
            .get(&service)
            .and_then(|slot| slot.proc.as_ref())
            .with_context(|| format!("{service} is not running"))?;
        proc.signal(if paused { "STOP" } else { "CONT" });
        Ok(())
    }

    /// (Re)starts the service on the same port and database (stopping it first if it
    /// runs) and waits until it is SERVING.
    pub async fn restart(&self, service: Service) -> Result<()> {
        self.stop(service)?;
        {
            let mut procs = self.lock();
            let slot =
                procs.services.get_mut(&service).with_context(|| format!("{service} is not part of the stack"))?;
            slot.proc = Some(Proc::spawn(slot.spec.clone())?);
            slot.held = false;
        }
        self.wait_healthy(service).await
    }

    /// Sets (or, with an empty value, clears) one variable of the service's
    /// environment for its next start (see [`Stack::restart`]).
    pub fn set_env(&self, service: Service, key: &str, value: &str) -> Result<()> {
        let mut procs = self.lock();
        let slot = procs.services.get_mut(&service).with_context(|| format!("{service} is not part of the stack"))?;
        slot.spec.env.retain(|(k, _)| k != key);
        if !value.is_empty() {
            slot.spec.env.push((key.to_owned(), value.to_owned()));
        }
        Ok(())
    }

    /// Starts another replica of `service` (same database and peers, its own port
    /// and log, `env` on top) and waits until it is SERVING; returns its port.
    pub async fn add_replica(&self, service: Service, env: &[(&str, &str)]) -> Result<u16> {
        let port = free_port()?;
        let mut spec = {
            let procs = self.lock();
            let slot = procs.services.get(&service).with_context(|| format!("{service} is not part of the stack"))?;
            slot.spec.clone()
        };
        spec.name = format!("{}-{port}", service.name());
        spec.log = self.run_dir.join("logs").join(format!("{}.log", spec.name));
        spec.env.retain(|(k, _)| k != "CINEMA_LISTEN_ADDR" && !env.iter().any(|(key, _)| k == key));
        spec.env.push(("CINEMA_LISTEN_ADDR".to_owned(), format!("127.0.0.1:{port}")));
        spec.env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.lock().replica_specs.insert(port, spec);
        self.restart_replica(port).await?;
        Ok(port)
    }

    /// `kill -9` the replica listening on `port`.
    pub fn kill_replica(&self, port: u16) -> Result<()> {
        let mut proc = self.lock().replicas.remove(&port).with_context(|| format!("no replica on port {port}"))?;
        proc.kill();
        Ok(())
    }

    /// The process id of the replica on `port`, while it runs.
    pub fn replica_pid(&self, port: u16) -> Option<u32> {
        let mut procs = self.lock();
        let proc = procs.replicas.get_mut(&port)?;
        proc.exit_status().is_none().then(|| proc.pid())
    }

    /// Starts the replica of [`Stack::add_replica`] on `port` again (after
    /// [`Stack::kill_replica`]) and waits until it is SERVING.
    pub async fn restart_replica(&self, port: u16) -> Result<()> {
        let (name, log) = {
            let mut procs = self.lock();
            let spec = procs.replica_specs.get(&port).cloned().with_context(|| format!("no replica on port {port}"))?;
            if procs.replicas.get_mut(&port).is_some_and(|p| p.exit_status().is_none()) {
                bail!("the replica on port {port} is running");
            }
            let (name, log) = (spec.name.clone(), spec.log.clone());
            procs.replicas.insert(port, Proc::spawn(spec)?);
            (name, log)
        };
        let url = format!("http://127.0.0.1:{port}");
        let ready =
            poll_until(&format!("{name} to be SERVING"), self.ready_timeout, Duration::from_millis(100), || {
                let url = url.clone();
                async move { Ok(check_serving(&url).await.then_some(())) }
            })
            .await;
        ready.with_context(|| format!("the end of {}:\n{}", log.display(), tail(&log, 60)))
    }

    /// Stops the stack's own NATS (SIGTERM; its JetStream store stays). Services keep
    /// running: their outboxes grow until [`Stack::start_nats`].
    pub fn stop_nats(&self) -> Result<()> {
        let proc = {
            let mut procs = self.lock();
            if procs.nats_spec.is_none() {
                bail!("the stack does not run its own NATS");
            }
            procs.nats.take()
        };
        if let Some(mut proc) = proc {
            proc.stop(Duration::from_secs(10));
        }
        Ok(())
    }

    /// Starts the stack's own NATS again (same port, config and store) and waits until
    /// JetStream is up.
    pub async fn start_nats(&self) -> Result<()> {
        {
            let mut procs = self.lock();
            let spec = procs.nats_spec.clone().context("the stack does not run its own NATS")?;
            if procs.nats.as_mut().is_some_and(|p| p.exit_status().is_none()) {
                bail!("NATS is running");
            }
            procs.nats = Some(Proc::spawn(spec)?);
        }
        self.wait_http("nats", &self.nats_health, "nats.log").await
    }

    /// How many servers the stack's own NATS cluster has (0: not a cluster).
    pub fn nats_nodes(&self) -> usize {
        self.lock().cluster.len()
    }

    /// The `server_name` of cluster node `i`.
    pub fn nats_node_name(&self, i: usize) -> Option<String> {
        self.lock().cluster.get(i).map(|n| n.name.clone())
    }

    /// The cluster node whose `server_name` is `name`.
    pub fn nats_node_named(&self, name: &str) -> Option<usize> {
        self.lock().cluster.iter().position(|n| n.name == name)
    }

    /// Kills cluster node `i` with SIGKILL (its store stays, as after a machine crash).
    pub fn kill_nats_node(&self, i: usize) -> Result<()> {
        let proc = self.lock().cluster.get_mut(i).with_context(|| format!("no NATS node {i}"))?.proc.take();
        if let Some(mut proc) = proc {
            proc.kill();
        }
        Ok(())
    }

    /// Starts cluster node `i` again (same ports, config and store) and waits until its
    /// JetStream is current with the cluster.
    pub async fn start_nats_node(&self, i: usize) -> Result<()> {
        {
            let mut procs = self.lock();
            let node = procs.cluster.get_mut(i).with_context(|| format!("no NATS node {i}"))?;
            if node.proc.as_mut().is_some_and(|p| p.exit_status().is_none()) {
                bail!("NATS node {i} is running");
            }
            node.proc = Some(Proc::spawn(node.spec.clone())?);
        }
        self.wait_cluster_node(i).await
    }

    /// Waits until cluster node `i` reports healthy (`/healthz`: JetStream enabled and
    /// current, a meta leader known).
    async fn wait_cluster_node(&self, i: usize) -> Result<()> {
        let (health, name) = {
            let procs = self.lock();
            let node = procs.cluster.get(i).with_context(|| format!("no NATS node {i}"))?;
            (node.health.clone(), node.name.clone())
        };
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let waited =
            poll_until(&format!("NATS node {name}"), self.ready_timeout, Duration::from_millis(50), || async {
                let running = self
                    .lock()
                    .cluster
                    .get_mut(i)
                    .and_then(|n| n.proc.as_mut())
                    .is_some_and(|p| p.exit_status().is_none());
                if !running {
                    bail!("NATS node {i} exited");
                }
                Ok(client.get(&health).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()))
            })
            .await;
        waited.with_context(|| format!("the end of nats-{i}.log:\n{}", self.infra_tail(&format!("nats-{i}"))))
    }

    /// Shuts the stack's own Postgres down in immediate mode (SIGQUIT: no checkpoint,
    /// every connection cut; the next start runs crash recovery).
    pub fn stop_postgres_immediate(&self) -> Result<()> {
        let proc = {
            let mut procs = self.lock();
            if procs.postgres_spec.is_none() {
                bail!("the stack does not run its own Postgres (use DatabaseChoice::Embedded)");
            }
            procs.postgres.take()
        };
        if let Some(mut proc) = proc {
            proc.signal("QUIT");
            proc.stop(Duration::from_secs(10));
        }
        Ok(())
    }

    /// Starts the stack's own Postgres again on the same port and data, and waits until
    /// it accepts connections (after crash recovery).
    pub async fn start_postgres(&self) -> Result<()> {
        {
            let mut procs = self.lock();
            let spec = procs.postgres_spec.clone().context("the stack does not run its own Postgres")?;
            if procs.postgres.as_mut().is_some_and(|p| p.exit_status().is_none()) {
                bail!("Postgres is running");
            }
            procs.postgres = Some(Proc::spawn(spec)?);
        }
        postgres::wait_ready(&self.db_server, self.ready_timeout)
            .await
            .with_context(|| format!("Postgres not ready after a restart; log:\n{}", self.infra_tail("postgres")))
    }

    /// Waits until the service answers grpc.health.v1 `Check("")` with SERVING.
    pub async fn wait_healthy(&self, service: Service) -> Result<()> {
        let url = self.grpc_url(service);
        let result = poll_until(
            &format!("{service} to be SERVING at {url}"),
            self.ready_timeout,
            Duration::from_millis(20),
            || async {
                if !self.is_running(service) {
                    bail!("{service} exited");
                }
                Ok(check_serving(&url).await.then_some(()))
            },
        )
        .await;
        result.with_context(|| {
            format!(
                "{service} did not become SERVING; the end of {}:\n{}",
                self.log_path(service).display(),
                self.log_tail(service)
            )
        })
    }

    /// Stops everything (gateway, services, NATS, Postgres) and drops the stack's
    /// databases when configured to.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.abort();
        }
        let procs = Arc::clone(&self.procs);
        tokio::task::spawn_blocking(move || {
            procs.lock().unwrap_or_else(|e| e.into_inner()).stop_all();
        })
        .await
        .context("stopping the stack")?;
        if std::mem::take(&mut self.drop_databases_on_stop) {
            let names: Vec<String> = self.db_names.values().cloned().collect();
            postgres::drop_databases(&self.db_server, &names).await?;
        }
        Ok(())
    }

    fn service_spec(&self, service: Service, bin_dir: &Path, logs: &Path, options: &StackOptions) -> ProcSpec {
        let mut spec =
            ProcSpec::new(service.name(), bin_dir.join(service.binary()), logs.join(format!("{}.log", service.name())))
                .env("CINEMA_LISTEN_ADDR", format!("127.0.0.1:{}", self.port(service)))
                .env("CINEMA_DATABASE_URL", self.database_url(service))
                .env("CINEMA_NATS_URL", self.nats_url.clone())
                .env("CINEMA_STREAM_REPLICAS", self.lock().cluster.len().max(1).to_string())
                .env("CINEMA_LOG_FORMAT", options.log_format.clone())
                .env("RUST_LOG", options.rust_log.clone());
        if service == Service::Orchestrator {
            spec = spec
                .env("CINEMA_SEATS_URL", self.grpc_url(Service::Seats))
                .env("CINEMA_PAYMENT_URL", self.grpc_url(Service::Payment))
                .env("CINEMA_RESERVATION_URL", self.grpc_url(Service::Reservation));
        }
        spec.env.extend(options.env.iter().cloned());
        if let Some(extra) = options.service_env.get(&service) {
            spec.env.extend(extra.iter().cloned());
        }
        spec
    }

    async fn wait_http(&self, what: &str, url: &str, log: &str) -> Result<()> {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(2)).build().context("building an HTTP client")?;
        let result = poll_until(&format!("{what} at {url}"), self.ready_timeout, Duration::from_millis(50), || async {
            if !self.infra_running(what) {
                bail!("{what} exited");
            }
            Ok(client.get(url).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()))
        })
        .await;
        result.with_context(|| {
            let log = self.run_dir.join("logs").join(log);
            format!("{what} did not become ready; the end of {}:\n{}", log.display(), tail(&log, 60))
        })
    }

    fn infra_running(&self, what: &str) -> bool {
        let mut procs = self.lock();
        let proc = match what {
            "nats" => procs.nats.as_mut(),
            "envoy" => procs.envoy.as_mut(),
            "postgres" => procs.postgres.as_mut(),
            _ => None,
        };
        proc.is_some_and(|p| p.exit_status().is_none())
    }

    fn infra_tail(&self, what: &str) -> String {
        tail(&self.run_dir.join("logs").join(format!("{what}.log")), 60)
    }

    fn lock(&self) -> MutexGuard<'_, Procs> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.abort();
        }
        self.lock().stop_all();
        if self.drop_databases_on_stop {
            // Drop may run inside a runtime: use a private one on its own thread.
            let server = self.db_server.clone();
            let names: Vec<String> = self.db_names.values().cloned().collect();
            let dropped = std::thread::spawn(move || -> Result<()> {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("building a runtime")?
                    .block_on(postgres::drop_databases(&server, &names))
            })
            .join();
            if let Ok(Err(e)) = dropped {
                eprintln!("[stack] could not drop the test databases: {e:#}");
            }
        }
    }
}

/// Where the service binaries are: `$CINEMA_BIN_DIR`, else the running executable's
/// directory without a trailing `deps` (test binaries live in `target/debug/deps`).
pub fn default_bin_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CINEMA_BIN_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("locating the current executable")?;
    let dir = exe.parent().with_context(|| format!("{} has no parent", exe.display()))?;
    Ok(if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

/// Whether the gRPC server at `url` answers health `Check("")` with SERVING.
pub async fn check_serving(url: &str) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(url.to_owned()) else {
        return false;
    };
    let Ok(channel) =
        endpoint.connect_timeout(Duration::from_millis(500)).timeout(Duration::from_secs(2)).connect().await
    else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
}

/// Restarts services that exited on their own, with backoff when they keep crashing.
async fn supervise(procs: Arc<Mutex<Procs>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let mut procs = procs.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for (service, slot) in procs.services.iter_mut() {
            if slot.held {
                continue;
            }
            let exited = match slot.proc.as_mut() {
                Some(proc) => proc.exit_status().map(|s| (s, proc.started_at())),
                None => None,
            };
            if let Some((status, started)) = exited {
                // Quick crashes back off (1 s, 2 s, .. 30 s); a long run resets it.
                let lived = now.duration_since(started);
                let exp = if lived > Duration::from_secs(60) { 0 } else { slot.restarts.min(5) };
                let delay = Duration::from_secs(1 << exp).min(Duration::from_secs(30));
                eprintln!(
                    "[supervisor] {service} exited ({status}); restarting in {delay:?} (log: {})",
                    slot.spec.log.display()
                );
                slot.proc = None;
                slot.next_restart = Some(now + delay);
            }
            if slot.proc.is_none() && slot.next_restart.is_some_and(|at| now >= at) {
                slot.next_restart = None;
                slot.restarts += 1;
                match Proc::spawn(slot.spec.clone()) {
                    Ok(proc) => slot.proc = Some(proc),
                    Err(e) => {
                        eprintln!("[supervisor] could not restart {service}: {e:#}");
                        slot.next_restart = Some(now + Duration::from_secs(5));
                    }
                }
            }
        }
    }
}
