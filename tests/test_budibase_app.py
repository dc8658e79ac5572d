"""The ops app end to end (``make budibase-e2e``): a real Budibase app server, the ops API on a copy of the
store ``make run`` left, the app built and published from ``budibase/`` twice (the second run must only
update), then the published app in headless Chromium as four ops users. An analyst takes a complaint from
manual triage into their team; the correction must land in the store, attributed to them, and the
complaint must show in its new queue. Screenshots of each screen go to ``budibase/screenshots``. The triage
lead and the auditor read the models' health.

Needs the runtime of ``make budibase-runtime`` (Node 22, @budibase/server, pouchdb-server, Redis,
Chromium); deselected from ``make test``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections import Counter
from dataclasses import astuple
from pathlib import Path

import httpx
import pytest

from budibase import app
from budibase.client import BuilderClient, Credentials
from budibase.deploy import deploy
from complaints.access import add_user
from complaints.deployment import Deployment
from complaints.monitoring import model_health
from complaints.queues import placed, slug
from complaints.records import MANUAL_TRIAGE
from complaints.config import Settings

pytestmark = pytest.mark.budibase
ROOT = Path(__file__).resolve().parent.parent
RUNTIME = Path(os.environ.get("BUDIBASE_RUNTIME", ROOT / ".budibase"))
SCREENSHOTS = Path(os.environ.get("BUDIBASE_SCREENSHOTS", ROOT / "budibase" / "screenshots"))
EXPORT = Path(os.environ.get("BUDIBASE_EXPORT", ROOT / "build" / "budibase" / "complaints-ops.tar.gz"))
# Set in this process while the stack starts: no service may inherit it (the caller's environment holds tokens).
SENTINEL = "BUDIBASE_HARNESS_TEST_SENTINEL"
CHROMIUM = "/usr/bin/chromium"
# As the machine's notes say: without the background-networking flags Chromium keeps calling out.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def ops_store(tmp_path_factory) -> tuple[Path, Deployment]:
    """A copy of the store and registry of ``make run`` (COMPLAINTS_HOME, default .complaints), so the test's
    corrections never touch it."""
    source = Settings.from_env().home
    if not (source / "triage.sqlite3").exists():
        pytest.fail(f"no store of `make run` in {source}: run `make run` first (make budibase-e2e does)")
    home = tmp_path_factory.mktemp("ops-home")
    shutil.copytree(source, home, dirs_exist_ok=True)
    deployment = Deployment.embedded(Settings.from_env(home=home))
    assert deployment.store.list_queue(MANUAL_TRIAGE, limit=1), "the store of make run holds no triaged complaints"
    return home, deployment


@pytest.fixture(scope="module")
def team(ops_store) -> str:
    """The analyst's team: the busiest team queue, so manual triage surely holds complaints about it."""
    _, deployment = ops_store
    counts = Counter(p.allocation.predictions["team"].label
                     for p in deployment.store.list_queue(MANUAL_TRIAGE, limit=None) if "team" in p.allocation.predictions)
    return counts.most_common(1)[0][0]


@pytest.fixture(scope="module")
def ops_users(ops_store, team) -> dict[str, tuple[str, str]]:
    """name -> (ops role, API token), issued by the ops API's own user store."""
    _, deployment = ops_store
    people = {"ana": ("analyst", team), "sam": ("specialist", None), "lee": ("triage_lead", None),
              "avery": ("auditor", None)}
    return {name: (role, add_user(deployment.store, deployment.taxonomy, name, role, team_name, "e2e"))
            for name, (role, team_name) in people.items()}


@pytest.fixture(scope="module")
def stack(ops_store, tmp_path_factory):
    from testing.budibase_harness.services import local_budibase
    home, _ = ops_store
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SENTINEL, "the caller's environment leaked")
        with local_budibase(RUNTIME, tmp_path_factory.mktemp("budibase"), home) as started:
            yield started


