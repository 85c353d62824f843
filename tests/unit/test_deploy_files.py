"""The deployment files stay true to the code: the Dockerfile, the KubeRay manifest, the Ray
cluster-launcher config, the Grafana dashboard and the runbooks.

- every metric the dashboard queries is one the code defines (as a string literal under aurigraph/,
  actors/, serve_apps/ or models/), and the indexer's and Redis's metrics have panels;
- no Ray head listens on 6379 (Redis's port on our hosts) and every Ray process uses token auth;
- the Dockerfile copies what exists and what the package needs, probes a real route and runs
  `aurigraph` with arguments `aurigraph up` accepts;
- every `aurigraph` and `ray` command in docs/runbooks.md parses with the real command line.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from aurigraph.cli.main import build_parser
from serve_apps.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KUBERAY = ROOT / "deploy" / "kuberay" / "raycluster.yaml"
DATA_INIT_POD = ROOT / "deploy" / "kuberay" / "data-init-pod.yaml"
CLUSTER = ROOT / "cluster.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "aurigraph.json"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
SOURCE_DIRS = ("aurigraph", "actors", "serve_apps", "models")

RAY_HEAD_PORT = 6380
REDIS_PORT = 6379

# The indexer's and Redis's metrics, as Prometheus stores them: each must have a panel.
INDEX_AND_REDIS_METRICS = {
    "aurigraph_index_height", "aurigraph_index_lag_blocks", "aurigraph_index_rows_total", "aurigraph_index_healthy",
    "aurigraph_redis_up", "aurigraph_redis_errors_total", "aurigraph_cache_hits_total", "aurigraph_cache_misses_total",
}
# What prometheus_client appends to a metric's name in the exposition.
EXPOSITION_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                   "unless", "offset", "inf", "nan"}


# --- helpers --------------------------------------------------------------------------------------

def defined_metric_names() -> set[str]:
    """Every string literal that is a whole metric name (`"aurigraph_…"`) in the package sources."""
    names: set[str] = set()
    literal = re.compile(r"""(?<![\w])(["'])(aurigraph_[a-z0-9_]+)\1""")
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            names.update(m.group(2) for m in literal.finditer(path.read_text(encoding="utf-8")))
    return names


def is_defined(exported: str, defined: set[str]) -> bool:
    """`exported` (a name as Prometheus stores it) comes from one of the `defined` names."""
    candidates = {exported} | {exported.removesuffix(s) for s in EXPOSITION_SUFFIXES if exported.endswith(s)}
    return bool(candidates & defined)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not functions, keywords, labels or numbers)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # range and subquery selectors
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)  # label lists
    e = re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", "0", e)  # numbers (1e-9 is no metric)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in PROMQL_KEYWORDS:
            continue  # a function or an aggregation
        names.add(m.group(0))
    return names


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_panels() -> list[dict]:
    out = []
    for panel in dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep theirs inside
    return out


def dashboard_metric_names() -> set[str]:
    return {name for p in dashboard_panels() for t in p.get("targets", []) for name in promql_metric_names(t["expr"])}


def rest_routes() -> set[str]:
    """Full paths of the REST routes (router prefix + decorator path) in serve_apps/rest."""
    routes = set()
    for path in (ROOT / "serve_apps" / "rest").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        prefix = re.search(r'APIRouter\(prefix="([^"]*)"', text)
        for m in re.finditer(r'@router\.(?:get|post|put|delete|websocket)\("([^"]+)"', text):
            routes.add((prefix.group(1) if prefix else "") + m.group(1))
    return routes


def parse_aurigraph(argv: list[str]) -> None:
    """Parse like the real command line; a usage error fails the test, `--help` passes."""
    try:
        build_parser().parse_args(argv)
    except SystemExit as e:
        if e.code not in (0, None):
            pytest.fail(f"`aurigraph {' '.join(argv)}` does not parse (exit {e.code})")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        op, _, args = current.strip().partition(" ")
        out.append((op.upper(), args.strip()))
        current = ""
    return out


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [p.strip().rstrip("/") for p in lines if p.strip() and not p.startswith("#")]


