#!/usr/bin/env python3
"""Runs each Parley container of deploy/compose and deploy/k8s (prod overlay) as declared: its own
command with its own env, in a private network namespace (no Postgres/Redis: they fail to connect,
the servers still listen). Then checks the ports it really listens on against the declared ones,
and runs the declared health checks, probes and the worker's preStop drain against it. With
PARLEY_PG_URL (scripts/test's Postgres), also runs the k8s migration Job's command twice on a
scratch database.

    crosscheck_live.py live

Env: PARLEY_BUILD_DIR. Exit 0 ok, 1 failed, 77 skipped (no network namespaces, or a tool absent).
crosscheck.py checks the same files statically; this script uses its readers.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import deploy_check as dc  # noqa: E402
from crosscheck import (compose_listen_ports, invocations, k8s_objects,  # noqa: E402
                        load_compose, pod_specs)

DUMMY_ENV = {
    "PARLEY_PG_URL": "postgresql://parley:x@127.0.0.1:1/parley",
    "PARLEY_REDIS_URL": "redis://:x@127.0.0.1:2/0",
    "PARLEY_MASTER_KEY": "0" * 64,
    "PARLEY_API_TOKENS": "services:live-token:service",
    "PARLEY_SERVICE_TOKEN": "live-token",
}


class Netns:
    """A network namespace with only loopback, held open by a sleeping process."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "600"])
        time.sleep(0.2)
        self.prefix = ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net"]
        if self.holder.poll() is not None or \
                dc.run(self.prefix + ["ip", "link", "set", "lo", "up"]).returncode != 0:
            self.close()
            raise dc.Skip("cannot make a network namespace here (unshare -n / nsenter)")

    def run(self, argv, env, timeout=30, pid_ns_of=None):
        """Runs argv in the namespace; with pid_ns_of, also in that process's PID namespace, as
        the kubelet runs an exec probe or hook inside its container."""
        pid_ns = [f"--pid=/proc/{pid_ns_of}/ns/pid"] if pid_ns_of else []
        return subprocess.run(self.prefix + pid_ns + argv, env=env, capture_output=True,
                              text=True, timeout=timeout)

    def listening(self, pid):
        out = self.run(["ss", "-Hltnp"], os.environ).stdout
        return {int(m.group(1)) for m in re.finditer(r":(\d+)\s+\S+\s+users:\(\(\"[^\"]+\",pid="
                                                     rf"{pid},", out)}

    def close(self):
        self.holder.kill()
        self.holder.wait()


def only_child(pid: int):
    """The host pid of the one child of `pid` (unshare --fork's), or None once `pid` is gone."""
    for _ in range(100):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return None
        if children:
            return int(children[0])
        time.sleep(0.02)
    return None