def _processes(stack) -> dict[int, str]:
    """pid -> command line of every process of the stack: those it started, and theirs (Budibase forks)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = {}, [process.pid for process in stack.processes]
    while todo:
        pid = todo.pop()
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return found


def _listening(pids) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the processes listen on, read from /proc."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                inodes.update(re.findall(r"^socket:\[(\d+)\]$", os.readlink(fd)))
            except OSError:
                continue
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            local, state, inode = (line.split()[i] for i in (1, 3, 9))
            if state == "0A" and inode in inodes:  # LISTEN
                address, port = local.split(":")
                raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
                found.add((socket.inet_ntop(family, raw), int(port, 16)))
    return found


def test_the_harness_couchdb_answers_no_anonymous_request(stack):
    """Budibase's global users and their ops API tokens live in CouchDB: without the admin's credentials
    nothing there is read, and no admin or database is made."""
    couchdb = f"http://127.0.0.1:{stack.ports.couchdb}"
    for path in ("/", "/_all_dbs", "/global-db/_all_docs?include_docs=true", "/_config/admins", "/_utils/"):
        assert httpx.get(couchdb + path).status_code == 401, path
    assert httpx.put(f"{couchdb}/_config/admins/intruder", json="chosen").status_code == 401
    assert httpx.put(f"{couchdb}/intruders").status_code == 401
    assert httpx.get(f"{couchdb}/_all_dbs", auth=("admin", "guessed")).status_code == 401
    assert "global-db" in httpx.get(f"{stack.backends.couchdb_url}/_all_dbs").json()


def test_the_harness_listens_on_loopback_only_on_ports_free_at_start(stack):
    from testing.budibase_harness.services import Ports
    listening = _listening(_processes(stack))
    ports = set(astuple(stack.ports))
    assert ports <= {port for _, port in listening}
    assert {address for address, _ in listening} == {"127.0.0.1"}, sorted(listening)
    assert not set(astuple(Ports.free())) & ports  # a second stack would not meet this one


def test_no_harness_process_inherits_the_callers_environment(stack):
    processes = _processes(stack)
    assert len(processes) > len(stack.processes)  # Budibase's own children are read too
    for pid, command in processes.items():
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in environ if v.startswith(f"{SENTINEL}=".encode())], command


@pytest.fixture(scope="module")
def deployed(stack, ops_store):
    _, deployment = ops_store
    admin = stack.backends.session(stack.backends.admin_id(stack.admin_email))
    client = BuilderClient(stack.url, Credentials(session_cookie=admin.cookie, csrf_token=admin.csrf_token))
    vocabulary = app.Vocabulary.of(deployment.tasks, deployment.taxonomy)
    first = deploy(client, stack.ops_api_url, vocabulary)
    second = deploy(client, stack.ops_api_url, vocabulary)
    EXPORT.parent.mkdir(parents=True, exist_ok=True)
    EXPORT.write_bytes(client.export())
    inventory = {"queries": [q["name"] for q in client.documents("queries")], "screens": [s["routing"]["route"]
                                                                               for s in client.documents("screens")],
                 "roles": [r["name"] for r in client.documents("roles")]}
    client.close()
    return first, second, inventory, vocabulary


def test_a_second_deployment_updates_everything_and_duplicates_nothing(deployed):
    first, second, inventory, _ = deployed
    assert first.created and second.created == [] and second.removed == []
    assert sorted(second.updated) == sorted(first.created + first.updated)
    assert sorted(inventory["queries"]) == sorted(app.QUERY_VIEWS)
    assert len(inventory["screens"]) == len(set(inventory["screens"]))
    assert Counter(inventory["roles"])[app.ANALYST] == 1
    assert EXPORT.stat().st_size > 1000


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def signed_in(stack, deployed, ops_users, browser):
    """One browser context per ops user, signed in to the published app as that user."""
    first = deployed[0]
    prod_app_id = first.app_id.replace("app_dev_", "app_")
    contexts = {}
    for name, (role, token) in ops_users.items():
        user_id = stack.backends.put_app_user(f"{name}@megabank.example", prod_app_id,
                                              first.roles[app.OPS_ROLE_TO_APP_ROLE[role]], token)
        session = stack.backends.session(user_id)
        context = browser.new_context(viewport={"width": 1440, "height": 1700})
        context.add_cookies([{"name": "budibase:auth", "value": session.cookie, "url": stack.url}])
        contexts[name] = context
    yield contexts
    for context in contexts.values():
        context.close()


def _open(context, stack, route: str, wait_for: str, shot: str | None = None):
    page = context.new_page()
    page.goto(f"{stack.url}/app{app.URL}#{route}")  # the published app routes by the URL fragment
    page.get_by_text(wait_for, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    if shot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
    return page


def _specialist_queue_id(deployment: Deployment) -> str:
    return app.Vocabulary.of(deployment.tasks, deployment.taxonomy).specialist_queue_ids[0]


def _complaint_ids(page) -> list[str]:
    return re.findall(r"^\s*(\d{5,})\s*$", page.inner_text("body"), re.M)


def test_each_role_sees_its_queue_of_real_triaged_complaints(signed_in, stack, ops_store, team):
    _, deployment = ops_store
    analyst_queue = _open(signed_in["ana"], stack, "/team-queue", "Team queue", "team-queue")
    in_team = {p.allocation.complaint_id for p in deployment.store.list_queue(team, limit=None)}
    shown = set(_complaint_ids(analyst_queue))
    assert shown and shown <= in_team
    manual = _open(signed_in["ana"], stack, "/manual-triage", "Manual triage", "manual-triage")
    assert _complaint_ids(manual)
    queue_id = _specialist_queue_id(deployment)
    vulnerable = _open(signed_in["sam"], stack, f"/{queue_id}", queue_id.replace("-", " "), queue_id)
    assert _complaint_ids(vulnerable)
    lead = _open(signed_in["lee"], stack, "/queues", "Queues", "queues")
    assert team in lead.inner_text("body") and MANUAL_TRIAGE in lead.inner_text("body")


def test_the_api_not_the_app_limits_what_a_user_reads(signed_in, stack, ops_store):
    """The analyst opens the specialist queue by URL: the app asks the API as them, and the API refuses."""
    _, deployment = ops_store
    page = _open(signed_in["ana"], stack, "/queue/manual-triage", "Queue")
    assert _complaint_ids(page)
    other = _open(signed_in["ana"], stack, f"/queue/{_specialist_queue_id(deployment)}", "may not read")
    assert not _complaint_ids(other)  # the API's refusal is what the page shows


def test_an_analyst_reassigns_from_manual_triage_into_their_team(signed_in, stack, ops_store, team):
    home, deployment = ops_store
    manual = _open(signed_in["ana"], stack, "/manual-triage", "Manual triage")
    complaint_id = next(c for c in _complaint_ids(manual) if placed(deployment, c).queue == MANUAL_TRIAGE)
    page = _open(signed_in["ana"], stack, f"/complaint/{complaint_id}", "Narrative", "complaint")
    assert "model version" in page.inner_text("body")
    page.get_by_label("Correct team").click()
    page.get_by_role("option", name=team, exact=True).click()
    page.get_by_role("button", name="Reassign team").click()
    page.wait_for_url(re.compile(rf"/queue/{slug(team)}$"), timeout=60_000)
    page.get_by_text(complaint_id).first.wait_for(timeout=60_000)
    page.screenshot(path=str(SCREENSHOTS / "after-reassign.png"), full_page=True)

    now = placed(Deployment.embedded(Settings.from_env(home=home)), complaint_id)
    assert now.queue == team
    correction = now.corrections[-1]
    assert (correction.task, correction.label, correction.analyst) == ("team", team, "ana")
    # the app's own key per click (stored as a hash bound to the user), from the revision the screen read
    assert correction.idempotency_key.startswith("client-") and correction.revision == now.revision


def test_explain_shows_the_words_behind_a_decision(signed_in, stack, ops_store, team):
    _, deployment = ops_store
    allocated = deployment.store.list_queue(team, limit=1)[0].allocation
    page = _open(signed_in["lee"], stack, f"/complaint/{allocated.complaint_id}", "Narrative")
    page.get_by_role("button", name="Explain issue").click()
    page.wait_for_url(re.compile(r"/explanation/issue$"), timeout=60_000)
    page.get_by_text("SHAP value").first.wait_for(timeout=120_000)  # the words table's header
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / "explanation.png"), full_page=True)
    assert deployment.store.list_explanations(allocated.complaint_id)
    shown = page.inner_text("body")
    assert allocated.predictions["issue"].model_version in shown
    assert re.search(r"^\s*(for|against)\s*$", shown, re.M), "no word of the explanation is shown"


def test_the_auditor_reads_the_audit_chain(signed_in, stack, ops_store):
    _, deployment = ops_store
    complaint_id = deployment.store.list_queue(MANUAL_TRIAGE, limit=1)[0].allocation.complaint_id
    _open(signed_in["avery"], stack, "/audit", "Triaged", "audit")
    page = _open(signed_in["avery"], stack, f"/audit/{complaint_id}", "Model version", "audit-chain")
    for task in ("team", "issue", "vulnerable"):
        assert task in page.inner_text("body")


def test_the_triage_lead_and_the_auditor_read_the_models_health(signed_in, stack, ops_store):
    """The verdict, its reasons and the weeks the ops API judges on the store, as each of them sees it."""
    home, _ = ops_store
    page = _open(signed_in["lee"], stack, "/model-health", "Verdict", "model-health")
    health = model_health(Deployment.embedded(Settings.from_env(home=home)), int(app.HEALTH_DAYS))
    shown = page.inner_text("body")
    assert f"Verdict: {health['verdict']}" in shown and health["reasons"][0] in shown
    latest = next(week for week in reversed(health["weeks"]) if week["complaints"])  # the make run store's week
    row = re.search(rf"^\s*{latest['week']}\s+{latest['complaints']}\s+([\d.]+)%\s+([\d.]+)% of ([\d.]+)%", shown, re.M)
    assert row, f"no row of {latest['week']} with its complaints and shares"
    shares = [float(share) / 100 for share in row.groups()]
    assert shares == pytest.approx([latest[k] for k in ("manual_triage_share", "specialist_share",
                                                        "specialist_capacity")], abs=0.0006)
    assert all(version in shown for version in health["versions"].values())  # the drift table names each version
    auditor = _open(signed_in["avery"], stack, "/model-health", "Verdict")
    assert f"Verdict: {health['verdict']}" in auditor.inner_text("body")
