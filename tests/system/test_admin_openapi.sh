#!/usr/bin/env bash
# admin-api/openapi.yaml against the code: every route a daemon registers
# (ntm_admin_route calls in its sources, and the library's own /healthz and
# /metrics for each daemon that starts the admin API) is in the spec under
# that daemon, and every operation of the spec is served by the daemons it
# names, except those marked x-ntm-planned. Also checks the spec's shape:
# every $ref resolves, every {param} of a path is declared, every operation
# has responses. Needs no root and no network.
set -uo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian's interpreter, whose python3-yaml scripts/deps.sh installs.
exec /usr/bin/python3 - "$REPO" <<'PYTHON'
import re
import sys
from pathlib import Path

import yaml

repo = Path(sys.argv[1])
spec_path = repo / "admin-api" / "openapi.yaml"
daemon_dirs = {
    "dcd": "ntm-dcd",
    "nodeagent": "ntm-noded",
    "rsd": "ntm-rsd",
    "ssdp-proxy": "ntm-ssdpd",
    "dad": "ntm-dad",
}
methods = {"get", "put", "post", "delete", "patch", "head", "options"}
passed = failed = 0


def check(name, problems):
    global passed, failed
    if problems:
        failed += 1
        print(f"not ok - {name}")
        for p in problems:
            print(f"#   {p}")
    else:
        passed += 1
        print(f"ok - {name}")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


# The routes the code registers, as (daemon, METHOD, path).
route_call = re.compile(r'ntm_admin_route\s*\(\s*[^,]+,\s*"([A-Z]+)"\s*,\s*"([^"]+)"')
library_call = re.compile(r'add_route\s*\(\s*admin\s*,\s*"([A-Z]+)"\s*,\s*"([^"]+)"')
library = strip_comments((repo / "admin-api" / "ntm_admin.c").read_text())
library_routes = set(library_call.findall(library))
code = set()
for directory, daemon in daemon_dirs.items():
    sources = [strip_comments(p.read_text()) for p in sorted((repo / directory).glob("*.c"))]
    if not any("ntm_admin_start" in s for s in sources):
        continue
    for s in sources:
        code.update((daemon, m, p) for m, p in route_call.findall(s))
    code.update((daemon, m, p) for m, p in library_routes)

spec = yaml.safe_load(spec_path.read_text())
served, planned, shape = set(), set(), []


def resolve(ref):
    node = spec
    for part in ref.lstrip("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def walk_refs(node, where):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and resolve(ref) is None:
            shape.append(f"{where}: $ref {ref} does not resolve")
        for key, value in node.items():
            walk_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk_refs(value, f"{where}[{i}]")


if not str(spec.get("openapi", "")).startswith("3."):
    shape.append("the document is not OpenAPI 3")
walk_refs(spec, "#")
for path, item in (spec.get("paths") or {}).items():
    wanted = set(re.findall(r"\{([^}]+)\}", path))
    for method, op in item.items():
        if method not in methods:
            continue
        where = f"{method.upper()} {path}"
        if not op.get("responses"):
            shape.append(f"{where}: no responses")
        declared = set()
        for param in op.get("parameters", []):
            param = resolve(param["$ref"]) if "$ref" in param else param
            if param and param.get("in") == "path":
                declared.add(param["name"])
        if declared != wanted:
            shape.append(f"{where}: path parameters {sorted(declared)}, expected {sorted(wanted)}")
        daemons = op.get("x-ntm-daemons")
        if not daemons:
            shape.append(f"{where}: no x-ntm-daemons")
            continue
        target = planned if op.get("x-ntm-planned") else served
        target.update((d, method.upper(), path) for d in daemons)

check("openapi.yaml is well formed", shape)
check("every route the code serves is in openapi.yaml",
      [f"{d}: {m} {p} is served but not in {spec_path.name}"
       for d, m, p in sorted(code - served - planned)])
running = {d for d, _, _ in code}
check("every operation in openapi.yaml is served",
      [f"{d}: {m} {p} is in {spec_path.name} but not served"
       for d, m, p in sorted(served - code) if d in running] +
      [f"{d} does not start the admin API, but {spec_path.name} lists it"
       for d in sorted({d for d, _, _ in served} - running)])
check("no planned operation is served yet",
      [f"{d}: {m} {p} is served; remove its x-ntm-planned mark"
       for d, m, p in sorted(planned & code)])
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PYTHON
