"""Start the local Budibase stack and the ops API as child processes, and stop them all on exit.

Real services, each in its own process, on loopback ports chosen free at start: Redis, pouchdb-server
(CouchDB's HTTP API), moto's S3 server (Budibase's object store), the app server ``@budibase/server`` under
Node 22, the worker stand-in in front of it (``worker``), and the ops API (``complaints serve``) on a store of
``make run``. Each listens on 127.0.0.1 only, CouchDB answers no anonymous request, and each process gets an
environment written here, never the caller's (which holds tokens). Logs go to ``<workdir>/logs``; a service
that does not come up fails the start with its log's tail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from collections.abc import Iterator

import httpx

from testing.budibase_harness.users import BudibaseBackends

ADMIN_EMAIL = "platform-admin@megabank.example"
LOOPBACK = "127.0.0.1"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Ports:
    redis: int
    couchdb: int
    s3: int
    app_server: int
    gateway: int
    ops_api: int

    @classmethod
    def free(cls) -> Ports:
        """Ports free on 127.0.0.1 now, all different (held together, then released): a second stack, or anyone
        else's service, never meets this one on a fixed port."""
        held = [socket.socket() for _ in fields(cls)]
        try:
            for sock in held:
                sock.bind((LOOPBACK, 0))
            return cls(*(sock.getsockname()[1] for sock in held))
        finally:
            for sock in held:
                sock.close()


@dataclass
class LocalBudibase:
    """What a started stack offers its caller: URLs, the backends, the admin's session."""

    url: str  # the single origin (the worker stand-in and, behind it, the app server)
    ops_api_url: str
    backends: BudibaseBackends
    admin_email: str
    ports: Ports
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


def _couchdb_config(folder: Path, password: str) -> Path:
    """pouchdb-server's configuration: its admin from the first request on (no admin party), no anonymous
    request (CouchDB's require_valid_user, which install.sh makes express-pouchdb honour), no CORS."""
    config = folder / "config.json"
    config.touch(mode=0o600)
    config.write_text(json.dumps({"admins": {"admin": password}, "couch_httpd_auth": {"require_valid_user": True},
                                  "httpd": {"enable_cors": False}}))
    return config


def _redis_config(folder: Path, port: int, password: str) -> Path:
    """Redis's configuration, in a file only this user reads: a password on the command line is anyone's."""
    config = folder / "redis.conf"
    config.unlink(missing_ok=True)
    config.touch(mode=0o600)
    config.write_text(f"port {port}\nbind {LOOPBACK}\nrequirepass {password}\nsave \"\"\nappendonly no\n")
    return config


