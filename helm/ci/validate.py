"""Validate rendered cinema manifests: schemas, references, and the chart's promises.

    validate.py RENDERED.yaml [RENDERED.yaml ...]

- Built-in kinds: kubernetes-validate, strict (unknown fields fail), against the oldest
  Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema shipped.
- Linkerd (policy.linkerd.io) and Gateway API (gateway.networking.k8s.io) kinds are CRDs:
  kubernetes-validate ships no schema for them and the CRDs are not vendored here, so
  their schema check is skipped; instead every reference between them must resolve
  (AuthorizationPolicy -> HTTPRoute and authentication, HTTPRoute -> Server,
  GRPCRoute -> Service, Server -> pods) and the fields the proxy acts on are asserted.
- The chart's promises: zero-downtime rollouts, gRPC probes on the health service,
  a grace period that covers preStop and the drain, an HPA and a PDB per Deployment,
  and with Linkerd (design.md §10): every pod injected, internal RPCs authorized for the
  orchestrator only, every other RPC for the gateway only (but the public methods the
  orchestrator calls, ORCHESTRATOR_CALLS, for both), every route of the rendered
  gateway config authorized for the gateway, and mesh retries only on the idempotent
  reads.

Prints one JSON summary line on success; exits non-zero listing every problem.
"""

import json
import sys

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


def main(paths):
    problems, summary = [], {"files": len(paths), "documents": 0, "schema_validated": 0, "crd_checked": 0}
    for path in paths:
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        summary["documents"] += len(docs)
        by_kind = {}
        for doc in docs:
            by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
            where = f"{path}: {doc['kind']}/{doc['metadata'].get('name')}"
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
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(f"{len(problems)} problem(s) in the rendered manifests")
    print(json.dumps(summary))


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


if __name__ == "__main__":
    main(sys.argv[1:])
