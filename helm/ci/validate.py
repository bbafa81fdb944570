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
  and with Linkerd: every pod injected, internal RPCs authorized for the orchestrator
  only, and mesh retries only on the idempotent reads.

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
# Writes (never retried by the mesh) among the public RPCs.
NOT_RETRIED = INTERNAL | {"cinema.booking.v1.BookingService"}


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
        prefixes = {m["path"]["value"].strip("/") for rule in route["spec"]["rules"] for m in rule["matches"]}
        if prefixes & INTERNAL:
            identities = {
                r["name"] for ref in refs for r in auths.get(ref["name"], {}).get("spec", {}).get("identityRefs", [])
            }
            if any(ref["kind"] != "MeshTLSAuthentication" for ref in refs) or not identities or identities - orchestrator:
                problems.append(f"AuthorizationPolicy/{name}: internal RPCs {sorted(prefixes & INTERNAL)} open to {sorted(identities) or refs}")
    covered = {p for r in routes.values() for rule in r["spec"]["rules"] for m in rule["matches"] for p in [m["path"]["value"].strip("/")]}
    if servers and not INTERNAL <= covered:
        problems.append(f"internal services without an authorized route: {sorted(INTERNAL - covered)}")
    return problems


if __name__ == "__main__":
    main(sys.argv[1:])
