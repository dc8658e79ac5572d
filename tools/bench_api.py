"""`make bench-api`: the ops API's latency (p50/p95) for queue listings and complaint detail, on a store of real
triaged complaints (default: the store of `make run`), as a client of `complaints serve` sees it over HTTP.

The store is copied first (a user for the benchmark is added to the copy), so the store measured is never
written; the server runs in its own process, as `complaints serve` runs, and the client calls one request
at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from complaints import access
from complaints.deployment import Deployment
from complaints.queues import queue_counts, slug
from complaints.config import Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"requests": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 2), "max_ms": round(ms[-1], 2)}


def _timed(client: httpx.Client, paths: list[str]) -> list[float]:
    took = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        took.append(time.perf_counter() - started)
        response.raise_for_status()
    return took


def bench(home: Path, requests: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        copy = Path(scratch) / "home"
        shutil.copytree(home, copy)
        deployment = Deployment.embedded(Settings.from_env(home=copy))
        token = access.add_user(deployment.store, deployment.taxonomy, "bench", access.TRIAGE_LEAD, None, "bench")
        counts = queue_counts(deployment, access.queues(deployment.tasks, deployment.taxonomy))
        if not sum(counts.values()):
            raise SystemExit(f"{home} holds no triaged complaints: run `make run` first")
        queue = max(counts, key=counts.get)
        ids = [p.allocation.complaint_id for p in deployment.store.list_queue(queue, None)]
        deployment.store.close()
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "console.main", "serve", "--port", str(port)],
                                  env={**os.environ, "COMPLAINTS_HOME": str(copy)}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                              timeout=30) as client:
                for _ in range(300):  # the server starts
                    try:
                        client.get("/me")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                _timed(client, ["/queues", f"/queues/{slug(queue)}/complaints", f"/complaints/{ids[0]}"] * 5)  # warm
                pages = [f"/queues/{slug(queue)}/complaints?limit=50&offset={50 * (n % max(1, len(ids) // 50))}"
                         for n in range(requests)]
                results = {
                    "queue_counts": _percentiles(_timed(client, ["/queues"] * requests)),
                    "queue_page": _percentiles(_timed(client, pages)),
                    "complaint_detail": _percentiles(_timed(client, [f"/complaints/{ids[n % len(ids)]}"
                                                                     for n in range(requests)])),
                }
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {"store": str(home), "complaints": sum(counts.values()), "largest_queue": queue,
            "largest_queue_size": counts[queue], "cpus": os.cpu_count(), **results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="the store to measure (default COMPLAINTS_HOME: make run's)")
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint (default 200)")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    report = bench(args.home or Settings.from_env().home, args.requests)
    print(f"ops API on {report['complaints']:,} complaints ({report['largest_queue']}: "
          f"{report['largest_queue_size']:,}), {args.requests} requests each, one at a time:")
    for name in ("queue_counts", "queue_page", "complaint_detail"):
        figures = report[name]
        print(f"  {name:<17} p50 {figures['p50_ms']:>8.1f} ms   p95 {figures['p95_ms']:>8.1f} ms   "
              f"max {figures['max_ms']:>8.1f} ms")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