def live_container(ns, where, argv, env, declared_ports, probes, pre_stop, problems,
                   pid1=False):
    """Starts argv (a container's command) in `ns`, then checks ports, probes and preStop.

    pid1: run argv as PID 1 of its own PID namespace, with the probes inside it, as Kubernetes
    does (compose containers have `init: true` instead); it must then stop on SIGTERM, which a
    PID 1 without a handler ignores until the grace period's SIGKILL. The preStop runs outside
    that namespace: inside, the kernel kills it when PID 1 exits, and a drained worker with no
    calls may exit before the hook does (crosscheck.py rejects a hook that waits for the exit).
    """
    full_env = {"PATH": f"{dc.build_dir() / 'cli/parleyctl'}:" + ":".join(
        str(dc.build_dir() / Path(p).parent) for p in dc.BINARIES.values()) + ":/usr/bin:/bin",
                "HOME": os.environ.get("HOME", "/tmp")}
    full_env.update(env)
    own_pid_ns = ["unshare", "--pid", "--fork", "--kill-child", "--"] if pid1 else []
    server = subprocess.Popen(ns.prefix + own_pid_ns + argv, env=full_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # The process that listens (and gets signals): unshare's child when pid1.
    main_pid = (only_child(server.pid) or server.pid) if pid1 else server.pid
    inside = main_pid if pid1 else None
    before = len(problems)
    try:
        ports = set()
        for _ in range(100):
            ports = ns.listening(main_pid)
            if ports >= set(declared_ports) or server.poll() is not None:
                break
            time.sleep(0.1)
        if server.poll() is not None:
            problems.append(f"{where}: exited at start ({server.returncode}): "
                            f"{server.stdout.read()[-400:]}")
            return
        if ports != set(declared_ports):
            problems.append(f"{where}: listens on {sorted(ports)}, declared "
                            f"{sorted(declared_ports)}")
        for name, cmd, must_serve in probes:
            r = ns.run(cmd, full_env, pid_ns_of=inside)
            reached = r.returncode == 0 or (not must_serve and "is not serving" in r.stderr)
            if not reached:
                problems.append(f"{where}: {name} `{' '.join(cmd)}` failed: "
                                f"{(r.stderr or r.stdout).strip()}")
        if pre_stop:
            r = ns.run(pre_stop, full_env, timeout=120)
            if r.returncode != 0:
                problems.append(f"{where}: preStop `{' '.join(pre_stop)}` failed: "
                                f"{(r.stderr or r.stdout).strip()}")
            try:
                code = server.wait(timeout=30)
                if code != 0:
                    problems.append(f"{where}: exited {code} after the preStop drain")
            except subprocess.TimeoutExpired:
                problems.append(f"{where}: still running 30 s after the preStop drain")
        elif pid1:
            os.kill(main_pid, signal.SIGTERM)
            try:
                code = server.wait(timeout=15)
                if code != 0:
                    problems.append(f"{where}: exited {code} on SIGTERM")
            except subprocess.TimeoutExpired:
                problems.append(f"{where}: as PID 1, still running 15 s after SIGTERM")
        print(f"live {where}: listens on {sorted(ports)}; {len(probes)} probe(s)"
              f"{', preStop drain' if pre_stop else ', SIGTERM as PID 1' if pid1 else ''}: "
              f"{'ok' if len(problems) == before else 'FAILED'}")
    finally:
        if server.poll() is None:
            try:
                os.kill(main_pid, signal.SIGTERM)
            except ProcessLookupError:  # exited, not yet reaped by unshare
                pass
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def live_migration(problems) -> None:
    """Runs the k8s migration Job's own command against a scratch database of the test Postgres
    (PARLEY_PG_URL, exported by scripts/test), twice: it must migrate, and be re-runnable."""
    url = os.environ.get("PARLEY_PG_URL")
    if not url or not shutil.which("psql"):
        print("live migration Job: not run (no PARLEY_PG_URL from scripts/infra, or no psql)")
        return
    job = next(o for o in k8s_objects("overlays/prod") if o["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    name = f"parley_deploy_check_{os.getpid()}"
    scratch = re.sub(r"/[^/?]*(\?|$)", rf"/{name}\1", url.split("://", 1)[1], count=1)
    scratch = url.split("://", 1)[0] + "://" + scratch
    create = dc.run(["psql", url, "-qc", f"CREATE DATABASE {name}"])
    if create.returncode != 0:
        problems.append(f"live migration Job: cannot create a scratch database: {create.stderr}")
        return
    try:
        env = {"PATH": os.environ["PATH"] + ":" + ":".join(
            str(dc.build_dir() / Path(p).parent) for p in dc.BINARIES.values())}
        env.update({e["name"]: DUMMY_ENV.get(e["name"], "x") for e in container["env"]})
        env["PARLEY_PG_URL"] = scratch
        env["PARLEY_REDIS_URL"] = os.environ.get("PARLEY_REDIS_URL", DUMMY_ENV["PARLEY_REDIS_URL"])
        for attempt in ("first run", "second run"):
            r = subprocess.run(container["command"], env=env, capture_output=True, text=True,
                               timeout=120)
            if r.returncode != 0:
                problems.append(f"live migration Job ({attempt}) exited {r.returncode}: "
                                f"{r.stderr[-400:]}")
                return
        tables = dc.run(["psql", scratch, "-Atc", "SELECT count(*) FROM information_schema.tables "
                         "WHERE table_schema IN ('config', 'conversation')"]).stdout.strip()
        if not tables.isdigit() or int(tables) == 0:
            problems.append("live migration Job: no tables in schemas config/conversation")
        print(f"live migration Job: `{' '.join(container['command'])}` created {tables} tables, "
              f"and ran again cleanly")
    finally:
        dc.run(["psql", url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


def run_live() -> None:
    dc.need("unshare", "the live cross-check")
    dc.need("nsenter", "the live cross-check")
    dc.need("ss", "the live cross-check")
    ns = Netns()
    problems = []
    tmp = tempfile.mkdtemp(prefix="parley-live-")
    try:
        services = load_compose()
        for name, svc in services.items():
            if "build" not in svc or svc.get("restart") == "no":
                continue
            env = {k: DUMMY_ENV.get(k, str(v)) for k, v in (svc.get("environment") or {}).items()}
            argv = [os.path.basename(a) if i == 0 else a for i, a in enumerate(svc["command"])]
            if argv[:2] == ["sh", "-c"]:  # bind mounts: container paths -> host paths
                script = argv[2]
                for vol in svc.get("volumes", []):
                    src, dst = vol.split(":")[:2]
                    script = script.replace(dst + "/", (src if src.startswith("/") else tmp) + "/")
                argv = ["sh", "-c", script.replace("$$", "$")]
            probes = [("healthcheck", invocations(svc["healthcheck"]["test"])[0][0], False)]
            live_container(ns, f"compose {name}", argv, env, compose_listen_ports(name, svc),
                           probes, None, problems)
        for target in ("overlays/prod",):
            objects = k8s_objects(target)
            configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objects
                          if o["kind"] == "ConfigMap"}
            for obj, pod in pod_specs(objects):
                for c in pod["containers"]:
                    if obj["kind"] == "Job" or "parley" not in c["image"]:
                        continue
                    env = {}
                    for e in c.get("env", []):
                        ref = e.get("valueFrom", {}).get("configMapKeyRef")
                        env[e["name"]] = (e.get("value") if "value" in e else
                                          configmaps[ref["name"]][ref["key"]] if ref else
                                          DUMMY_ENV.get(e["name"], "x"))
                    probes = []
                    for probe in ("readinessProbe", "livenessProbe"):
                        p = c[probe]
                        if "grpc" in p:
                            probes.append((probe, ["parleyctl", "probe",
                                                   f"127.0.0.1:{p['grpc']['port']}"], False))
                        else:
                            probes.append((probe, p["exec"]["command"], True))
                    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
                    live_container(ns, f"k8s {target} {c['name']}", c["command"], env,
                                   [p["containerPort"] for p in c["ports"]], probes, pre, problems,
                                   pid1=True)
    finally:
        ns.close()
    live_migration(problems)
    for p in problems:
        print(p)
    if problems:
        raise AssertionError(f"{len(problems)} live mismatches")


def main(argv) -> int:
    if len(argv) != 2 or argv[1] != "live":
        print(__doc__)
        return 2
    try:
        run_live()
    except dc.Skip as s:
        print(f"SKIPPED: {s}")
        return dc.SKIP
    except AssertionError as e:
        print(f"FAILED: {e}")
        return 1
    print("deploy crosscheck live: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
