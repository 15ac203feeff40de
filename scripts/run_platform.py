"""Run the whole platform on one machine: the web server, a Celery worker and Celery beat.

`make run` calls this after migrating and seeding. Ctrl-C stops everything; if one process dies,
the others are stopped too, so a half-running platform never lingers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 10
WEB_READY_TIMEOUT_SECONDS = 90
_print_lock = threading.Lock()


def say(line: str, *, stream=None) -> None:
    # One lock for every writer, so lines from the three children and from the runner never interleave.
    with _print_lock:
        print(line, file=stream or sys.stdout, flush=True)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        # A process group of its own: Ctrl-C reaches only the runner, which then stops the children in
        # order, and a last-resort SIGKILL to the group also reaches the worker's pool processes.
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        self.reader = threading.Thread(target=self._relay, name=f"relay-{self.name}", daemon=True)
        self.reader.start()

    def _relay(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        prefix = f"[{self.name}]"
        for raw in iter(self.process.stdout.readline, b""):
            say(f"{prefix} {raw.decode(errors='replace').rstrip()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process else None

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)


def venv_python() -> str:
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def children_for(python: str, host: str, port: str) -> list[Child]:
    celery = [python, "-m", "celery", "-A", "ior_platform"]
    return [
        Child("web", [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]),
        Child(
            "worker",
            [*celery, "worker", "-l", "info", "--concurrency", "2", "-Q", "default,pdf,notifications,webhooks"],
        ),
        Child("beat", [*celery, "beat", "-l", "info"]),
    ]


def browser_host(host: str) -> str:
    if host in {"0.0.0.0", ""}:  # noqa: S104
        return "127.0.0.1"
    if host in {"::", "[::]"}:
        return "[::1]"
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def web_answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def describe_exit(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def first_dead(children: list[Child]) -> Child | None:
    return next((child for child in children if child.exit_code() is not None), None)


def stop_all(children: list[Child]) -> None:
    for child in children:
        if child.process is not None and child.exit_code() is None:
            # Only the leader: a Celery worker stops its own pool; a SIGTERM to the pool processes as well
            # makes it report them as lost and stall its warm shutdown.
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"run_platform: {child.name} did not stop within {STOP_GRACE_SECONDS} s; killing it", stream=sys.stderr)
            child.signal_group(signal.SIGKILL)
            child.process.wait()
        # The leader is gone; anything left in its group (a stuck pool process) would be orphaned.
        child.signal_group(signal.SIGKILL)
    for child in children:
        if child.reader is not None:
            child.reader.join(timeout=2)


def print_banner(base_url: str, children: list[Child]) -> None:
    pids = ", ".join(f"{child.name} pid {child.pid}" for child in children)
    lines = [
        "",
        "=" * 72,
        f"  IOR platform is running at {base_url}/",
        f"  Admin:  {base_url}/admin/",
        "  Demo logins: printed above by `manage.py seed_demo`;",
        "  `.venv/bin/python manage.py seed_demo --quiet` prints them again.",
        f"  Processes: {pids}",
        "  Press Ctrl-C to stop everything.",
        "=" * 72,
        "",
    ]
    say("\n".join(lines))


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "ior_platform.settings.local")
    env["PYTHONUNBUFFERED"] = "1"
    base_url = f"http://{browser_host(host)}:{port}"
    # Links in e-mails and documents should point at this server, not the default port.
    env.setdefault("SITE_URL", base_url)

    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children = children_for(venv_python(), host, port)
    for child in children:
        child.start(env)
    say("run_platform: started " + ", ".join(f"{child.name} pid {child.pid}" for child in children))

    ready_deadline = time.monotonic() + WEB_READY_TIMEOUT_SECONDS
    banner_shown = False
    while not stop_requested.is_set():
        dead = first_dead(children)
        if dead is not None:
            stop_all(children)
            others = " and ".join(child.name for child in children if child is not dead)
            say(
                f"run_platform: {dead.name} exited unexpectedly ({describe_exit(dead.exit_code())}); stopped {others}",
                stream=sys.stderr,
            )
            return 1
        if not banner_shown:
            status = web_answers(f"{base_url}/accounts/login/")
            if status is not None:
                if status >= 500:
                    say(f"run_platform: the login page answered {status}; see the [web] lines above", stream=sys.stderr)
                print_banner(base_url, children)
                banner_shown = True
            elif time.monotonic() > ready_deadline:
                say(
                    f"run_platform: web did not answer on {base_url}/accounts/login/"
                    f" within {WEB_READY_TIMEOUT_SECONDS} s",
                    stream=sys.stderr,
                )
                stop_all(children)
                return 1
        stop_requested.wait(0.3 if not banner_shown else 0.5)

    say("run_platform: stopping web, worker and beat")
    stop_all(children)
    say("run_platform: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
