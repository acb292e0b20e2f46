#!/usr/bin/env python3
"""Offline checks of deploy/ (docker-compose, kustomize, the Kubernetes schema, the Dockerfile).

    deploy_check.py compose     docker-compose config accepts the stack for every profile
    deploy_check.py kustomize   kubectl kustomize renders the base and every overlay
    deploy_check.py schema      every rendered object passes the Kubernetes OpenAPI schema
    deploy_check.py dockerfile  the Dockerfile's packages: builder = scripts/bootstrap, runtime =
                                what the built binaries link
    (crosscheck.py and crosscheck_live.py check the files against the binaries themselves.)

Env: PARLEY_BUILD_DIR (the CMake build tree: binaries, and deploy-check/ for outputs). Exit 0 on
success, 1 on a failed check, 77 (CTest's skip code here) when a needed tool is absent; the reason
is printed either way.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose" / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "compose" / ".env.example"
K8S = DEPLOY / "k8s"
K8S_TARGETS = ["base", "overlays/dev", "overlays/prod"]
PROFILES = [[], ["lan-ai"], ["demo"], ["lan-ai", "demo"]]
# Which compose services start under which profile ([]: always).
COMPOSE_PROFILES = {
    **{s: [] for s in ("postgres", "redis", "config-api", "state", "dispatcher", "worker",
                       "apply")},
    **{s: ["lan-ai"] for s in ("ollama", "ollama-pull", "piper", "whisperlive")},
    "phone": ["demo"],
}
# What .env must set: the compose file has no default for these.
REQUIRED_ENV = ["PARLEY_BIND_IP", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "PARLEY_MASTER_KEY",
                "PARLEY_SERVICE_TOKEN", "PARLEY_OPS_TOKEN"]
SKIP = 77
BINARIES = {
    "parley-config-api": "services/config-api/parley-config-api",
    "parley-state": "services/state/parley-state",
    "parley-dispatcher": "services/dispatcher/parley-dispatcher",
    "parley-worker": "services/worker/parley-worker",
    "parleyctl": "cli/parleyctl/parleyctl",
}


class Skip(Exception):
    """A tool the check needs is not installed."""


def build_dir() -> Path:
    return Path(os.environ.get("PARLEY_BUILD_DIR", ROOT / "build"))


def out_dir() -> Path:
    d = build_dir() / "deploy-check"
    d.mkdir(parents=True, exist_ok=True)
    return d


def yaml_module():
    """PyYAML (Debian: python3-yaml, in scripts/bootstrap)."""
    try:
        import yaml
    except ImportError as e:
        raise Skip("python3-yaml is not installed (scripts/bootstrap installs it)") from e
    return yaml


def need(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise Skip(f"{tool} is not installed ({why}; scripts/bootstrap installs it)")
    return path


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def compose_config(profiles, env_file=ENV_EXAMPLE, env=None) -> subprocess.CompletedProcess:
    cmd = [need("docker-compose", "the compose check"), "-f", str(COMPOSE_FILE),
           "--env-file", str(env_file)]
    for p in profiles:
        cmd += ["--profile", p]
    return run(cmd + ["config"], env=env)


def render_compose() -> dict:
    """docker-compose config for every profile set: {name: rendered YAML}. Fails on any error."""
    rendered = {}
    for profiles in PROFILES:
        name = "+".join(profiles) or "default"
        r = compose_config(profiles)
        if r.returncode != 0:
            raise AssertionError(f"docker-compose config (profiles: {name}) failed:\n{r.stderr}")
        rendered[name] = r.stdout
        (out_dir() / f"compose-{name}.yaml").write_text(r.stdout)
    return rendered


def render_kustomize() -> dict:
    """kubectl kustomize for the base and each overlay: {target: rendered YAML}."""
    kubectl = need("kubectl", "the kustomize check")
    rendered = {}
    for target in K8S_TARGETS:
        r = run([kubectl, "kustomize", str(K8S / target)])
        if r.returncode != 0 or "kind:" not in r.stdout:
            raise AssertionError(f"kubectl kustomize {target} failed:\n{r.stderr}")
        rendered[target] = r.stdout
        (out_dir() / f"k8s-{target.replace('/', '-')}.yaml").write_text(r.stdout)
    return rendered


def check_compose() -> None:
    rendered = render_compose()
    yaml = yaml_module()

    for name, text in rendered.items():
        services = set(yaml.safe_load(text)["services"])
        print(f"compose ({name}): {len(services)} services: {', '.join(sorted(services))}")
    # Debian's docker-compose 1.29 renders every service whatever --profile says, so the renders
    # above cannot tell whether `up -d` without a profile would start ollama: read the profiles.
    services = yaml.safe_load(rendered["default"])["services"]
    problems = []
    for svc, want in sorted(COMPOSE_PROFILES.items()):
        got = services[svc].get("profiles", []) if svc in services else None
        if got != want:
            problems.append(f"service {svc}: profiles {got}, want {want}")
    for svc in sorted(set(services) - set(COMPOSE_PROFILES)):
        if not services[svc].get("profiles"):
            problems.append(f"service {svc} starts without a profile (add it to COMPOSE_PROFILES "
                            f"in deploy_check.py if it belongs to the core stack)")
    if problems:
        raise AssertionError("compose profiles:\n" + "\n".join(problems))
    print(f"compose profiles: core {sorted(s for s, p in COMPOSE_PROFILES.items() if not p)}; "
          f"the rest only under a profile")
    # Secrets and the LAN address only from .env: without any one of them, config must refuse
    # and name it (a default in the compose file would let the stack start without it).
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    example = ENV_EXAMPLE.read_text()
    for var in REQUIRED_ENV:
        without = re.sub(rf"^{var}=.*\n", "", example, flags=re.M)
        if without == example:
            raise AssertionError(f".env.example does not set {var}")
        with tempfile.NamedTemporaryFile("w", suffix=".env") as env_file:
            env_file.write(without)
            env_file.flush()
            r = compose_config([], env_file=Path(env_file.name), env=clean)
        if r.returncode == 0:
            raise AssertionError(f"docker-compose config passed without {var}: the compose file "
                                 f"has a default for it")
        if f"set {var} in .env" not in r.stderr:
            raise AssertionError(f"without {var}, the error does not name it:\n{r.stderr}")
    print(f"compose refuses to start without any one of {', '.join(REQUIRED_ENV)}")


def check_kustomize() -> None:
    r = run([need("kubectl", "the kustomize check"), "version", "--client"])
    print(r.stdout.strip().replace("\n", "; "))
    for target, text in render_kustomize().items():
        kinds = re.findall(r"^kind: (\w+)", text, re.M)
        print(f"kustomize {target}: {len(kinds)} objects")


def check_schema() -> None:
    yaml = yaml_module()

    node = need("node", "the schema check")
    npm = need("npm", "the schema check")
    rendered = render_kustomize()
    work = out_dir() / "npm"
    work.mkdir(exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copy(DEPLOY / "check" / f, work / f)
    modules = work / "node_modules" / "kubernetes-models"
    stamp = work / "node_modules" / ".parley-lock"
    lock = (work / "package-lock.json").read_text()
    if not modules.exists() or not stamp.exists() or stamp.read_text() != lock:
        r = run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work)
        if r.returncode != 0:
            raise AssertionError(f"npm ci (deploy/check/package-lock.json) failed:\n{r.stderr}")
        stamp.write_text(lock)
    objects = []
    for target, text in rendered.items():
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append({"source": f"kustomize {target}", "object": doc})
    template = K8S / "secret.template.yaml"
    objects.append({"source": str(template.relative_to(ROOT)),
                    "object": yaml.safe_load(template.read_text())})
    objects_file = out_dir() / "k8s-objects.json"
    objects_file.write_text(json.dumps(objects))
    r = run([node, str(DEPLOY / "check" / "validate_k8s.mjs"), str(work / "node_modules"),
             str(objects_file)])
    print(r.stdout, end="")
    if r.returncode != 0:
        raise AssertionError(f"schema validation failed{': ' + r.stderr if r.stderr else ''}")


# --- Dockerfile ---------------------------------------------------------------------------------

def dockerfile_runtime_packages(text: str):
    """(library packages, data packages) of the block between the runtime-packages markers."""
    block = re.search(r"# runtime-packages: begin.*?\n(.*?)# runtime-packages: end", text, re.S)
    if not block:
        raise AssertionError("deploy/docker/Dockerfile: no '# runtime-packages: begin/end' block")
    libs, data, in_data = [], [], False
    for line in block.group(1).splitlines():
        line = line.strip()
        if line.startswith("# data:"):
            in_data = True
            continue
        m = re.fullmatch(r"([a-z0-9][a-z0-9.+-]+) \\", line)
        if m:
            (data if in_data else libs).append(m.group(1))
    return libs, data


def spellings(path: str):
    """`path` as dpkg may have recorded it: resolved, and with or without the /usr prefix."""
    real = os.path.realpath(path)
    out = []
    for p in (real, path):
        out.append(p)
        if p.startswith("/usr/lib/"):
            out.append(p[len("/usr"):])
        elif p.startswith("/lib/"):
            out.append("/usr" + p)
    return list(dict.fromkeys(out))


def owners(paths):
    """{path: Debian package} for the paths dpkg knows (one dpkg -S call for all)."""
    found = {}
    out = run(["dpkg", "-S"] + sorted(paths)).stdout
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        found[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return found


def needed_libraries(binary: Path) -> dict:
    """{soname: resolved path} of the shared libraries `binary` names in DT_NEEDED."""
    needed = re.findall(r"NEEDED\s+(\S+)", run(["objdump", "-p", str(binary)]).stdout)
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", run(["ldd", str(binary)]).stdout, re.M))
    missing = [lib for lib in needed if lib not in paths]
    if missing:
        raise AssertionError(f"{binary.name}: ldd does not resolve {', '.join(missing)}")
    return {lib: paths[lib] for lib in needed}


def check_dockerfile() -> None:
    need("dpkg", "the Dockerfile check")
    need("objdump", "the Dockerfile check")
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    # Builder: scripts/bootstrap itself installs the packages, so the lists cannot diverge.
    if not re.search(r"^COPY scripts/bootstrap (\S+)$", text, re.M) or \
            not re.search(r"^RUN .*PARLEY_BOOTSTRAP_DEPLOY_TOOLS=0 /tmp/bootstrap", text, re.M):
        raise AssertionError("the builder stage must COPY and RUN scripts/bootstrap")
    if not re.search(r"^FROM debian:bookworm AS builder$", text, re.M) or \
            not re.search(r"^FROM debian:bookworm-slim AS runtime$", text, re.M):
        raise AssertionError("want FROM debian:bookworm AS builder and debian:bookworm-slim AS "
                             "runtime")
    # The context is the repository root, where the operator keeps deploy/compose/.env.
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    if not ignored & {"**/.env", "deploy/compose/.env"}:
        raise AssertionError(".dockerignore does not exclude deploy/compose/.env (the secrets): "
                             "COPY . . would put them into a builder layer")
    bootstrap = run([str(ROOT / "scripts" / "bootstrap"), "--list"]).stdout.split()
    print(f"builder: scripts/bootstrap's {len(bootstrap)} packages")
    # Runtime: exactly the packages of the libraries the binaries link, plus declared data.
    libs, data = dockerfile_runtime_packages(text)
    base_image = {"libc6", "libgcc-s1"}  # in debian:bookworm-slim already
    libraries = {}  # (binary, soname) -> path
    for name, rel in BINARIES.items():
        binary = build_dir() / rel
        if not binary.exists():
            raise AssertionError(f"{binary} is missing: build it first")
        for soname, path in needed_libraries(binary).items():
            libraries[(name, soname)] = path
        if not re.search(rf"/{re.escape(name)}\b", text):
            raise AssertionError(f"the Dockerfile does not copy {name} into the image")
    known = owners({s for p in libraries.values() for s in spellings(p)})
    wanted = {}
    for (name, soname), path in sorted(libraries.items()):
        pkg = next((known[s] for s in spellings(path) if s in known), None)
        if pkg is None:
            raise AssertionError(f"{name}: no Debian package owns {path} ({soname})")
        wanted.setdefault(pkg, set()).add(f"{name}: {soname}")
    problems = []
    for pkg in sorted(set(wanted) - base_image - set(libs)):
        problems.append(f"runtime stage lacks {pkg} (needed by {sorted(wanted[pkg])[0]})")
    for pkg in sorted(set(libs) - set(wanted)):
        problems.append(f"runtime stage installs {pkg}, which no binary links (move it under "
                        f"'# data:' if it is data the binaries read)")
    for pkg in data:
        if pkg not in bootstrap and pkg != "ca-certificates":
            problems.append(f"data package {pkg} is not in scripts/bootstrap")
        if pkg in wanted:
            problems.append(f"{pkg} is linked: list it with the libraries, not under data")
    for p in problems:
        print(p)
    if problems:
        raise AssertionError(f"{len(problems)} problems in the Dockerfile's runtime packages")
    print(f"runtime: {len(libs)} library packages = what the binaries link; data: "
          f"{', '.join(data)}")


CHECKS = {"compose": check_compose, "kustomize": check_kustomize, "schema": check_schema,
          "dockerfile": check_dockerfile}


def main(argv) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        print(__doc__)
        return 2
    try:
        CHECKS[argv[1]]()
    except Skip as s:
        print(f"SKIPPED: {s}")
        return SKIP
    except AssertionError as e:
        print(f"FAILED: {e}")
        return 1
    print(f"deploy {argv[1]}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
