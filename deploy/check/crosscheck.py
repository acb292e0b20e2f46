#!/usr/bin/env python3
"""Cross-checks deploy/compose and deploy/k8s against what the built binaries accept, so that
neither can rot when a flag, an env name, a port or a subcommand changes.

    crosscheck.py static   every parleyctl / service invocation (commands, health checks, probes,
                           preStop, jobs) names a real subcommand with its flags and arguments;
                           every env name set on a Parley container is one its binary reads;
                           addresses point at a service on its real port; secrets come from .env
                           (compose) or a Secret key that exists (k8s); images and the drain
                           budget are consistent.

crosscheck_live.py runs the same containers' commands (it uses the readers here). What a binary
accepts comes from the binary: `--helpfull` for the services (flags, and the PARLEY_*
names in their usage and flag help), `parleyctl --help` for the CLI (subcommands, flags, global
flags and their env names). Env: PARLEY_BUILD_DIR. Exit 0 ok, 1 failed, 77 skipped (tool absent).
"""
import os
import re
import shlex
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import deploy_check as dc  # noqa: E402

SERVICE_BINARIES = ["parley-config-api", "parley-state", "parley-dispatcher", "parley-worker"]


# --- what the binaries accept -------------------------------------------------------------------

def binary_path(name: str) -> str:
    path = dc.build_dir() / dc.BINARIES[name]
    if not path.exists():
        raise AssertionError(f"{path} is missing: build it first")
    return str(path)


class Facts:
    """Flags and env names per binary, and parleyctl's command table."""

    def __init__(self):
        self.flags, self.env = {}, {}
        for name in SERVICE_BINARIES:
            r = dc.run([binary_path(name), "--helpfull"])
            text = r.stdout + r.stderr
            self.flags[name] = set(re.findall(r"^\s+--(\w+) \(", text, re.M))
            self.env[name] = set(re.findall(r"PARLEY_[A-Z0-9_]+", text))
            if "listen" not in self.flags[name]:
                raise AssertionError(f"{name} --helpfull lists no --listen: cannot read its flags")
        text = dc.run([binary_path("parleyctl"), "--help"]).stdout
        self.commands = []  # (words, usage line, flags, required positionals)
        for line in text.split("Commands:")[1].split("Global flags:")[0].splitlines():
            if not line.strip():
                continue
            tokens = line.split()
            words = []
            for t in tokens:
                if not re.fullmatch(r"[a-z]+(\|[a-z]+)*", t):
                    break
                words.append(t.split("|"))
            flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", line))
            # Required positionals: the placeholders (ADDRESS, CALL_ID) before the first flag or
            # optional part; later ones are flag values.
            required = 0
            for t in tokens[len(words):]:
                if t.startswith("-") or t.startswith("["):
                    break
                required += bool(re.fullmatch(r"[A-Z][A-Z_]*(\|[A-Z_]+)*", t))
            self.commands.append((words, line.strip(), flags, required))
        glob = text.split("Global flags:")[1]
        self.global_flags = set(re.findall(r"(--[a-z][a-z-]*|-[a-z])\b", glob))
        self.env["parleyctl"] = set(re.findall(r"PARLEY_[A-Z0-9_]+", glob)) - {"PARLEY_"}
        for f in re.findall(r"--([a-z]+)-addr", glob):  # "(or PARLEY_*_ADDR)"
            self.env["parleyctl"].add(f"PARLEY_{f.upper()}_ADDR")
        self.flags["parleyctl"] = self.global_flags


def parse_args(tokens):
    """parleyctl's own rules (cli/parleyctl/args.h): positionals, and flags with their values."""
    positional, flags, i = [], {}, 0
    while i < len(tokens):
        t = tokens[i]
        if t == "--":
            positional += tokens[i + 1:]
            break
        if t.startswith("-") and len(t) > 1:
            name, eq, value = t.partition("=")
            if not eq:
                if i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                    value, i = tokens[i + 1], i + 1
                else:
                    value = "true"
            flags[name] = value
        else:
            positional.append(t)
        i += 1
    return positional, flags