def ignored_by_docker(relpath: str, patterns: list[str]) -> bool:
    """Approximates Docker's matching: a pattern matches the path or any folder above it; `**/`
    matches at any depth. (No `!` exceptions are used in our .dockerignore.)"""
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        variants = {pattern, pattern.removeprefix("**/")} if pattern.startswith("**/") else {pattern}
        for prefix in prefixes:
            for v in variants:
                if fnmatch.fnmatchcase(prefix, v) or (pattern.startswith("**/")
                                                      and fnmatch.fnmatchcase(prefix.split("/")[-1], v)):
                    return True
    return False


def kuberay_docs() -> list[dict]:
    return [d for d in yaml.safe_load_all(KUBERAY.read_text(encoding="utf-8")) if d]


def ray_cluster() -> dict:
    (cluster,) = [d for d in kuberay_docs() if d["kind"] == "RayCluster"]
    return cluster


def ray_containers(cluster: dict) -> list[dict]:
    spec = cluster["spec"]
    templates = [spec["headGroupSpec"]["template"]] + [g["template"] for g in spec["workerGroupSpecs"]]
    return [t["spec"]["containers"][0] for t in templates]


def aurigraph_up_in(script: str) -> list[str]:
    """The `aurigraph up …` arguments run by a container's shell script."""
    for line in script.splitlines():
        tokens = shlex.split(line)
        if "aurigraph" in tokens:
            return tokens[tokens.index("aurigraph") + 1:]
    pytest.fail("no `aurigraph` command in the script")


# --- Grafana dashboard ---------------------------------------------------------------------------

