"""Start the local Budibase stack and the ops API as child processes, and stop them all on exit.

Real services, each in its own process, on loopback ports: Redis, pouchdb-server (CouchDB's HTTP API),
moto's S3 server (Budibase's object store), the app server ``@budibase/server`` under Node 22, the worker
stand-in in front of it (``worker``), and the ops API (``complaints serve``) on a store of ``make run``.
Logs go to ``<workdir>/logs``; a service that does not come up fails the start with its log's tail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator

import httpx

from testing.budibase_harness.users import BudibaseBackends

ADMIN_EMAIL = "platform-admin@megabank.example"


@dataclass
class Ports:
    redis: int = 6391
    couchdb: int = 5991
    s3: int = 9991
    app_server: int = 4011
    gateway: int = 10000
    ops_api: int = 8311


@dataclass
class LocalBudibase:
    """What a started stack offers its caller: URLs, the backends, the admin's session."""

    url: str  # the single origin (the worker stand-in and, behind it, the app server)
    ops_api_url: str
    backends: BudibaseBackends
    admin_email: str
    logs: Path
    processes: list[subprocess.Popen] = field(default_factory=list)


def _wait(url: str, name: str, log: Path, seconds: float, auth: tuple[str, str] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, auth=auth, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{name} did not answer at {url} within {seconds:.0f} s; its log ends:\n{tail}")


@contextmanager
def local_budibase(runtime: Path, workdir: Path, complaints_home: Path, ports: Ports | None = None
                   ) -> Iterator[LocalBudibase]:
    """The whole stack, started from scratch in ``workdir``; the ops API serves ``complaints_home``."""
    ports = ports or Ports()
    runtime = runtime.resolve()
    if not (runtime / "server" / ".installed").exists():
        raise RuntimeError(f"no Budibase runtime in {runtime}: run `make budibase-runtime`")
    logs = workdir / "logs"
    for folder in (logs, workdir / "couchdb"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    couch_password, redis_password = secrets.token_hex(12), secrets.token_hex(12)
    backends = BudibaseBackends(couchdb_url=f"http://admin:{couch_password}@127.0.0.1:{ports.couchdb}",
                                redis_port=ports.redis, redis_password=redis_password,
                                jwt_secret=secrets.token_hex(32))
    node = str(runtime / "node" / "bin" / "node")
    bin_dir = Path(sys.executable).parent
    budibase_env = {
        **os.environ, "PORT": str(ports.app_server), "SELF_HOSTED": "1", "NODE_ENV": "production",
        "COUCH_DB_URL": backends.couchdb_url, "COUCH_DB_USER": "admin", "COUCH_DB_PASSWORD": couch_password,
        "REDIS_URL": f"127.0.0.1:{ports.redis}", "REDIS_PASSWORD": redis_password,
        "MINIO_URL": f"http://127.0.0.1:{ports.s3}", "MINIO_ACCESS_KEY": "local", "MINIO_SECRET_KEY": "local-secret",
        "WORKER_URL": f"http://127.0.0.1:{ports.gateway}", "APPS_URL": f"http://127.0.0.1:{ports.app_server}",
        "JWT_SECRET": backends.jwt_secret, "INTERNAL_API_KEY": secrets.token_hex(16),
        "API_ENCRYPTION_KEY": secrets.token_hex(16), "ENCRYPTION_KEY": secrets.token_hex(16),
        "BB_ADMIN_USER_EMAIL": ADMIN_EMAIL, "BB_ADMIN_USER_PASSWORD": secrets.token_urlsafe(16),
        "TOP_LEVEL_PATH": str(runtime / "server"), "DD_TRACE_ENABLED": "false",
        # Budibase refuses REST calls to private addresses by default; the local ops API is on loopback.
        "BLACKLIST_IPS": "169.254.169.254",
    }
    budibase_env.pop("LITELLM_MASTER_KEY", None)
    commands = [
        ("redis", ["redis-server", "--port", str(ports.redis), "--requirepass", redis_password, "--save", "",
                   "--appendonly", "no", "--bind", "127.0.0.1"], None, None),
        ("couchdb", [node, str(runtime / "pouchdb" / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"),
                     "--port", str(ports.couchdb), "--host", "127.0.0.1", "--dir", str(workdir / "couchdb")],
         workdir / "couchdb", None),
        ("s3", [str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(ports.s3)], None, None),
    ]
    stack = LocalBudibase(url=f"http://127.0.0.1:{ports.gateway}", ops_api_url=f"http://127.0.0.1:{ports.ops_api}",
                          backends=backends, admin_email=ADMIN_EMAIL, logs=logs)

    def start(name: str, argv: list[str], cwd: Path | None, env: dict | None) -> Path:
        log = logs / f"{name}.log"
        stack.processes.append(subprocess.Popen(argv, cwd=cwd, env=env, stdout=log.open("wb"),
                                                stderr=subprocess.STDOUT, start_new_session=True))
        return log

    try:
        for name, argv, cwd, env in commands:
            start(name, argv, cwd, env)
        _wait(f"http://127.0.0.1:{ports.couchdb}/", "pouchdb-server", logs / "couchdb.log", 60)
        httpx.put(f"http://127.0.0.1:{ports.couchdb}/_config/admins/admin", json=couch_password,
                  timeout=10).raise_for_status()
        _wait(f"http://127.0.0.1:{ports.s3}/", "the S3 server", logs / "s3.log", 60)
        start("worker", [str(bin_dir / "uvicorn"), "testing.budibase_harness.worker:app", "--host", "127.0.0.1", "--port",
                         str(ports.gateway), "--log-level", "warning"], None,
              {**os.environ, "BUDIBASE_APP_SERVER": f"http://127.0.0.1:{ports.app_server}"})
        server = start("app-server", [node, "dist/index.js"], runtime / "server", budibase_env)
        _wait(f"http://127.0.0.1:{ports.app_server}/health", "@budibase/server", server, 180)
        ops_api = start("ops-api", [str(bin_dir / "complaints"), "serve", "--port", str(ports.ops_api)], None,
                        {**os.environ, "COMPLAINTS_HOME": str(complaints_home)})
        _wait(f"{stack.ops_api_url}/openapi.json", "the ops API", ops_api, 120)
        yield stack
    finally:
        for process in reversed(stack.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in stack.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