@contextmanager
def local_budibase(runtime: Path, workdir: Path, complaints_home: Path) -> Iterator[LocalBudibase]:
    """The whole stack, started from scratch in ``workdir``; the ops API serves ``complaints_home``."""
    ports = Ports.free()
    runtime = runtime.resolve()
    if not (runtime / "server" / ".installed").exists():
        raise RuntimeError(f"no Budibase runtime in {runtime}: run `make budibase-runtime`")
    logs, couchdb, node_home = workdir / "logs", workdir / "couchdb", workdir / "node-home"
    for folder in (logs, couchdb, node_home):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    couch_password, redis_password = secrets.token_hex(12), secrets.token_hex(12)
    backends = BudibaseBackends(couchdb_url=f"http://admin:{couch_password}@{LOOPBACK}:{ports.couchdb}",
                                redis_port=ports.redis, redis_password=redis_password,
                                jwt_secret=secrets.token_hex(32))
    node = str(runtime / "node" / "bin" / "node")
    bin_dir = Path(sys.executable).parent
    user_home = os.environ.get("HOME", str(workdir))
    path = os.pathsep.join([str(runtime / "node" / "bin"), str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])

    def environment(home: Path | str, **variables: str) -> dict[str, str]:
        """A child's whole environment: a PATH, a HOME and what it is given, never the caller's variables."""
        return {"PATH": path, "HOME": str(home), **variables}

    # Node's own HOME: the AWS SDK and npm-style loaders inside look there for credentials (~/.aws, ~/.npmrc).
    budibase_env = environment(
        node_home, PORT=str(ports.app_server), SELF_HOSTED="1", NODE_ENV="production",
        COUCH_DB_URL=backends.couchdb_url, COUCH_DB_USER="admin", COUCH_DB_PASSWORD=couch_password,
        REDIS_URL=f"{LOOPBACK}:{ports.redis}", REDIS_PASSWORD=redis_password,
        MINIO_URL=f"http://{LOOPBACK}:{ports.s3}", MINIO_ACCESS_KEY="local", MINIO_SECRET_KEY="local-secret",
        WORKER_URL=f"http://{LOOPBACK}:{ports.gateway}", APPS_URL=f"http://{LOOPBACK}:{ports.app_server}",
        JWT_SECRET=backends.jwt_secret, INTERNAL_API_KEY=secrets.token_hex(16),
        API_ENCRYPTION_KEY=secrets.token_hex(16), ENCRYPTION_KEY=secrets.token_hex(16),
        BB_ADMIN_USER_EMAIL=ADMIN_EMAIL, BB_ADMIN_USER_PASSWORD=secrets.token_urlsafe(16),
        TOP_LEVEL_PATH=str(runtime / "server"), DD_TRACE_ENABLED="false",
        # Budibase refuses REST calls to private addresses by default; the local ops API is on loopback.
        BLACKLIST_IPS="169.254.169.254",
    )
    # The ops API reads the same settings as the test that made its store (COMPLAINTS_*), on its copy.
    settings = {name: value for name, value in os.environ.items() if name.startswith("COMPLAINTS_")}
    ops_env = environment(user_home, **settings | {"COMPLAINTS_HOME": str(complaints_home)})
    commands = [
        ("redis", [shutil.which("redis-server") or "redis-server",
                   str(_redis_config(workdir, ports.redis, redis_password))], None, environment(user_home)),
        ("couchdb", [node, str(runtime / "pouchdb" / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"),
                     "--port", str(ports.couchdb), "--host", LOOPBACK, "--dir", str(couchdb),
                     "--config", str(_couchdb_config(couchdb, couch_password))], couchdb, environment(node_home)),
        ("s3", [str(bin_dir / "moto_server"), "-H", LOOPBACK, "-p", str(ports.s3)], None, environment(user_home)),
    ]
    stack = LocalBudibase(url=f"http://{LOOPBACK}:{ports.gateway}", ops_api_url=f"http://{LOOPBACK}:{ports.ops_api}",
                          backends=backends, admin_email=ADMIN_EMAIL, ports=ports, logs=logs)

    def start(name: str, argv: list[str], cwd: Path | None, env: dict[str, str]) -> Path:
        log = logs / f"{name}.log"
        stack.processes.append(subprocess.Popen(argv, cwd=cwd, env=env, stdout=log.open("wb"),
                                                stderr=subprocess.STDOUT, start_new_session=True))
        return log

    try:
        for name, argv, cwd, env in commands:
            start(name, argv, cwd, env)
        _wait(f"http://{LOOPBACK}:{ports.couchdb}/", "pouchdb-server", logs / "couchdb.log", 60,
              auth=("admin", couch_password))
        _wait(f"http://{LOOPBACK}:{ports.s3}/", "the S3 server", logs / "s3.log", 60)
        start("worker", [str(bin_dir / "uvicorn"), "testing.budibase_harness.worker:app", "--host", LOOPBACK,
                         "--port", str(ports.gateway), "--log-level", "warning"], None,
              environment(user_home, BUDIBASE_APP_SERVER=f"http://{LOOPBACK}:{ports.app_server}"))
        server = start("app-server", [node, "--require", str(HERE / "loopback.js"), "dist/index.js"],
                       runtime / "server", budibase_env)
        _wait(f"http://{LOOPBACK}:{ports.app_server}/health", "@budibase/server", server, 180)
        ops_api = start("ops-api", [str(bin_dir / "complaints"), "serve", "--host", LOOPBACK, "--port",
                                    str(ports.ops_api)], None, ops_env)
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
