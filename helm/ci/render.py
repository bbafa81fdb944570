"""Render (and lint) the cinema chart without a cluster, with Helm's own library.

helm-sdkpy (PyPI) bundles Helm's Go library but offers no `template` action: only
cluster actions (install, upgrade, ...) and `lint`. So we render the way `helm install`
does, against a stand-in API server in this process that serves discovery for the kinds
the chart uses and accepts every create without storing anything (releases are kept in
Helm's `memory` driver). Helm renders, orders and "creates" the manifests; we keep the
release's `manifest`. Nothing leaves 127.0.0.1.

    render.py lint CHART
    render.py template CHART RELEASE NAMESPACE OUT.yaml [VALUES.yaml ...]
"""

import asyncio
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KUBE_VERSION = ("1", "33")

# group/version -> [(plural, Kind, namespaced)]: what discovery advertises.
RESOURCES = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("pods", "Pod", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "gateway.networking.k8s.io/v1": [("grpcroutes", "GRPCRoute", True), ("httproutes", "HTTPRoute", True)],
    "policy.linkerd.io/v1beta3": [("servers", "Server", True), ("httproutes", "HTTPRoute", True)],
    "policy.linkerd.io/v1alpha1": [
        ("authorizationpolicies", "AuthorizationPolicy", True),
        ("meshtlsauthentications", "MeshTLSAuthentication", True),
        ("networkauthentications", "NetworkAuthentication", True),
    ],
    # CloudNativePG (postgres.mode cnpg checks that the operator's API is there).
    "postgresql.cnpg.io/v1": [("clusters", "Cluster", True), ("databases", "Database", True)],
}


class FakeApi(BaseHTTPRequestHandler):
    """Just enough of the Kubernetes API for `helm install`: discovery, 404 on GET, echo on create."""

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self):
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})

    def do_GET(self):
        path = self.path.split("?")[0].rstrip("/")
        if path == "/version":
            major, minor = KUBE_VERSION
            return self.reply(200, {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0", "platform": "linux/amd64"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = {}
            for gv in RESOURCES:
                if "/" in gv:
                    group, version = gv.split("/")
                    groups.setdefault(group, []).append({"groupVersion": gv, "version": version})
            return self.reply(200, {
                "kind": "APIGroupList", "apiVersion": "v1",
                "groups": [{"name": g, "versions": v, "preferredVersion": v[0]} for g, v in groups.items()],
            })
        gv = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):] if path.startswith("/apis/") else None
        if gv in RESOURCES:
            return self.reply(200, {
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": [
                    {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                    for plural, kind, namespaced in RESOURCES[gv]
                ],
            })
        parts = path.split("/")
        if len(parts) == 5 and parts[1:4] == ["api", "v1", "namespaces"]:
            return self.reply(200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": parts[4]}})
        kind = self.kind_of(parts[-1])
        if kind:  # a collection: empty (Helm's release history, label-selected lists)
            return self.reply(200, {"kind": kind + "List", "apiVersion": "v1", "metadata": {}, "items": []})
        return self.not_found()

    @staticmethod
    def kind_of(plural):
        for resources in RESOURCES.values():
            for name, kind, _ in resources:
                if name == plural:
                    return kind
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if "json" in self.headers.get("Content-Type", "") or "yaml" in self.headers.get("Content-Type", ""):
            body = json.loads(raw or b"{}")
        else:  # protobuf (Helm's release Secret through the typed client): answer in JSON
            parts = self.path.split("?")[0].rstrip("/").split("/")
            plural = parts[-1] if self.command == "POST" else parts[-2]
            body = {"kind": self.kind_of(plural) or "Status", "apiVersion": "v1", "metadata": {"name": "release"}}
        body.setdefault("metadata", {}).setdefault("uid", "00000000-0000-0000-0000-000000000000")
        self.reply(201 if self.command == "POST" else 200, body)

    do_PUT = do_POST
    do_PATCH = do_POST

    def do_DELETE(self):
        self.reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


def kubeconfig(port):
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "render",
        "clusters": [{"name": "render", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "render", "user": {}}],
        "contexts": [{"name": "render", "context": {"cluster": "render", "user": "render"}}],
    })


def merged_values(files):
    import yaml  # checkov brings PyYAML

    values = {}

    def merge(into, new):
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    for path in files:
        with open(path) as f:
            merge(values, yaml.safe_load(f) or {})
    return values


def template(chart, release, namespace, out, values_files):
    os.environ["HELM_DRIVER"] = "memory"
    import helm_sdkpy

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as f:
            f.write(kubeconfig(server.server_address[1]))
            path = f.name
        config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=path)
        result = asyncio.run(helm_sdkpy.Install(config).run(
            release, chart, values=merged_values(values_files), wait=False, timeout=60,
        ))
        os.unlink(path)
    finally:
        server.shutdown()
    manifest = result.get("manifest") or ""
    if not manifest.strip():
        sys.exit(f"render: no manifest in the install result: {sorted(result)}")
    with open(out, "w") as f:
        f.write(manifest)
    # The same documents as JSON (a list), for readers without a YAML parser (the e2e tests).
    import yaml

    with open(out + ".json", "w") as f:
        json.dump([d for d in yaml.safe_load_all(manifest) if d], f)
    notes = result.get("info", {}).get("notes") if isinstance(result.get("info"), dict) else result.get("notes")
    if notes:
        with open(out + ".NOTES.txt", "w") as f:
            f.write(notes)


def lint(chart):
    """`helm lint --strict`: warnings fail too. Helm's messages lose their text through the
    binding (errors serialize as `{}`), so on failure the caller renders the chart, which
    reports the template error in full."""
    import helm_sdkpy

    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(chart))
    names = {1: "INFO", 2: "WARNING", 3: "ERROR"}
    bad = []
    for message in result.get("Messages") or []:
        severity = message.get("Severity", 0)
        print(f"lint: {names.get(severity, severity)} {message.get('Path')}")
        if severity >= 2:
            bad.append(message.get("Path"))
    if bad or result.get("Errors"):
        sys.exit(f"helm lint failed in {bad}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["lint"]:
        lint(sys.argv[2])
    elif sys.argv[1:2] == ["template"]:
        template(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    else:
        sys.exit(__doc__)
