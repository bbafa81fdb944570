"""Validate rendered cinema manifests: schemas, references, and the chart's promises.

    validate.py RENDERED.yaml [RENDERED.yaml ...]

- Built-in kinds: kubernetes-validate, strict (unknown fields fail), against the oldest
  Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema shipped.
- Linkerd (policy.linkerd.io) and Gateway API (gateway.networking.k8s.io) kinds are CRDs:
  kubernetes-validate ships no schema for them and the CRDs are not vendored here, so
  their schema check is skipped; instead every reference between them must resolve
  (AuthorizationPolicy -> HTTPRoute and authentication, HTTPRoute -> Server,
  GRPCRoute -> Service, Server -> pods) and the fields the proxy acts on are asserted.
- CloudNativePG kinds (postgresql.cnpg.io: Cluster, Database) are validated against the
  CRD schemas vendored in helm/ci/crds/ (release and commit in each file's header), strict
  like the built-in kinds: a field the schema does not declare fails. Their CEL rules
  (x-kubernetes-validations) are not evaluated.
- The chart's promises: zero-downtime rollouts, gRPC probes on the health service,
  a grace period that covers preStop and the drain, an HPA and a PDB per Deployment,
  and with Linkerd (design.md §10): every pod injected, internal RPCs authorized for the
  orchestrator only, every other RPC for the gateway only (but the public methods the
  orchestrator calls, ORCHESTRATOR_CALLS, for both), every route of the rendered
  gateway config authorized for the gateway, and mesh retries only on the idempotent
  reads.
- Past one machine: the NATS StatefulSet fsyncs every JetStream write (sync_interval:
  always), probes /healthz?js-enabled-only=true on its monitoring port, and as a cluster
  names itself after its pods, routes to every peer by its stable name under a headless
  Service, starts its pods in parallel, keeps one per node and a quorum through
  disruptions (PodDisruptionBudget), and goes lame duck before it stops; every service
  gets one CINEMA_STREAM_REPLICAS, no more than the servers in the release. Every
  service's database URL (its secret TOML) reaches its own database: on the in-chart
  Postgres, or, with a CloudNativePG Cluster, through the Cluster's -rw Service as a role
  the Cluster manages, with the password of that role's Secret, into a `Database` that
  role owns. EXPECTED says what each CI render (by file name) must hold.
- The customer's page (web.enabled): the gateway's Envoy config answers GET /, /index.html,
  /app.js, /app.css and /config.json itself (direct_response from a file, with its content
  type, before the catch-all 404), every file it names is a key of the ConfigMap the
  gateway mounts there, index.html loads the routed app.js and app.css, and config.json is
  what web/src/config.ts accepts for OIDC sign-in (EXPECTED holds each render's).

Prints one JSON summary line on success; exits non-zero listing every problem.
"""

import base64
import json
import os
import re
import sys
import tomllib
import urllib.parse

import jsonschema
import kubernetes_validate
import yaml

KUBE_VERSIONS = ["1.30.0", "1.37.0"]
CRD_GROUPS = ("policy.linkerd.io/", "gateway.networking.k8s.io/")
# The services only the orchestrator may call (cinema_proto::INTERNAL_SERVICES; the e2e
# test `chart::mesh_policy_matches_the_protos` checks the two lists agree).
INTERNAL = {
    "cinema.seats.v1.SeatInventoryService",
    "cinema.payment.v1.PaymentService",
    "cinema.reservation.v1.ReservationService",
}
# The services operators call through the gateway (cinema_proto::OPERATOR_SERVICES).
OPERATOR = {"cinema.booking.v1.SagaOperatorService", "cinema.reservation.v1.BookingViewAdmin"}
# The public methods the orchestrator calls itself (orchestrator/src/service.rs: BookTickets
# checks the seat map): under Linkerd the only public RPCs not the gateway's alone.
ORCHESTRATOR_CALLS = {"/cinema.seats.v1.SeatsService/GetSeatMap"}
HEALTH = "grpc.health.v1.Health"
# Writes (never retried by the mesh) among the public RPCs.
NOT_RETRIED = INTERNAL | OPERATOR | {"cinema.booking.v1.BookingService"}
# The vendored CRD schemas (helm/ci/crds/vendor.py writes them).
CRD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crds")
NATS_HEALTH = "/healthz?js-enabled-only=true"
# The page's routes: path -> (the file it serves, its content type) (tests/src/gateway.rs
# WebFiles::routes serves the same locally).
PAGE_ROUTES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
    "/config.json": ("config.json", "application/json"),
}
# The chart's example provider (values.yaml gateway.auth) and the page's default client.
EXAMPLE_SIGN_IN = {"kind": "oidc", "authority": "https://keycloak.example.com/realms/cinema", "clientId": "cinema-web", "scope": "openid"}
# What each CI render must hold, by its file name (xtask/src/chart.rs RENDERS: <name>.yaml):
# JetStream servers in the release (0: an external NATS), every service's
# CINEMA_STREAM_REPLICAS, where the databases live (bundled, cnpg or external), and for
# the render past one machine the Postgres instances and the smallest HPA minimum; the
# page's config.json (None: the gateway serves no page).
EXPECTED = {
    "default": {"nats_servers": 1, "stream_replicas": 1, "postgres": "bundled", "page": {"signIn": EXAMPLE_SIGN_IN}},
    # postgres.enabled: false, the key before postgres.mode, still means external servers.
    "linkerd-external": {"nats_servers": 0, "stream_replicas": 1, "postgres": "external", "page": None},
    "tls-oidc": {
        "nats_servers": 1, "stream_replicas": 1, "postgres": "bundled",
        "page": {
            "gatewayUrl": "https://api.cinema.test",
            "signIn": {"kind": "oidc", "authority": "https://login.cinema.test/realms/cinema", "clientId": "cinema-shop", "scope": "openid profile"},
        },
    },
    "ha": {"nats_servers": 3, "stream_replicas": 3, "postgres": "cnpg", "postgres_instances": 3, "min_replicas": 2, "page": {"signIn": EXAMPLE_SIGN_IN}},
}