def invocations(command):
    """[(argv, text)] of the programs a container command runs; `sh -c` scripts are split."""
    if isinstance(command, str):
        command = ["sh", "-c", command]
    if not command:
        return []
    if command[0] in ("CMD", "CMD-SHELL"):
        command = command[1:] if command[0] == "CMD" else ["sh", "-c", command[1]]
    if len(command) >= 3 and command[0] in ("sh", "/bin/sh", "bash") and command[1] == "-c":
        lexer = shlex.shlex(command[2], posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        out, segment = [], []
        for tok in list(lexer) + [";"]:
            if tok in (";", "&&", "||", "|", "&"):
                while segment and (re.fullmatch(r"[A-Z_]+=.*", segment[0]) or segment[0] == "exec"):
                    segment.pop(0)
                if segment:
                    out.append((segment, command[2]))
                segment = []
            else:
                segment.append(tok)
        return out
    return [(list(command), " ".join(command))]


def check_invocation(facts: Facts, argv, where: str, problems: list) -> str:
    """Checks one invocation; returns the binary it runs (or '' for a foreign program)."""
    binary = os.path.basename(argv[0])
    if binary == "parleyctl":
        positional, flags = parse_args(argv[1:])
        best = None
        for words, usage, allowed, required in facts.commands:
            if len(positional) >= len(words) and all(
                    positional[i] in alts for i, alts in enumerate(words)):
                if best is None or len(words) > len(best[0]):
                    best = (words, usage, allowed, required)
        if best is None:
            problems.append(f"{where}: parleyctl has no command {' '.join(positional[:2])!r}")
            return binary
        words, usage, allowed, required = best
        for f in flags:
            if f not in allowed and f not in facts.global_flags:
                problems.append(f"{where}: parleyctl {' '.join(positional[:len(words)])}: "
                                f"unknown flag {f} (usage: {usage})")
        if len(positional) - len(words) < required:
            problems.append(f"{where}: parleyctl {' '.join(argv[1:])}: fewer arguments than "
                            f"'{usage}' requires (a flag may have taken one as its value)")
    elif binary in SERVICE_BINARIES:
        for t in argv[1:]:
            m = re.fullmatch(r"--(\w+)(=.*)?", t)
            if not m or m.group(1) not in facts.flags[binary]:
                problems.append(f"{where}: {binary} does not accept {t!r}")
    elif binary not in ("sh", "exit", "true", "[", "test", "pg_isready", "redis-cli", "redis-server", "pip",
                        "python", "ollama", "pull"):
        problems.append(f"{where}: runs {binary!r}, which the Parley image does not have")
    return binary if binary in dc.BINARIES else ""


def env_names_ok(facts, binaries, env_names, texts, where, problems):
    accepted = set().union(*(facts.env[b] for b in binaries)) if binaries else set()
    for name in env_names:
        used = any(re.search(rf"\$\(?\{{?{name}\b", t) for t in texts)
        if name not in accepted and not used:
            problems.append(f"{where}: env {name} is set, but {', '.join(sorted(binaries))} "
                            f"reads no such variable")


def host_port(value: str):
    m = re.fullmatch(r"(?:[a-z]+://)?(?:[^@/]*@)?([A-Za-z0-9.-]+):(\d+)(?:/.*)?", value)
    return (m.group(1), int(m.group(2))) if m else None


# --- compose ------------------------------------------------------------------------------------

def load_compose():
    yaml = dc.yaml_module()

    return yaml.safe_load(dc.render_compose()["lan-ai+demo"])["services"]


def compose_ports(svc):
    return [int(p.split(":")[-1].split("/")[0]) for p in svc.get("ports", [])]


def compose_listen_ports(name, svc):
    """The ports a Parley container is told to listen on (gRPC first)."""
    env = svc.get("environment") or {}
    ports = [host_port(env[k])[1] for k in ("PARLEY_LISTEN", "PARLEY_METRICS_LISTEN") if k in env]
    for argv, _ in invocations(svc.get("command")):
        _, flags = parse_args(argv[1:])
        if os.path.basename(argv[0]) == "parleyctl" and "--listen" in flags:
            ports.append(host_port(flags["--listen"])[1])
        if os.path.basename(argv[0]) == "parley-worker" and "--sip_listen" in flags:
            ports.append(host_port(flags["--sip_listen"])[1])
    return ports


def static_compose(facts, problems):
    services = load_compose()
    raw = dc.COMPOSE_FILE.read_text()
    bind_ip = re.search(r"^PARLEY_BIND_IP=(\S+)", dc.ENV_EXAMPLE.read_text(), re.M).group(1)
    dockerfile = (dc.DEPLOY / "docker" / "Dockerfile").read_text()
    owned = re.finditer(r"install -d -o parley -g parley ([^\n&\\]+)", dockerfile)
    parley_dirs = {d for m in owned for d in m.group(1).split()}
    grpc_port = {}
    for name, svc in services.items():
        listen = compose_listen_ports(name, svc)
        if listen:
            grpc_port[name] = listen[0]
    for name, svc in services.items():
        where = f"compose {name}"
        binaries, texts = set(), []
        cmds = [("command", svc.get("command"))]
        if "healthcheck" in svc:
            cmds.append(("healthcheck", svc["healthcheck"]["test"]))
        for what, cmd in cmds:
            for argv, text in invocations(cmd or []):
                texts.append(text)
                b = check_invocation(facts, argv, f"{where} {what}", problems)
                if b and what == "command":
                    binaries.add(b)
        parley = svc.get("image", "").startswith("parley") or "build" in svc
        if parley:
            if svc.get("build", {}).get("dockerfile") != "deploy/docker/Dockerfile":
                problems.append(f"{where}: not built from deploy/docker/Dockerfile")
            env_names_ok(facts, binaries, (svc.get("environment") or {}).keys(), texts, where,
                         problems)
            # The image runs as uid 10001: a writable named volume must be mounted on a directory
            # the image creates for that user, or Docker makes it root's and writes fail.
            for vol in svc.get("volumes", []):
                src, dst, *mode = vol.split(":")
                if not src.startswith("/") and "ro" not in mode and dst not in parley_dirs:
                    problems.append(f"{where}: volume {src} is mounted on {dst}, which the "
                                    f"Dockerfile does not create for user parley (install -d -o "
                                    f"parley -g parley {dst}): uid 10001 cannot write it")
        for p in svc.get("ports", []):
            if not p.startswith(bind_ip + ":"):
                problems.append(f"{where}: port {p} is not bound to PARLEY_BIND_IP ({bind_ip})")
            if name in grpc_port and int(p.split(":")[-1].split("/")[0]) not in \
                    compose_listen_ports(name, svc):
                problems.append(f"{where}: publishes {p}, a port it does not listen on")
        # Health checks probe the container's own gRPC port.
        for argv, _ in invocations((svc.get("healthcheck") or {}).get("test", [])):
            pos, _ = parse_args(argv[1:])
            if os.path.basename(argv[0]) == "parleyctl" and pos[:1] == ["probe"]:
                hp = host_port(pos[1]) if len(pos) > 1 else None
                if not hp or hp[1] != grpc_port.get(name):
                    problems.append(f"{where}: health check probes {pos[1:]} but the service "
                                    f"listens on {grpc_port.get(name)}")
        # Addresses and URLs point at a service, on the port it listens on.
        for key, value in (svc.get("environment") or {}).items():
            hp = host_port(str(value)) if re.search(r"_(ADDR|URL)$", key) else None
            if hp and "." not in hp[0]:
                target = services.get(hp[0])
                known = {"postgres": 5432, "redis": 6379}
                port = grpc_port.get(hp[0], known.get(hp[0]))
                if target is None or port != hp[1]:
                    problems.append(f"{where}: {key}={value}: no service {hp[0]} on port {hp[1]}")
        if "depends_on" in svc:
            for dep in svc["depends_on"]:
                if dep not in services:
                    problems.append(f"{where}: depends on unknown service {dep}")
    # Secrets: every sensitive value comes from .env, with no default.
    for var in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "PARLEY_MASTER_KEY", "PARLEY_SERVICE_TOKEN",
                "PARLEY_OPS_TOKEN"):
        if not re.search(rf"\$\{{{var}:\?", raw):
            problems.append(f"compose: {var} is not required from .env (${{{var}:?...}})")
        if re.search(rf"\$\{{{var}:-", raw):
            problems.append(f"compose: {var} has a default in the compose file")
    # The example trunk and the LAN example agents reach services by name and port.
    trunk = (dc.DEPLOY / "compose" / "sim-phone-trunk.yaml").read_text()
    addr = host_port(re.search(r'address: "([^"]+)"', trunk).group(1))
    if addr != ("phone", grpc_port.get("phone")):
        problems.append(f"compose: sim-phone-trunk.yaml dials {addr}, but phone listens on "
                        f"{grpc_port.get('phone')}")
    for f in sorted((dc.DEPLOY / "examples").rglob("*.yaml")):
        for url in re.findall(r"\b(?:https?|wss?)://[A-Za-z0-9-]+:\d+", f.read_text()):
            host, port = host_port(url)
            if host in ("localhost",):
                continue
            if host not in services or port not in compose_ports(services[host]) + \
                    compose_listen_ports(host, services[host]):
                problems.append(f"{f.relative_to(dc.ROOT)}: {url} is no compose service port")
    for name, port in (("ollama", 11434), ("piper", 5000), ("whisperlive", 9090)):
        if name not in services or port not in compose_ports(services[name]):
            problems.append(f"compose: profile lan-ai needs service {name} on port {port}")
    print(f"compose: {len(services)} services checked")