def test_dashboard_parses_with_a_prometheus_datasource_variable():
    d = dashboard()
    assert d["schemaVersion"] >= 36 and d["uid"] and d["title"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = [p for p in dashboard_panels() if p["type"] != "row"]
    assert len(panels) >= 10
    for p in panels:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_dashboard_panels_do_not_overlap():
    taken: dict[tuple[int, int], str] = {}
    for p in dashboard_panels():
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in taken, f"{p['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = p["title"]


def test_promql_metric_names_are_found():
    assert promql_metric_names(
        'histogram_quantile(0.95, sum by (le) (rate(aurigraph_finality_seconds_bucket{job=~"$job"}[5m])))'
    ) == {"aurigraph_finality_seconds_bucket"}
    assert promql_metric_names("count(max by (actor) (aurigraph_actor_up) == 0) or vector(0)") == {"aurigraph_actor_up"}
    assert promql_metric_names("sum(rate(a_total[1m])) / clamp_min(sum(rate(b_total[1m])), 1e-9)") == {"a_total", "b_total"}
    assert promql_metric_names("up == 0") == {"up"}


def test_every_dashboard_metric_is_defined_by_the_code():
    defined = defined_metric_names()
    assert {"aurigraph_block_height", "aurigraph_gateway_requests", "aurigraph_finality_seconds"} <= defined
    used = dashboard_metric_names()
    foreign = sorted(n for n in used if not n.startswith("aurigraph_"))
    assert not foreign, f"the dashboard queries metrics this project does not export: {foreign}"
    undefined = sorted(n for n in used if not is_defined(n, defined))
    assert not undefined, f"dashboard panels query metrics no code defines: {undefined}"


def test_the_dashboard_shows_the_indexer_and_redis_metrics():
    missing = sorted(INDEX_AND_REDIS_METRICS - dashboard_metric_names())
    assert not missing, f"no panel shows {missing}"


# --- Dockerfile ----------------------------------------------------------------------------------

def test_dockerfile_copies_sources_that_exist_and_are_not_ignored():
    patterns = dockerignore_patterns()
    copied = []
    for op, args in dockerfile_instructions():
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = [a for a in args.split() if not a.startswith("--")]
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"COPY {source}: no such file"
            assert not ignored_by_docker(source.rstrip("/"), patterns), f"COPY {source}: excluded by .dockerignore"
            copied.append(source.rstrip("/"))
    # what pip needs to build the package, and every top-level package it installs
    assert {"pyproject.toml", "requirements.lock", "README.md"} <= set(copied)
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
    for path in ("aurigraph/cli/main.py", "actors/launcher.py", "serve_apps/gateway.py"):
        assert not ignored_by_docker(path, patterns)


def test_dockerfile_runs_aurigraph_up_as_a_non_root_user():
    instructions = dockerfile_instructions()
    args = dict(instructions)  # the last of each
    assert re.search(r"python:3\.11-slim", DOCKERFILE.read_text())
    assert [a for op, a in instructions if op == "FROM"][-1].endswith("runtime")
    assert "-c requirements.lock" in " ".join(a for op, a in instructions if op == "RUN")
    assert args["USER"] not in ("root", "0")
    assert json.loads(args["ENTRYPOINT"])[-1] == "aurigraph"
    cmd = json.loads(args["CMD"])
    assert cmd[0] == "up"
    parse_aurigraph(cmd)
    assert "/data" in json.loads(args["VOLUME"]) and cmd[cmd.index("--data-dir") + 1] == "/data"
    gw = GatewaySettings()
    exposed = {int(p.split("/")[0]) for p in args["EXPOSE"].split()}
    assert {gw.http_port, gw.grpc_port, RAY_HEAD_PORT} <= exposed and REDIS_PORT not in exposed


def test_dockerfile_healthcheck_asks_the_health_route():
    (health,) = [a for op, a in dockerfile_instructions() if op == "HEALTHCHECK"]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", health)
    assert url, health
    assert int(url.group(1)) == GatewaySettings().http_port
    assert url.group(2) in rest_routes() and url.group(2).endswith("/health")


# --- KubeRay -------------------------------------------------------------------------------------

def test_kuberay_manifest_parses_into_a_raycluster_its_volume_and_a_service():
    kinds = sorted(d["kind"] for d in kuberay_docs())
    assert kinds == ["PersistentVolumeClaim", "RayCluster", "Service"]
    cluster = ray_cluster()
    assert cluster["apiVersion"] == "ray.io/v1"
    assert cluster["metadata"]["annotations"]["ray.io/overwrite-container-cmd"] == "true"
    assert [d["kind"] for d in yaml.safe_load_all(DATA_INIT_POD.read_text()) if d] == ["Pod"]


def test_kuberay_ray_head_is_not_on_redis_port():
    cluster = ray_cluster()
    head_params = cluster["spec"]["headGroupSpec"]["rayStartParams"]
    assert head_params["port"] == str(RAY_HEAD_PORT)
    for group in cluster["spec"]["workerGroupSpecs"]:
        assert "port" not in group["rayStartParams"] and "address" not in group["rayStartParams"]
    for container in ray_containers(cluster):
        for port in container.get("ports", []):
            assert port["containerPort"] != REDIS_PORT, port
    head_ports = {p["name"]: p["containerPort"] for p in ray_containers(cluster)[0]["ports"]}
    assert head_ports["gcs-server"] == RAY_HEAD_PORT  # KubeRay's head service takes it from here
    up = aurigraph_up_in(ray_containers(cluster)[0]["args"][0])
    assert up[up.index("--address") + 1] == f"127.0.0.1:{RAY_HEAD_PORT}"


def test_kuberay_head_runs_aurigraph_up_with_valid_arguments():
    head = ray_containers(ray_cluster())[0]
    script = head["args"][0]
    assert "KUBERAY_GEN_RAY_START_CMD/--block/" in script, "the head's `ray start` must not block"
    up = aurigraph_up_in(script)
    assert up[0] == "up"
    parse_aurigraph(up)
    gw = GatewaySettings()
    ports = {p["containerPort"] for p in head["ports"]}
    assert {gw.http_port, gw.grpc_port} <= ports
    routes = rest_routes()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert head[probe]["httpGet"]["path"] in routes, probe
        assert head[probe]["httpGet"]["port"] == gw.http_port, probe


def test_kuberay_every_ray_container_has_the_token_passphrase_and_data_volume():
    docs = kuberay_docs()
    (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    cluster = ray_cluster()
    up = aurigraph_up_in(ray_containers(cluster)[0]["args"][0])
    data_dir = up[up.index("--data-dir") + 1]
    spec = cluster["spec"]
    pod_specs = [spec["headGroupSpec"]["template"]["spec"]] + [g["template"]["spec"] for g in spec["workerGroupSpecs"]]
    for pod in pod_specs:
        container = pod["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "auth_token"
        assert "secretKeyRef" in env["AURIGRAPH_NODE_PASSPHRASE"]["valueFrom"]
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
                  if "persistentVolumeClaim" in v}
        mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert any(claims.get(name) == pvc["metadata"]["name"] and path == data_dir for name, path in mounted.items())


def test_kuberay_gateway_service_targets_the_head():
    (service,) = [d for d in kuberay_docs() if d["kind"] == "Service"]
    assert service["spec"]["selector"] == {"ray.io/cluster": ray_cluster()["metadata"]["name"],
                                           "ray.io/node-type": "head"}
    gw = GatewaySettings()
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {gw.http_port, gw.grpc_port}


# --- cluster.yaml (Ray cluster launcher) -----------------------------------------------------------

def cluster_config() -> dict:
    return yaml.safe_load(CLUSTER.read_text(encoding="utf-8"))


def test_cluster_yaml_starts_ray_on_6380_with_token_auth_and_the_passphrase():
    config = cluster_config()
    assert config["provider"]["type"] == "local"
    assert "~/.ray/auth_token" in config["file_mounts"]
    starts = [(kind, c) for kind in ("head_start_ray_commands", "worker_start_ray_commands")
              for c in config[kind] if "ray start" in c]
    assert {kind for kind, _ in starts} == {"head_start_ray_commands", "worker_start_ray_commands"}
    for kind, command in starts:
        assert str(REDIS_PORT) not in command, command
        assert "RAY_AUTH_MODE=token" in command, command
        assert "AURIGRAPH_NODE_PASSPHRASE=" in command, command
        expected = f"--port={RAY_HEAD_PORT}" if kind.startswith("head") else f":{RAY_HEAD_PORT}"
        assert expected in command, command
    assert any("make setup" in c for c in config["setup_commands"])


def test_cluster_yaml_passes_rays_own_validation():
    util = pytest.importorskip("ray.autoscaler._private.util")
    prepared = util.prepare_config(cluster_config())
    util.validate_config(prepared)
    workers = prepared["available_node_types"][prepared["head_node_type"]]
    assert workers["min_workers"] == workers["max_workers"] == len(cluster_config()["provider"]["worker_ips"])


# --- runbooks ------------------------------------------------------------------------------------

def runbook_commands() -> list[list[str]]:
    """Commands in the runbooks' sh blocks, continuation lines joined, env assignments dropped,
    cut at the first pipe or `&&`, and a `ray exec CFG 'CMD'` followed into CMD."""
    text = RUNBOOKS.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            commands.extend(_split_commands(line))
    return commands


def _split_commands(line: str) -> list[list[str]]:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:  # a heredoc's Python body, prose
        return []
    out, current = [], []
    for token in [*tokens, ";"]:
        if token in ("|", "&&", "||", ";", ">", ">>", "<", "<<"):
            if current:
                out.append(current)
            current = []
            if token in (">", ">>", "<", "<<"):
                current = None  # the redirection target is not a command
            continue
        if current is not None:
            current.append(token)
    commands = []
    for tokens in out:
        while tokens and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", tokens[0]):
            tokens = tokens[1:]
        if tokens:
            commands.append(tokens)
            if Path(tokens[0]).name == "ray" and tokens[1:2] == ["exec"]:
                inner = [t for t in tokens[2:] if not t.startswith("-")]
                if len(inner) >= 2:
                    commands.extend(_split_commands(inner[1]))
    return commands


def test_runbook_aurigraph_commands_parse():
    checked = 0
    for tokens in runbook_commands():
        if Path(tokens[0]).name != "aurigraph":
            continue
        parse_aurigraph(tokens[1:])
        checked += 1
    assert checked >= 15, f"only {checked} aurigraph commands found in {RUNBOOKS}"


def test_runbook_ray_commands_exist():
    scripts = pytest.importorskip("ray.scripts.scripts")
    click = pytest.importorskip("click")
    checked = 0
    for tokens in runbook_commands():
        if Path(tokens[0]).name != "ray":
            continue
        name, args = tokens[1], tokens[2:]
        assert name in scripts.cli.commands, f"`ray {name}` does not exist"
        command = scripts.cli.commands[name]
        if args and args[0] in getattr(command, "commands", {}):  # a group such as `ray logs`
            command, args = command.commands[args[0]], args[1:]
        try:
            command.make_context(f"ray {name}", list(args))
        except click.UsageError as e:
            pytest.fail(f"`{' '.join(tokens)}` does not parse: {e}")
        checked += 1
    assert checked >= 5