def main(paths):
    problems = []
    summary = {"files": len(paths), "documents": 0, "schema_validated": 0, "crd_schema_validated": 0, "crd_checked": 0}
    crd_schemas = load_crd_schemas()
    vendored_groups = tuple(sorted({api.split("/")[0] + "/" for api, _ in crd_schemas}))
    for path in paths:
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        summary["documents"] += len(docs)
        by_kind = {}
        for doc in docs:
            by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
            where = f"{path}: {doc['kind']}/{doc['metadata'].get('name')}"
            if doc["apiVersion"].startswith(vendored_groups):
                summary["crd_schema_validated"] += 1
                validator = crd_schemas.get((doc["apiVersion"], doc["kind"]))
                if validator is None:
                    problems.append(f"{where}: no schema vendored for {doc['apiVersion']} {doc['kind']} (helm/ci/crds)")
                    continue
                problems += [f"{where}: {p}" for p in check_crd(doc)]
                for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                    problems.append(f"{where}: CRD schema: {error.message} at {'.'.join(map(str, error.absolute_path)) or '.'}")
                continue
            if doc["apiVersion"].startswith(CRD_GROUPS):
                summary["crd_checked"] += 1
                problems += [f"{where}: {p}" for p in check_crd(doc)]
                continue
            for version in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    problems.append(f"{where}: k8s {version}: {e.message} at {'.'.join(map(str, e.path))}")
                except kubernetes_validate.SchemaNotFoundError:
                    problems.append(f"{where}: no schema for {doc['apiVersion']} in k8s {version}")
            summary["schema_validated"] += 1
        problems += [f"{path}: {p}" for p in check_promises(by_kind)]
        problems += [f"{path}: {p}" for p in check_references(by_kind)]
        try:
            facts, found = past_one_machine(by_kind)
        except (KeyError, TypeError, ValueError, AttributeError) as e:  # a malformed render (reported above)
            facts, found = {}, [f"the stateful parts cannot be checked: {type(e).__name__}: {e}"]
        problems += [f"{path}: {p}" for p in found]
        try:
            facts["page"], found = check_page(by_kind)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            found = [f"the page cannot be checked: {type(e).__name__}: {e}"]
        problems += [f"{path}: {p}" for p in found]
        render = os.path.basename(path).removesuffix(".yaml")
        for key, want in EXPECTED.get(render, {}).items():
            if facts.get(key) != want:
                problems.append(f"{path}: the {render} render must have {key} = {want!r}, it has {facts.get(key)!r}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"{len(problems)} problem(s) in the rendered manifests")
    print(json.dumps(summary))


def load_crd_schemas():
    """(apiVersion, kind) -> a validator of the vendored schema, made strict: an object
    schema that lists its properties takes no other field (unless it preserves unknown
    fields), as the API server's strict field validation refuses them."""

    def strict(schema):
        if isinstance(schema, list):
            return [strict(s) for s in schema]
        if not isinstance(schema, dict):
            return schema
        out = {k: ({n: strict(s) for n, s in v.items()} if k == "properties" else strict(v)) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out

    validators = {}
    for name in sorted(os.listdir(CRD_DIR)):
        if not name.endswith(".yaml"):
            continue
        crd = yaml.safe_load(open(os.path.join(CRD_DIR, name)))
        for version, schema in crd["versions"].items():
            validators[(f"{crd['group']}/{version}", crd["kind"])] = jsonschema.Draft7Validator(strict(schema))
    return validators


def check_crd(doc):
    meta = doc.get("metadata", {})
    problems = [] if meta.get("name") and meta.get("namespace") else ["metadata.name and .namespace are required"]
    if not isinstance(doc.get("spec"), dict):
        problems.append("spec is required")
    return problems


def containers(doc):
    return doc["spec"]["template"]["spec"]["containers"]


def check_promises(by_kind):
    problems = []
    configmaps = by_kind.get("ConfigMap", {})
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in by_kind.get("HorizontalPodAutoscaler", {}).values()}
    pdb_selectors = [p["spec"]["selector"]["matchLabels"] for p in by_kind.get("PodDisruptionBudget", {}).values()]
    meshed = bool(by_kind.get("Server"))
    for name, deploy in by_kind.get("Deployment", {}).items():
        spec = deploy["spec"]
        if spec["strategy"].get("rollingUpdate", {}).get("maxUnavailable") != 0:
            problems.append(f"Deployment/{name}: rollingUpdate.maxUnavailable must be 0")
        if name not in hpa_targets and "replicas" not in spec:
            problems.append(f"Deployment/{name}: no HPA and no replicas")
        labels = spec["selector"]["matchLabels"]
        if not any(sel.items() <= labels.items() for sel in pdb_selectors):
            problems.append(f"Deployment/{name}: no PodDisruptionBudget")
        pod = spec["template"]
        if meshed and pod["metadata"].get("annotations", {}).get("linkerd.io/inject") != "enabled":
            problems.append(f"Deployment/{name}: not injected into the mesh")
        for c in containers(deploy):
            pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
            if pre_stop is None:
                problems.append(f"Deployment/{name}: container {c['name']} has no preStop sleep")
                continue
            grace = pod["spec"]["terminationGracePeriodSeconds"]
            if "grpc" not in c.get("readinessProbe", {}):
                if grace < pre_stop:
                    problems.append(f"Deployment/{name}: grace {grace}s < preStop {pre_stop}s")
                continue  # the gateway: TCP probes (see templates/gateway.yaml)
            ready, live, start = c["readinessProbe"]["grpc"], c["livenessProbe"].get("grpc", {}), c.get("startupProbe", {}).get("grpc", {})
            if ready.get("service", "") != "" or live.get("service") != "liveness" or start.get("service") != "liveness":
                problems.append(f"Deployment/{name}: probes must be gRPC health: readiness '', liveness and startup 'liveness'")
            env = {}
            for ref in c.get("envFrom", []):
                env.update(configmaps.get(ref.get("configMapRef", {}).get("name"), {}).get("data", {}))
            drain = int(env.get("CINEMA_DRAIN_DELAY_MS", "0")) / 1000
            if grace < pre_stop + drain:
                problems.append(f"Deployment/{name}: grace {grace}s < preStop {pre_stop}s + drain {drain}s")
            if not env.get("CINEMA_LISTEN_ADDR", "").endswith(f":{ready['port']}"):
                problems.append(f"Deployment/{name}: probes on {ready['port']}, CINEMA_LISTEN_ADDR {env.get('CINEMA_LISTEN_ADDR')}")
            bad = [k for k in env if not (k.startswith("CINEMA_") or k == "RUST_LOG")]
            if bad:
                problems.append(f"Deployment/{name}: settings the binaries do not read: {bad}")
    for name, route in by_kind.get("GRPCRoute", {}).items():
        if not any(k.startswith("retry.linkerd.io/") for k in route["metadata"].get("annotations", {})):
            continue
        for rule in route["spec"]["rules"]:
            for match in rule.get("matches", [{}]):
                service = match.get("method", {}).get("service")
                if service is None or service in NOT_RETRIED:
                    problems.append(f"GRPCRoute/{name}: mesh retries on {service or 'every call'} (the saga retries those itself)")
    return problems


def check_references(by_kind):
    problems = []
    routes, servers = by_kind.get("HTTPRoute", {}), by_kind.get("Server", {})
    services, auths = by_kind.get("Service", {}), {**by_kind.get("MeshTLSAuthentication", {}), **by_kind.get("NetworkAuthentication", {})}
    accounts = by_kind.get("ServiceAccount", {})
    orchestrator = {n for n in accounts if n.endswith("-orchestrator")}
    gateway = {n for n in accounts if n.endswith("-gateway")}
    pods = [d["spec"]["template"]["metadata"]["labels"] for k in ("Deployment", "StatefulSet") for d in by_kind.get(k, {}).values()]
    for name, server in servers.items():
        sel = server["spec"]["podSelector"]["matchLabels"]
        if not any(sel.items() <= labels.items() for labels in pods):
            problems.append(f"Server/{name}: selects no pod")
    for name, route in routes.items():
        for parent in route["spec"]["parentRefs"]:
            if parent["name"] not in servers:
                problems.append(f"HTTPRoute/{name}: parent Server/{parent['name']} missing")
    for name, route in by_kind.get("GRPCRoute", {}).items():
        for parent in route["spec"]["parentRefs"]:
            if parent["name"] not in services:
                problems.append(f"GRPCRoute/{name}: parent Service/{parent['name']} missing")
    for name, mtls in by_kind.get("MeshTLSAuthentication", {}).items():
        for ref in mtls["spec"]["identityRefs"]:
            if ref["kind"] == "ServiceAccount" and ref["name"] not in accounts:
                problems.append(f"MeshTLSAuthentication/{name}: ServiceAccount/{ref['name']} missing")

    # Who each route admits: a set of ServiceAccounts, or None for a network (the probes).
    admitted = {}
    for name, policy in by_kind.get("AuthorizationPolicy", {}).items():
        target = policy["spec"]["targetRef"]
        route = routes.get(target["name"])
        if target["kind"] != "HTTPRoute" or route is None:
            problems.append(f"AuthorizationPolicy/{name}: target {target['kind']}/{target['name']} missing")
            continue
        refs = policy["spec"]["requiredAuthenticationRefs"]
        for ref in refs:
            if ref["name"] not in auths:
                problems.append(f"AuthorizationPolicy/{name}: {ref['kind']}/{ref['name']} missing")
        if any(ref["kind"] != "MeshTLSAuthentication" for ref in refs):
            admitted[target["name"]] = None
        else:
            admitted[target["name"]] = {
                r["name"] for ref in refs for r in auths.get(ref["name"], {}).get("spec", {}).get("identityRefs", [])
            }
        identities = admitted[target["name"]]
        for match in matches(route):
            kind, value = match["path"]["type"], match["path"]["value"]
            grpc = value.strip("/") if kind == "PathPrefix" else None
            if grpc == HEALTH:
                continue
            if grpc in INTERNAL:
                allowed, what = orchestrator, f"internal RPCs {grpc}"
            elif kind == "Exact" and value in ORCHESTRATOR_CALLS:
                allowed, what = gateway | orchestrator, f"{value} (the orchestrator calls it)"
            else:
                allowed, what = gateway, f"{value} (the gateway's alone)"
            if not identities or identities - allowed:
                problems.append(f"AuthorizationPolicy/{name}: {what} open to {sorted(identities) if identities else refs}")
    covered = {m["path"]["value"].strip("/") for r in routes.values() for m in matches(r)}
    if servers and not INTERNAL <= covered:
        problems.append(f"internal services without an authorized route: {sorted(INTERNAL - covered)}")
    if servers:
        problems += check_callers(by_kind, routes, admitted, gateway, orchestrator)
    return problems


def matches(route):
    return [m for rule in route["spec"]["rules"] for m in rule.get("matches", [])]


def route_for(routes, server, path):
    """The inbound route a call to `path` on `server` takes: the longest match, as the proxy picks it."""
    best = None
    for name, route in routes.items():
        if server not in {p["name"] for p in route["spec"]["parentRefs"]}:
            continue
        for m in matches(route):
            kind, value = m["path"]["type"], m["path"]["value"]
            prefix = value.rstrip("/")
            if kind == "Exact" and value == path or kind == "PathPrefix" and (path.rstrip("/") == prefix or path.startswith(prefix + "/")):
                if best is None or len(prefix) > best[0]:
                    best = (len(prefix), name)
    return best and best[1]


def check_callers(by_kind, routes, admitted, gateway, orchestrator):
    """Every route of the rendered gateway config, and every public method the orchestrator
    calls, reaches its workload under the mesh policy."""
    servers = by_kind.get("Server", {})
    configs = [yaml.safe_load(c["data"]["envoy.yaml"]) for c in by_kind.get("ConfigMap", {}).values() if "envoy.yaml" in c.get("data", {})]
    hosts = [
        host
        for config in configs  # none when gateway.enabled is false
        for host in config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
    ]
    calls = []  # (caller, its identities, Server, path)
    for host in hosts:
        for route in host["routes"]:
            cluster = route.get("route", {}).get("cluster")
            if cluster is None:
                continue
            server = next((n for n in servers if n.endswith(f"-{cluster}")), f"<no Server for cluster {cluster}>")
            prefix = route["match"].get("prefix")
            # A routed service: any method of it, and every exact route inside it.
            paths = [route["match"]["path"]] if prefix is None else [prefix + "AnyMethod"] + [
                m["path"]["value"] for r in routes.values() for m in matches(r)
                if m["path"]["type"] == "Exact" and m["path"]["value"].startswith(prefix)
            ]
            calls += [("the gateway", gateway, server, path) for path in paths]
    for path in ORCHESTRATOR_CALLS:
        server = next((p["name"] for r in routes.values() for m in matches(r) for p in r["spec"]["parentRefs"]
                       if m["path"]["type"] == "PathPrefix" and path.startswith(m["path"]["value"].rstrip("/") + "/")), f"<no Server serving {path}>")
        calls.append(("the orchestrator", orchestrator, server, path))
    problems = []
    for caller, identities, server, path in calls:
        route = route_for(routes, server, path)
        if route is None:
            problems.append(f"{caller} calls {path} on {server}: no route authorizes it")
        elif not identities or not identities <= (admitted.get(route) or set()):
            problems.append(f"{caller} calls {path} on {server}: HTTPRoute/{route} admits {sorted(admitted.get(route) or [])} only")
    return problems


def selects(selector, labels):
    return bool(selector) and selector.items() <= labels.items()


def settings_of(deploy, configmaps):
    env = {}
    for c in containers(deploy):
        for ref in c.get("envFrom", []):
            env.update(configmaps.get(ref.get("configMapRef", {}).get("name"), {}).get("data", {}))
    return env


def secret_toml(deploy, secrets):
    """The secret settings TOML a gRPC workload mounts (None: the Secret is not in the render)."""
    for volume in deploy["spec"]["template"]["spec"].get("volumes", []):
        ref = volume.get("secret")
        if volume["name"] != "secret-settings" or not ref:
            continue
        data = secrets.get(ref["secretName"], {}).get("stringData", {})
        for item in ref.get("items", []):
            if item["key"] in data:
                return tomllib.loads(data[item["key"]])
    return None


def past_one_machine(by_kind):
    """The promises of the stateful parts and what the render holds (see EXPECTED)."""
    problems, facts = [], {}
    configmaps, secrets, services = by_kind.get("ConfigMap", {}), by_kind.get("Secret", {}), by_kind.get("Service", {})
    grpc = {
        name: d for name, d in by_kind.get("Deployment", {}).items()
        if any("grpc" in c.get("readinessProbe", {}) for c in containers(d))
    }

    # NATS: every StatefulSet running a `nats` container.
    servers = 0
    for name, sts in by_kind.get("StatefulSet", {}).items():
        pod = sts["spec"]["template"]
        nats = next((c for c in pod["spec"]["containers"] if c["name"] == "nats"), None)
        if nats is None:
            continue
        replicas = sts["spec"].get("replicas", 1)
        servers += replicas
        problems += [f"StatefulSet/{name}: {p}" for p in check_nats(sts, nats, replicas, by_kind)]
    facts["nats_servers"] = servers

    # Every gRPC workload: one stream replication factor, servable by the release's NATS.
    stream = {name: settings_of(d, configmaps).get("CINEMA_STREAM_REPLICAS") for name, d in grpc.items()}
    values = set(stream.values())
    if None in values or len(values) != 1 or not all(v.isdigit() and 1 <= int(v) <= 5 for v in values):
        problems.append(f"CINEMA_STREAM_REPLICAS must be one number 1..5 for every service: {stream}")
    else:
        facts["stream_replicas"] = int(values.pop())
        if servers and facts["stream_replicas"] > servers:
            problems.append(f"CINEMA_STREAM_REPLICAS={facts['stream_replicas']} but the release runs {servers} JetStream server(s)")

    hpas = [h["spec"]["minReplicas"] for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
            if h["spec"]["scaleTargetRef"]["name"] in grpc]
    facts["min_replicas"] = min(hpas) if hpas else None

    # Postgres.
    clusters = by_kind.get("Cluster", {})
    bundled = [n for n, s in by_kind.get("StatefulSet", {}).items() if any(c["name"] == "postgres" for c in containers(s))]
    facts["postgres"] = "cnpg" if clusters else "bundled" if bundled else "external"
    if clusters:
        facts["postgres_instances"] = sum(c["spec"]["instances"] for c in clusters.values())
        problems += check_cnpg(clusters, by_kind)
    databases = {}
    for name, deploy in grpc.items():
        toml = secret_toml(deploy, secrets)
        if toml is None:
            continue  # postgres.external.existingSecret: not in the render
        url = urllib.parse.urlsplit(toml.get("database_url", ""))
        db = url.path.lstrip("/")
        databases.setdefault(db, []).append(name)
        if clusters:
            problems += [f"Deployment/{name}: {p}" for p in check_cnpg_url(url, clusters, by_kind)]
        elif bundled and url.hostname not in {n for n in bundled if n in services}:
            problems.append(f"Deployment/{name}: database URL host {url.hostname} is not the in-chart Postgres {bundled}")
        elif not bundled and url.hostname in services:
            problems.append(f"Deployment/{name}: an external database URL names a Service of the release ({url.hostname})")
    shared = {db: names for db, names in databases.items() if len(names) > 1}
    if shared:
        problems.append(f"services share a database: {shared}")
    return facts, problems


def check_page(by_kind):
    """The page the gateway serves: (its config.json, problems); (None, []) without one."""
    configmaps = by_kind.get("ConfigMap", {})
    gateway = next((c for c in configmaps.values() if "envoy.yaml" in c.get("data", {})), None)
    if gateway is None:
        return None, []
    config = yaml.safe_load(gateway["data"]["envoy.yaml"])
    hcm = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    routes = [r for host in hcm["route_config"]["virtual_hosts"] for r in host["routes"]]
    served = {}  # path -> (route index, filename)
    problems = []
    for i, route in enumerate(routes):
        body = route.get("direct_response", {}).get("body", {})
        if "filename" not in body:
            continue
        path = route["match"].get("path")
        want = PAGE_ROUTES.get(path)
        if want is None:
            problems.append(f"the gateway serves a file at {route['match']}, not a page route ({sorted(PAGE_ROUTES)})")
            continue
        if path in served:
            problems.append(f"the gateway routes {path} twice")
        served[path] = (i, body["filename"])
        headers = {h["header"]["key"]: h["header"]["value"] for h in route.get("response_headers_to_add", [])}
        if route["direct_response"].get("status") != 200 or headers.get("content-type") != want[1]:
            problems.append(f"{path}: must answer 200 with content-type {want[1]!r}, not {route['direct_response'].get('status')} {headers.get('content-type')!r}")
        if headers.get("cache-control") != "no-cache" or headers.get("x-content-type-options") != "nosniff":
            problems.append(f"{path}: must answer with cache-control: no-cache and x-content-type-options: nosniff (fixed names: a stale copy must not stick)")
        if [m.get("string_match") for m in route["match"].get("headers", []) if m.get("name") == ":method"] != [{"exact": "GET"}]:
            problems.append(f"{path}: must match GET only")
        if os.path.basename(body["filename"]) != want[0]:
            problems.append(f"{path}: serves {body['filename']}, not {want[0]}")
    if not served:
        return None, problems
    if set(served) != set(PAGE_ROUTES):
        problems.append(f"the page's routes are incomplete: {sorted(set(PAGE_ROUTES) - set(served))} missing")
    catch_all = next((i for i, r in enumerate(routes) if r["match"].get("prefix") == "/"), len(routes))
    problems += [f"{p}: after the catch-all route (never reached)" for p, (i, _) in served.items() if i > catch_all]

    # Every file named is a key of the ConfigMap the gateway mounts at its directory.
    deploys = [d for d in by_kind.get("Deployment", {}).values() if any(c["name"] == "envoy" for c in containers(d))]
    files = {}
    for path, (_, filename) in served.items():
        found = None
        for deploy in deploys:
            pod = deploy["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            envoy = next(c for c in pod["containers"] if c["name"] == "envoy")
            for mount in envoy.get("volumeMounts", []):
                if "subPath" in mount or os.path.dirname(filename) != mount["mountPath"].rstrip("/"):
                    continue
                name = volumes.get(mount["name"], {}).get("configMap", {}).get("name")
                cm = configmaps.get(name, {})
                key = os.path.basename(filename)
                if key in cm.get("data", {}):
                    found = cm["data"][key].encode()
                elif key in cm.get("binaryData", {}):
                    found = base64.b64decode(cm["binaryData"][key])
        if not found:
            problems.append(f"{path}: {filename} is in no ConfigMap the gateway mounts (or it is empty)")
        files[os.path.basename(filename)] = found or b""
    html = files.get("index.html", b"").decode(errors="replace")
    for ref in ('src="/app.js"', 'href="/app.css"'):
        if ref not in html:
            problems.append(f"index.html does not load {ref}: the page would not start")

    # config.json, as web/src/config.ts parses it (signIn kind oidc; the chart offers no demo).
    try:
        page = json.loads(files.get("config.json") or b"null")
    except ValueError as e:
        return None, problems + [f"config.json is not JSON: {e}"]
    problems += [f"config.json: {p}" for p in check_page_config(page)]
    return page, problems


def check_page_config(page):
    def url(value):
        return isinstance(value, str) and re.match(r"^https?://[^/?#\s]+", value) is not None

    if not isinstance(page, dict) or not isinstance(page.get("signIn"), dict):
        return ["must be an object with an object signIn"]
    problems = [f"unknown key {k}" for k in page if k not in {"gatewayUrl", "signIn"}]
    if "gatewayUrl" in page and not url(page["gatewayUrl"]):
        problems.append(f"gatewayUrl must be an http(s) URL: {page['gatewayUrl']!r}")
    sign_in = page["signIn"]
    if sign_in.get("kind") != "oidc":
        problems.append(f"signIn.kind must be oidc, not {sign_in.get('kind')!r}")
    problems += [f"signIn: unknown key {k}" for k in sign_in if k not in {"kind", "authority", "clientId", "scope"}]
    if not url(sign_in.get("authority")):
        problems.append(f"signIn.authority must be the provider's http(s) URL: {sign_in.get('authority')!r}")
    for key in ("clientId", "scope"):
        if not (isinstance(sign_in.get(key), str) and sign_in[key]):
            problems.append(f"signIn.{key} must be a non-empty string: {sign_in.get(key)!r}")
    return problems


def check_nats(sts, nats, replicas, by_kind):
    problems = []
    spec, pod = sts["spec"], sts["spec"]["template"]
    labels = pod["metadata"]["labels"]
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    config = next((volumes[m["name"]]["configMap"]["name"] for m in nats.get("volumeMounts", [])
                   if "configMap" in volumes.get(m["name"], {})), None)
    conf = by_kind.get("ConfigMap", {}).get(config, {}).get("data", {}).get("nats.conf")
    if conf is None:
        return [f"no nats.conf in a ConfigMap it mounts ({config})"]

    def setting(key):  # a top-level `key: value` of nats.conf
        found = re.search(rf"^\s*{key}:\s*(\S+)", conf, re.M)
        return found and found.group(1)

    jetstream = re.search(r"jetstream\s*\{([^}]*)\}", conf)
    if not jetstream or not re.search(r"^\s*sync_interval:\s*always\s*$", jetstream.group(1), re.M):
        problems.append("JetStream must fsync every write (jetstream { sync_interval: always })")
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    store = setting("store_dir")
    if not any(m["mountPath"] == store and m["name"] in claims for m in nats.get("volumeMounts", [])):
        problems.append(f"store_dir {store} is not on a volumeClaimTemplate")
    ports = {p["name"]: p["containerPort"] for p in nats.get("ports", [])}
    if str(ports.get("monitor")) != setting("http_port"):
        problems.append(f"the monitor port {ports.get('monitor')} is not http_port {setting('http_port')}")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = nats.get(probe, {}).get("httpGet", {})
        if get.get("path") != NATS_HEALTH or get.get("port") != "monitor":
            problems.append(f"{probe} must be GET {NATS_HEALTH} on the monitor port, not {get}")
    if replicas == 1:
        return problems

    # A cluster.
    cluster = re.search(r"cluster\s*\{(.*?)\n\s*\}", conf, re.S)
    if not cluster:
        return problems + [f"{replicas} replicas but no cluster block in nats.conf"]
    route_port = re.search(r"^\s*port:\s*(\d+)", cluster.group(1), re.M)
    route_port = int(route_port.group(1)) if route_port else None
    if ports.get("cluster") != route_port:
        problems.append(f"container port `cluster` {ports.get('cluster')} is not the cluster port {route_port}")
    routes = re.findall(r"nats://[^\s,\]]+", cluster.group(1))
    headless = by_kind.get("Service", {}).get(spec["serviceName"], {}).get("spec", {})
    peers = {f"nats://{sts['metadata']['name']}-{i}.{spec['serviceName']}.{sts['metadata']['namespace']}.svc:{route_port}" for i in range(replicas)}
    if len(routes) != replicas or set(routes) != peers:
        problems.append(f"routes {routes} must name every peer once: {sorted(peers)}")
    if headless.get("clusterIP") != "None" or not headless.get("publishNotReadyAddresses") or not selects(headless.get("selector"), labels):
        problems.append(f"serviceName {spec['serviceName']} must be a headless Service of its pods publishing not-ready addresses")
    elif route_port not in {p["port"] for p in headless.get("ports", [])}:
        problems.append(f"the headless Service {spec['serviceName']} lacks the cluster port {route_port}")
    env = {e["name"]: e for e in nats.get("env", [])}
    if setting("server_name") != "$SERVER_NAME" or env.get("SERVER_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
        problems.append("every server must be named after its pod (server_name: $SERVER_NAME, SERVER_NAME from metadata.name)")
    if spec.get("podManagementPolicy") != "Parallel":
        problems.append("podManagementPolicy must be Parallel (a lone first server never becomes ready)")
    anti = pod["spec"].get("affinity", {}).get("podAntiAffinity", {})
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
        t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" and selects(t.get("labelSelector", {}).get("matchLabels"), labels) for t in terms):
        problems.append("no anti-affinity spreading the servers across nodes")
    quorum = replicas // 2 + 1
    pdbs = [p for p in by_kind.get("PodDisruptionBudget", {}).values() if selects(p["spec"]["selector"].get("matchLabels"), labels)]
    if not any(replicas - p["spec"].get("maxUnavailable", replicas) >= quorum or p["spec"].get("minAvailable", 0) >= quorum for p in pdbs):
        problems.append(f"no PodDisruptionBudget keeping a quorum of {quorum}")
    pre_stop = nats.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pid = setting("pid_file")
    if not pid or f"ldm={pid}" not in pre_stop:
        problems.append(f"the preStop hook must put the server in lame duck mode (pid_file {pid}): {pre_stop}")
    return problems


def check_cnpg(clusters, by_kind):
    problems = []
    policies = by_kind.get("NetworkPolicy", {}).values()
    for name, cluster in clusters.items():
        spec = cluster["spec"]
        sync = spec.get("postgresql", {}).get("synchronous")
        if sync and not 0 < sync["number"] < spec["instances"]:
            problems.append(f"Cluster/{name}: {sync['number']} synchronous replicas of {spec['instances']} instances")
        if spec.get("affinity", {}).get("enablePodAntiAffinity") is False:
            problems.append(f"Cluster/{name}: instances may share a node")
        # The release's default-deny selects the instances by their inherited labels: the
        # operator must still reach them.
        own = {"cnpg.io/cluster": name}
        if by_kind.get("NetworkPolicy") and not any(
            p["spec"]["podSelector"].get("matchLabels") == own
            and any(8000 in {port.get("port") for port in rule.get("ports", [])} for rule in p["spec"].get("ingress", []))
            for p in policies
        ):
            problems.append(f"Cluster/{name}: no NetworkPolicy lets the operator reach its instances (8000)")
        for ref in (r["name"] for r in by_kind.get("Database", {}).values() if r["spec"]["cluster"]["name"] not in clusters):
            problems.append(f"Database for Cluster/{ref}: no such Cluster")
    return problems


def check_cnpg_url(url, clusters, by_kind):
    """A service's database URL: the -rw Service of a Cluster, a role it manages with that
    role's password, a Database of that Cluster the role owns."""
    cluster = next((c for n, c in clusters.items() if url.hostname == f"{n}-rw"), None)
    if cluster is None or url.port != 5432:
        return [f"database URL {url.hostname}:{url.port} is not a Cluster's -rw Service on 5432 ({[n + '-rw' for n in clusters]})"]
    name, problems = cluster["metadata"]["name"], []
    user, db = urllib.parse.unquote(url.username or ""), url.path.lstrip("/")
    role = next((r for r in cluster["spec"].get("managed", {}).get("roles", []) if r["name"] == user), None)
    if role is None or not role.get("login") or role.get("ensure", "present") != "present":
        return [f"user {user} is not a login role of Cluster/{name}"]
    secret = by_kind.get("Secret", {}).get(role.get("passwordSecret", {}).get("name"), {})
    data = secret.get("stringData", {})
    if secret.get("type") != "kubernetes.io/basic-auth" or data.get("username") != user:
        problems.append(f"role {user}: its passwordSecret is not a basic-auth Secret for {user}")
    elif data.get("password") != urllib.parse.unquote(url.password or ""):
        problems.append(f"role {user}: the URL's password is not the one in its Secret")
    if not any(d["spec"]["cluster"]["name"] == name and d["spec"]["name"] == db and d["spec"]["owner"] == user
               and d["spec"].get("ensure", "present") == "present" for d in by_kind.get("Database", {}).values()):
        problems.append(f"no Database {db} owned by {user} in Cluster/{name}")
    return problems


if __name__ == "__main__":
    main(sys.argv[1:])