# --- kubernetes ---------------------------------------------------------------------------------

def k8s_objects(target):
    yaml = dc.yaml_module()

    kubectl = dc.need("kubectl", "the Kubernetes cross-check")
    text = dc.run([kubectl, "kustomize", str(dc.K8S / target)]).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def pod_specs(objects):
    for o in objects:
        spec = o.get("spec", {})
        if o["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield o, spec["template"]["spec"]


def duration_s(value: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"([\d.]+)(h|ms|m|s)", value):
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total


def static_k8s(facts, problems):
    yaml = dc.yaml_module()

    dc.need("kubectl", "the Kubernetes cross-check")
    template = yaml.safe_load((dc.K8S / "secret.template.yaml").read_text())
    template_keys = set(template["stringData"])
    for target in dc.K8S_TARGETS:
        objects = k8s_objects(target)
        by_kind = {}
        for o in objects:
            by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
        secrets = {n: set(o.get("data", {}) | o.get("stringData", {}))
                   for n, o in by_kind.get("Secret", {}).items()}
        configmaps = {n: set(o.get("data", {})) for n, o in by_kind.get("ConfigMap", {}).items()}
        services = by_kind.get("Service", {})
        for obj, pod in pod_specs(objects):
            for c in pod["containers"]:
                where = f"k8s {target} {obj['kind']}/{obj['metadata']['name']}/{c['name']}"
                parley = c["image"].split(":")[0].split("/")[-1] == "parley"
                binaries, texts = set(), []
                cmds = [("command", (c.get("command") or []) + (c.get("args") or []))]
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    if "exec" in c.get(probe, {}):
                        cmds.append((probe, c[probe]["exec"]["command"]))
                pre = c.get("lifecycle", {}).get("preStop", {}).get("exec")
                if pre:
                    cmds.append(("preStop", pre["command"]))
                if parley:
                    for what, cmd in cmds:
                        for argv, text in invocations(cmd):
                            texts.append(text)
                            b = check_invocation(facts, argv, f"{where} {what}", problems)
                            if b and what == "command":
                                binaries.add(b)
                    # Kubernetes expands $(NAME) in other env values: a variable used only that
                    # way (POD_IP in PARLEY_ADVERTISE_ADDR) is read through the one using it.
                    texts.extend(e.get("value", "") for e in c.get("env", []))
                    env_names_ok(facts, binaries, [e["name"] for e in c.get("env", [])], texts,
                                 where, problems)
                    if not binaries:
                        problems.append(f"{where}: runs no Parley binary")
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {})
                    if "secretKeyRef" in ref:
                        s = ref["secretKeyRef"]
                        if target != "base" and s["name"] in secrets and \
                                s["key"] not in secrets[s["name"]]:
                            problems.append(f"{where}: Secret {s['name']} has no key {s['key']}")
                        if s["key"] not in template_keys:
                            problems.append(f"{where}: secret key {s['key']} is not in "
                                            f"secret.template.yaml")
                    if "configMapKeyRef" in ref:
                        m = ref["configMapKeyRef"]
                        if m["key"] not in configmaps.get(m["name"], set()):
                            problems.append(f"{where}: ConfigMap {m['name']} has no key {m['key']}")
                if not parley:
                    continue
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
                listen = host_port(env.get("PARLEY_LISTEN") or "")
                if ports and (not listen or listen[1] != ports.get("grpc")):
                    problems.append(f"{where}: PARLEY_LISTEN {env.get('PARLEY_LISTEN')} is not "
                                    f"the grpc containerPort {ports.get('grpc')}")
                metrics = host_port(env.get("PARLEY_METRICS_LISTEN") or "")
                if ports and (not metrics or metrics[1] != ports.get("metrics")):
                    problems.append(f"{where}: PARLEY_METRICS_LISTEN is not the metrics port")
                for probe in ("readinessProbe", "livenessProbe"):
                    p = c.get(probe)
                    if obj["kind"] == "Job":
                        continue
                    if not p:
                        problems.append(f"{where}: no {probe}")
                    elif "grpc" in p and p["grpc"]["port"] != ports.get("grpc"):
                        problems.append(f"{where}: {probe} grpc port is not the grpc port")
                    elif "exec" in p:
                        pos, fl = parse_args(p["exec"]["command"][1:])
                        hp = host_port(pos[1]) if len(pos) > 1 else None
                        if not hp or hp[1] != ports.get("grpc"):
                            problems.append(f"{where}: {probe} probes another port")
                        if probe == "livenessProbe" and "--alive" not in fl:
                            problems.append(f"{where}: liveness must be `probe --alive` (a server "
                                            f"whose database is down is not dead)")
                # Addresses in the ConfigMap point at a Service on its port.
                for key in ("PARLEY_CONFIG_ADDR", "PARLEY_STATE_ADDR", "PARLEY_DISPATCHER_ADDR"):
                    for cm in by_kind.get("ConfigMap", {}).values():
                        if key in cm.get("data", {}):
                            host, port = host_port(cm["data"][key])
                            svc = services.get(host)
                            if not svc or port not in [p["port"] for p in svc["spec"]["ports"]]:
                                problems.append(f"k8s {target}: {key} {host}:{port} is no Service")
                if pre:
                    pos, fl = parse_args(invocations(pre["command"])[0][0][1:])
                    # The hook runs inside the container; when the worker (its PID 1) exits, the
                    # kernel kills it, so a hook that waits for that exit always fails.
                    if "--wait" in fl:
                        problems.append(f"{where}: preStop waits for the worker to exit (--wait): "
                                        f"it is killed when the container's PID 1 exits, and the "
                                        f"kubelet reports FailedPreStopHook")
                    grace = pod.get("terminationGracePeriodSeconds", 30)
                    deadline = duration_s(fl.get("--deadline", "5m"))
                    if deadline + 30 > grace:
                        problems.append(f"{where}: drain deadline {deadline}s + 30s exceeds "
                                        f"terminationGracePeriodSeconds {grace}")
        # Services select pods that exist and name ports those pods have.
        for name, svc in services.items():
            sel = svc["spec"].get("selector")
            if not sel:
                continue
            pods = [pod for obj, pod in pod_specs(objects)
                    if sel.items() <= obj["spec"]["template"]["metadata"]["labels"].items()]
            if not pods:
                problems.append(f"k8s {target}: Service {name} selects no pod")
            names = {p.get("name") for pod in pods for c in pod["containers"]
                     for p in c.get("ports", [])}
            for p in svc["spec"]["ports"]:
                if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
                    problems.append(f"k8s {target}: Service {name} targets unknown port "
                                    f"{p['targetPort']}")
        for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
            ref = hpa["spec"]["scaleTargetRef"]
            if ref["name"] not in by_kind.get(ref["kind"], {}):
                problems.append(f"k8s {target}: HPA targets missing {ref['kind']} {ref['name']}")
        print(f"k8s {target}: {len(objects)} objects checked")


