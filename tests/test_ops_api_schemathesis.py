"""Property-based tests from the committed OpenAPI document (schemathesis) against the ops API running on uvicorn
over a store of real triaged complaints: no 5xx, and every response (status, content type, body) as documented.

Generated ids would only ever find nothing (404), so a generated id that fits its pattern is swapped for one of
the store's real complaints, queues or tasks, chosen by the generated value: the real data's answers are what is
checked. Example counts are modest (the suite's time budget); the role matrix is in test_ops_api.py.
"""

import re
import socket
import threading
import time

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from complaints.deployment import Deployment
from complaints.queues import slug
from complaints.config import Settings
from ops_api.app import create_app
from ops_api.openapi import COMMITTED
from ops_fixtures import STAND_IN, ops_store  # noqa: F401 (fixture)

schema = schemathesis.openapi.from_path(COMMITTED)


@pytest.fixture(scope="module")
def live(ops_store):
    """The app on uvicorn on a free local port, on the triaged store, as the triage lead (who may call every
    endpoint; the store is the module's: requests here may write to it)."""
    deployment = Deployment.embedded(Settings.from_env(home=ops_store.home))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(deployment, explainer=STAND_IN), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    real = {"complaint_id": sorted(ops_store.complaint.values()),
            "queue_id": sorted({slug(q) for q in (ops_store.team_a, ops_store.team_b, "Manual triage",
                                                  "Vulnerable customers")}),
            "task": ["issue", "team", "vulnerable"]}
    yield f"http://127.0.0.1:{port}", ops_store.tokens["triage_lead"], real
    server.should_exit = True
    thread.join(timeout=10)


PATTERNS = {"complaint_id": r"[A-Za-z0-9._:-]{1,64}", "queue_id": r"[a-z0-9-]{1,80}", "task": r"[a-z][a-z0-9_]{0,63}"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_response_is_as_documented_and_none_is_a_server_error(case, live):
    base_url, token, real = live
    for name, value in list((case.path_parameters or {}).items()):
        if isinstance(value, str) and re.fullmatch(PATTERNS[name], value):
            case.path_parameters[name] = real[name][sum(map(ord, value)) % len(real[name])]
    # A schema-valid label can still be refused (422): which labels a task takes depends on the task and the
    # taxonomy, which the document does not enumerate; so "positive data acceptance" does not hold by design.
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                           excluded_checks=[positive_data_acceptance])