def static_dockerfile(facts, problems):
    text = (dc.DEPLOY / "docker" / "Dockerfile").read_text()
    health = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (.*)$", text, re.M)
    if not health:
        problems.append("Dockerfile: no HEALTHCHECK ... CMD")
        return
    for argv, _ in invocations(["sh", "-c", health.group(1)]):
        check_invocation(facts, argv, "Dockerfile HEALTHCHECK", problems)


def run_static() -> None:
    facts = Facts()
    problems, skipped = [], []
    for part in (static_compose, static_k8s, static_dockerfile):
        try:
            part(facts, problems)
        except dc.Skip as s:  # the other parts still run; the test then reports a skip
            skipped.append(str(s))
    for p in problems:
        print(p)
    if problems:
        raise AssertionError(f"{len(problems)} mismatches between deploy/ and the binaries")
    if skipped:
        raise dc.Skip("; ".join(skipped))


def main(argv) -> int:
    modes = {"static": run_static}
    if len(argv) != 2 or argv[1] not in modes:
        print(__doc__)
        return 2
    try:
        modes[argv[1]]()
    except dc.Skip as s:
        print(f"SKIPPED: {s}")
        return dc.SKIP
    except AssertionError as e:
        print(f"FAILED: {e}")
        return 1
    print(f"deploy crosscheck {argv[1]}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
