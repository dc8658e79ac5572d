"""The ops team's Budibase app, as code: the ops API's queries as the app shows them, the roles, the screens.

Every rule stays in the ops API: each query carries the signed-in user's own token (the datasource's
``Authorization`` header is bound to ``{{ [user].[oauth2].[accessToken] }}``, the access token of their
single sign-on), so what a user may see or change is what the API lets *them* do. Budibase roles only
choose which screens a user is shown. Queue ids and the labels offered for reassignment come from the
deployment's own tasks and taxonomy, never from a list typed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from budibase.components import (
    bind, columns, component_id, execute, js, navigate, node, notify, provider_ref, query_source,
)

from complaints.access import specialist_queues
from complaints.queues import slug
from complaints.records import MANUAL_TRIAGE
from complaints.tasks import TaskSpec
from complaints.taxonomy import Taxonomy

NAME, URL = "Complaints ops", "/complaints-ops"
DATASOURCE = "Ops API"
USER_TOKEN = "Bearer {{ [user].[oauth2].[accessToken] }}"
QUEUE_ROWS = 200  # a queue screen lists its newest 200 complaints (the API's largest page)
HEALTH_DAYS = "28"  # the model health screen's window: four weeks, the verdict's latest against three before

# Budibase roles (screens shown), after the ops API's roles (what may be done); a triage lead sees every screen.
ANALYST, SPECIALIST, AUDITOR, TRIAGE_LEAD, BASIC = "ANALYST", "SPECIALIST", "AUDITOR", "TRIAGE_LEAD", "BASIC"
ROLES = [
    {"name": ANALYST, "inherits": [BASIC], "uiMetadata": {"displayName": "Analyst", "description":
                                                         "works a team queue and manual triage"}},
    {"name": SPECIALIST, "inherits": [BASIC], "uiMetadata": {"displayName": "Specialist", "description":
                                                            "works the vulnerable customers queue"}},
    {"name": AUDITOR, "inherits": [BASIC], "uiMetadata": {"displayName": "Auditor", "description":
                                                         "reads everything and the audit chain"}},
    {"name": TRIAGE_LEAD, "inherits": [ANALYST, SPECIALIST, AUDITOR],
     "uiMetadata": {"displayName": "Triage lead", "description": "works every queue"}},
]
OPS_ROLE_TO_APP_ROLE = {"analyst": ANALYST, "specialist": SPECIALIST, "auditor": AUDITOR, "triage_lead": TRIAGE_LEAD}

# An API error body ({"error": {...}}) fails the query, so the app shows it instead of an empty success.
_REFUSED = "if (data && data.error) { throw new Error(data.error.message) }\n"
_PERCENT = "const pct = s => (s === undefined || s === null) ? '' : Math.round(s * 100) + '%'\n"
_PERCENT_1 = "const pct1 = s => (s === undefined || s === null) ? '' : (s * 100).toFixed(1) + '%'\n"
_AGE = ("const age = at => { const h = (Date.now() - Date.parse(at)) / 36e5; "
        "return h < 48 ? Math.floor(h) + ' h' : Math.floor(h / 24) + ' d' }\n")


@dataclass(frozen=True)
class QueryView:
    """How the app reads one ops API operation: its rows (a JavaScript transformer) and their columns."""

    transformer: str
    fields: tuple[str, ...]


QUERY_VIEWS = {
    "me": QueryView(_REFUSED + "return [data]", ("name", "role", "team", "team_queue_id")),
    "list_queues": QueryView(_REFUSED + "return data", ("id", "name", "count")),
    "queue_page": QueryView(_REFUSED + _PERCENT + _AGE + """return data.items.map(c => ({
  complaint_id: c.complaint_id, age: age(c.allocated_at), allocated_at: c.allocated_at, queue: c.queue,
  status: c.status === 'allocated' ? 'models' : 'manual triage', corrected: c.corrected ? 'yes' : '',
  team: (c.predictions.team || {}).label, team_score: pct((c.predictions.team || {}).score),
  issue: (c.predictions.issue || {}).label, issue_score: pct((c.predictions.issue || {}).score),
  vulnerable_score: pct((c.predictions.vulnerable || {}).score)
}))""", ("complaint_id", "age", "allocated_at", "queue", "status", "corrected", "team", "team_score", "issue",
         "issue_score", "vulnerable_score")),
    "complaint": QueryView(_REFUSED + _PERCENT + """const a = data.allocation
const tasks = Object.entries(a.predictions).map(([task, p]) =>
  `| ${task} | ${p.label} | ${pct(p.score)} | \\`${p.version}\\` | ${p.served_by} | ${p.error || ''} |`).join('\\n')
const fixes = data.corrections.map(c =>
  `| ${c.task} | ${c.previous_label} → ${c.label} | ${c.analyst} | ${c.at} |`).join('\\n')
const details = [
  `**Queue:** ${data.queue} · **models sent it to:** ${a.queue} (${a.status.replace('_', ' ')})`,
  `**Received:** ${data.date_received} · **allocated:** ${a.allocated_at} · **batch:** \\`${a.batch_id}\\` · ` +
  `**taxonomy:** ${a.taxonomy_version}`,
  a.reasons.length ? `**${a.status === 'allocated' ? 'Notes' : 'Why manual triage'}:** ${a.reasons.join('; ')}` : '',
  '| task | label | score | model version | served by | error |\\n|---|---|---|---|---|---|\\n' + tasks,
  data.corrections.length ? '**Corrections**\\n\\n| task | change | by | at |\\n|---|---|---|---|\\n' + fixes
                          : '_No corrections yet._'
].filter(Boolean).join('\\n\\n')
return [{ complaint_id: data.complaint_id, narrative: data.narrative, queue: data.queue, details,
  revision: String(data.revision) }]""", ("complaint_id", "narrative", "queue", "details", "revision")),
    "reassign": QueryView(_REFUSED + """return [{ queue_id: data.queue.id, queue: data.queue.name,
  already_stored: data.already_stored, task: data.correction.task, label: data.correction.label }]""",
                          ("queue_id", "queue", "already_stored", "task", "label")),
    "request_explanation": QueryView(_REFUSED + "return [{ task: data.task, version: data.version }]",
                                     ("task", "version")),
    "read_explanation": QueryView(_REFUSED + """const p = data.payload
const head = `**${data.task}: ${p.label}** (score ${Math.round(p.score * 100)}%) · model \\`${data.version}\\` · ` +
  `${p.explainer}, SHAP ${p.shap_version} · requested by ${data.requested_by} at ${data.requested_at}`
const rows = [...p.top_for.map(([word, value]) => ({ direction: 'for', word, value: value.toFixed(4) })),
              ...p.top_against.map(([word, value]) => ({ direction: 'against', word, value: value.toFixed(4) }))]
return rows.map(r => ({ ...r, head }))""", ("direction", "word", "value", "head")),
    "audit": QueryView(_REFUSED + _PERCENT + """const b = data.allocation.batch
const figures = m => Object.entries(m || {}).filter(([, v]) => typeof v === 'number')
  .map(([k, v]) => `${k} ${Math.round(v * 1000) / 1000}`).join(' · ')
return Object.entries(data.tasks).map(([task, t]) => {
  const p = t.prediction || {}, info = t.model_info || {}, training = (t.model_card || {}).training || {}
  const g = t.gate_decision, s = t.put_in_service_by
  const card = [
    `**Decision:** ${p.label} (score ${pct(p.score)}, served by ${p.served_by}${p.error ? ', error: ' + p.error : ''})`,
    `**Model version:** \\`${t.version}\\` · ${info.kind || 'unknown kind'} · ` +
      `registered ${info.registered_at || '?'}`,
    `**Held-out metrics:** ${figures(info.metrics) || 'none recorded'}`,
    `**Trained on:** data \\`${training.data_sha256 || '?'}\\` · commit \\`${training.git_commit || '?'}\\` · ` +
      `${training.train_rows || '?'} rows · taxonomy ${training.taxonomy_version || '?'}`,
    `**Gate:** ` + (g ? `${g.decision} against \\`${g.champion}\\` by ${g.actor} at ${g.decided_at} ` +
      `(report \\`${g.report_sha256.slice(0, 12)}\\`): ${g.reasons.join('; ')}` : 'none: promoted without a gate'),
    `**Put in service:** ` + (s ? `${s.action} (${s.mode}) by ${s.actor} at ${s.at}` +
      (s.run_url ? ` · [workflow run](${s.run_url})` : '') + (s.note ? ` · ${s.note}` : '') : 'NOT FOUND'),
    `**Batch:** \\`${b.batch_id}\\` from ${b.source} (sha256 \\`${b.source_sha256}\\`) · ` +
      `**corrections:** ${data.corrections.length} · **chain complete:** ${t.complete ? 'yes' : 'NO'}`
  ].join('\\n\\n')
  return { task, version: t.version, complete: t.complete ? 'yes' : 'no', card: `### ${task}\\n\\n` + card }
})""", ("task", "version", "complete", "card")),
    "summary": QueryView(_REFUSED + """return [{ allocated: data.allocated, manual_triage: data.manual_triage,
  manual_triage_share: Math.round(data.manual_triage_share * 100) + '%', corrections: data.corrections,
  moved: data.moved }]""", ("allocated", "manual_triage", "manual_triage_share", "corrections", "moved")),
    # A row per week and task (the week's own figures on its first row; a week of no complaints one row); every row
    # carries the verdict and its reasons, the drift and the emerging issues as markdown, which the screen reads
    # from the first.
    "model_health": QueryView(_REFUSED + _PERCENT_1 + """const num = x => x === null ? '' : x.toFixed(3)
const head = [`**Verdict: ${data.verdict}** over the last ${data.since_days} days, as of ${data.generated_at}`,
  data.reasons.map(r => `- ${r}`).join('\\n')].join('\\n\\n')
const drift = '| task | version | complaints | score PSI | label PSI | status | against |\\n' +
  '|---|---|---|---|---|---|---|\\n' +
  Object.entries(data.drift).map(([task, d]) => `| ${task} | \\`${data.versions[task] || ''}\\` | ${d.complaints} | ` +
    `${num(d.score_psi)} | ${num(d.label_psi)} | **${d.status}** | ${d.reference} |`).join('\\n')
const emerging = data.emerging_issues.length ? '| issue | corrections naming it | served share | in taxonomy |\\n' +
  '|---|---|---|---|\\n' + data.emerging_issues.map(e =>
    `| ${e.issue} | ${e.corrections} | ${pct1(e.served_share)} | ${e.in_taxonomy ? 'yes' : '**no**'} |`).join('\\n')
  : '_No emerging issue: every issue analysts name is one the serving model gives._'
const empty = w => ({ week: w.week, complaints: '0', task: '', head, drift, emerging })
return data.weeks.flatMap(w => !w.complaints ? [empty(w)] : Object.entries(w.tasks).map(([task, t], i) => ({
  week: i ? '' : w.week, complaints: i ? '' : String(w.complaints),
  manual_triage_share: i ? '' : pct1(w.manual_triage_share),
  specialist_share: i ? '' : `${pct1(w.specialist_share)} of ${pct1(w.specialist_capacity)}`,
  task, allocated: String(t.allocated), corrections: String(t.corrections), correction_rate: pct1(t.correction_rate),
  estimated_accuracy: t.ci95 ? `${pct1(t.estimated_accuracy)} (${pct1(t.ci95[0])} to ${pct1(t.ci95[1])})` : '',
  head, drift, emerging })))""", (
        "week", "complaints", "manual_triage_share", "specialist_share", "task", "allocated", "corrections",
        "correction_rate", "estimated_accuracy", "head", "drift", "emerging")),
}
# Rendered HTML needs the user's header, which an iframe cannot send: the explanation screen reads the JSON.
UNUSED_OPERATIONS = {"explanation_html"}


def query_definition(imported: dict[str, Any], operation: str) -> dict[str, Any]:
    """The imported query as the app uses it: named after its operation, with its rows and columns."""
    view = QUERY_VIEWS[operation]
    fields = dict(imported["fields"])
    headers = dict(fields.get("headers") or {})
    if "Idempotency-Key" in headers:  # a fresh key per click, made by the reassign buttons
        headers["Idempotency-Key"] = "{{ idempotency_key }}"
    fields["headers"] = headers
    parameters = [{**p, "name": "idempotency_key"} if p["name"] == "Idempotency-Key" else p
                  for p in imported.get("parameters", [])]
    return {**imported, "name": operation, "fields": fields, "parameters": parameters,
            "transformer": view.transformer, "schema": {f: {"name": f, "type": "string"} for f in view.fields}}


@dataclass(frozen=True)
class Vocabulary:
    """What the deployment's configuration says the app offers: queue ids and the labels of each task."""

    specialist_queue_ids: list[str]
    labels: dict[str, list[str]]

    @classmethod
    def of(cls, tasks: list[TaskSpec], taxonomy: Taxonomy) -> "Vocabulary":
        return cls(specialist_queue_ids=[slug(queue) for queue in specialist_queues(tasks)],
                   labels={task.name: list(task.classes(taxonomy)) for task in tasks if task.classes(taxonomy)})


def _queue_table(place: tuple[str, ...], queue_page: dict[str, Any], queue_id: str) -> dict[str, Any]:
    provider = component_id(*place, "complaints")
    table = node("table", (*place, "complaints table"), dataProvider=provider_ref(provider), rowCount=12,
                 compact=True, noRowsMessage="No complaints in this queue",
                 onClick=[navigate("/complaint/" + bind("eventContext", "row", "complaint_id"))],
                 columns=columns(("complaint_id", "Complaint"), ("age", "Age"), ("issue", "Predicted issue"),
                                 ("issue_score", "Issue score"), ("team", "Team"), ("team_score", "Team score"),
                                 ("vulnerable_score", "Vulnerable score"), ("status", "Decided by"),
                                 ("corrected", "Corrected")))
    return node("dataprovider", (*place, "complaints"), table, paginate=False, limit=QUEUE_ROWS,
                dataSource=query_source(queue_page, queue_id=queue_id, sort="newest", offset="0",
                                        limit=str(QUEUE_ROWS)))


def _screen(route: str, role: str, title: str, *children: dict[str, Any], home: bool = False) -> dict[str, Any]:
    root = node("container", (route, "screen"), node("heading", (route, "title"), text=title, size="M"), *children,
                layout="flex", direction="column", hAlign="stretch", vAlign="top", size="grow", gap="M")
    return {"name": route, "showNavigation": True, "width": "Large", "props": root,
            "routing": {"route": route, "roleId": role, "homeScreen": home}}


def screens(queries: dict[str, dict[str, Any]], vocabulary: Vocabulary, workspace_app_id: str
            ) -> list[dict[str, Any]]:
    q = queries
    me = component_id("/team-queue", "me")
    team_queue = node("dataprovider", ("/team-queue", "me"), _queue_table(
        ("/team-queue",), q["queue_page"], bind(me, "rows", "0", "team_queue_id")), dataSource=query_source(q["me"]),
        paginate=False)
    queues_table = node("table", ("/queues", "queues table"),
                        dataProvider=provider_ref(component_id("/queues", "queues")), rowCount=20, compact=True,
                        columns=columns(("name", "Queue"), ("count", "Complaints now")),
                        onClick=[navigate("/queue/" + bind("eventContext", "row", "id"))])
    built = [
        _screen("/queues", BASIC, "Queues", node("dataprovider", ("/queues", "queues"), queues_table,
                                                  dataSource=query_source(q["list_queues"]), paginate=False),
                home=True),
        _screen("/queue/:queue_id", BASIC, "Queue " + bind("url", "queue_id"),
                _queue_table(("/queue/:queue_id",), q["queue_page"], bind("url", "queue_id"))),
        _screen("/team-queue", ANALYST, "Team queue", team_queue, home=True),
        _screen("/manual-triage", ANALYST, "Manual triage",
                _queue_table(("/manual-triage",), q["queue_page"], slug(MANUAL_TRIAGE))),
        *[_screen(f"/{queue_id}", SPECIALIST, queue_id.replace("-", " ").capitalize(),
                  _queue_table((f"/{queue_id}",), q["queue_page"], queue_id), home=True)
          for queue_id in vocabulary.specialist_queue_ids],
        _complaint_screen(q, vocabulary),
        _explanation_screen(q),
        _audit_screen(q),
        _audit_home(q),
        _model_health(q),
    ]
    return [{**screen, "workspaceAppId": workspace_app_id} for screen in built]


def _complaint_screen(q: dict[str, dict[str, Any]], vocabulary: Vocabulary) -> dict[str, Any]:
    route = "/complaint/:complaint_id"
    rows = component_id(route, "complaint rows")
    complaint_id = bind(rows, "complaint_id")
    explain = [node("button", (route, f"explain {task}"), text=f"Explain {task}", type="secondary", onClick=[
        execute(q["request_explanation"], complaint_id=complaint_id, task=task),
        navigate(f"/complaint/{complaint_id}/explanation/{task}")]) for task in vocabulary.labels]
    fresh_key = js("return 'ops-app-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2)")
    reassign = []
    for task, labels in vocabulary.labels.items():
        form = component_id(route, f"reassign {task} form")
        picker = node("optionsfield", (route, f"reassign {task} label"), field="label", label=f"Correct {task}",
                      placeholder=f"Choose the right {task}", optionsSource="custom", autocomplete=len(labels) > 10,
                      customOptions=[{"label": label, "value": label} for label in labels],
                      validation=[{"constraint": "required", "type": "string", "error": "Choose a label"}])
        submit = node("button", (route, f"reassign {task}"), text=f"Reassign {task}", type="cta", onClick=[
            {"##eventHandlerType": "Validate Form", "parameters": {"componentId": form}},
            execute(q["reassign"], complaint_id=complaint_id, task=task, label=bind(form, "label"),
                    expected_revision=bind(rows, "revision"), idempotency_key=fresh_key),
            notify(f"{task.capitalize()} corrected: the complaint is in " + bind("actions", "1", "result", "data", "0",
                                                                                 "queue")),
            navigate("/queue/" + bind("actions", "1", "result", "data", "0", "queue_id"))])
        reassign.append(node("form", (route, f"reassign {task} form"), picker, submit, actionType="Create",
                             dataSource={"label": "Custom", "name": "Custom"}, size="spectrum--medium"))
    detail = node(
        "repeater", (route, "complaint rows"),
        node("heading", (route, "complaint heading"), text="Complaint " + complaint_id, size="S"),
        node("markdownviewer", (route, "details"), value=bind(rows, "details")),
        node("container", (route, "explain buttons"), *explain, layout="flex", direction="row", gap="S"),
        node("heading", (route, "reassign heading"), text="Reassign", size="XS"),
        node("container", (route, "reassign forms"), *reassign, layout="flex", direction="row", gap="L", wrap=True),
        node("button", (route, "audit"), text="Audit chain", type="secondary", quiet=True,
             onClick=[navigate(f"/audit/{complaint_id}")]),
        node("heading", (route, "narrative heading"), text="Narrative (redacted at intake)", size="XS"),
        node("text", (route, "narrative"), text=bind(rows, "narrative"), size="S"),
        dataProvider=provider_ref(component_id(route, "complaint")), direction="column", gap="M", hAlign="stretch")
    return _screen(route, BASIC, "Complaint", node(
        "dataprovider", (route, "complaint"), detail, paginate=False,
        dataSource=query_source(q["complaint"], complaint_id=bind("url", "complaint_id"))))


def _explanation_screen(q: dict[str, dict[str, Any]]) -> dict[str, Any]:
    route = "/complaint/:complaint_id/explanation/:task"
    provider = component_id(route, "explanation")
    table = node("table", (route, "words"), dataProvider=provider_ref(provider), rowCount=20, compact=True,
                 columns=columns(("direction", "Pushes"), ("word", "Word"), ("value", "SHAP value")),
                 noRowsMessage="No explanation yet")
    return _screen(route, BASIC, "Why the model decided", node(
        "dataprovider", (route, "explanation"),
        node("markdownviewer", (route, "head"), value=bind(provider, "rows", "0", "head")), table, paginate=False,
        dataSource=query_source(q["read_explanation"], complaint_id=bind("url", "complaint_id"),
                                task=bind("url", "task"))),
        node("button", (route, "back"), text="Back to the complaint", type="secondary",
             onClick=[navigate("/complaint/" + bind("url", "complaint_id"))]))


def _audit_screen(q: dict[str, dict[str, Any]]) -> dict[str, Any]:
    route = "/audit/:complaint_id"
    rows = component_id(route, "tasks")
    cards = node("repeater", (route, "tasks"), node("markdownviewer", (route, "task card"), value=bind(rows, "card")),
                 dataProvider=provider_ref(component_id(route, "chain")), direction="column", gap="L",
                 noRowsMessage="No audit chain for this complaint")
    return _screen(route, AUDITOR, "Audit chain of complaint " + bind("url", "complaint_id"), node(
        "dataprovider", (route, "chain"), cards, paginate=False,
        dataSource=query_source(q["audit"], complaint_id=bind("url", "complaint_id"))))


def _audit_home(q: dict[str, dict[str, Any]]) -> dict[str, Any]:
    route = "/audit"
    provider, form = component_id(route, "summary"), component_id(route, "find form")
    figures = [node("cardstat", (route, name), title=title, value=bind(provider, "rows", "0", name), label="last 24 h")
               for name, title in (("allocated", "Triaged"), ("manual_triage_share", "Manual triage share"),
                                   ("corrections", "Corrections"), ("moved", "Moved by corrections"))]
    find = node("form", (route, "find form"),
                node("stringfield", (route, "complaint id"), field="complaint_id", label="Complaint id"),
                node("button", (route, "open chain"), text="Open its audit chain", type="cta",
                     onClick=[navigate("/audit/" + bind(form, "complaint_id"))]),
                actionType="Create", dataSource={"label": "Custom", "name": "Custom"})
    return _screen(route, AUDITOR, "Audit", node(
        "dataprovider", (route, "summary"), node("container", (route, "figures"), *figures, layout="flex",
                                                 direction="row", gap="M"),
        dataSource=query_source(q["summary"], hours="24"), paginate=False), find, home=True)


def _model_health(q: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The serving models' health for the triage lead and the auditor: the verdict and why, each week's live
    accuracy from corrections with its 95% interval, the manual triage and specialist shares, drift, emerging
    issues (``GET /monitoring``)."""
    route = "/model-health"
    provider = component_id(route, "health")
    weeks = node("table", (route, "weeks"), dataProvider=provider_ref(provider), rowCount=15, compact=True,
                 noRowsMessage="No week to show",
                 columns=columns(("week", "Week"), ("complaints", "Complaints"),
                                 ("manual_triage_share", "Manual triage"),
                                 ("specialist_share", "Specialist queue of capacity"), ("task", "Task"),
                                 ("allocated", "Decided by the models"), ("corrections", "Corrected"),
                                 ("correction_rate", "Correction rate"),
                                 ("estimated_accuracy", "Estimated accuracy (95% interval)")))
    first = ("rows", "0")
    return _screen(route, AUDITOR, "Model health", node(
        "dataprovider", (route, "health"),
        node("markdownviewer", (route, "verdict"), value=bind(provider, *first, "head")),
        node("heading", (route, "weeks heading"), text="By week of allocation", size="XS"), weeks,
        node("heading", (route, "drift heading"), text="Drift of each serving version", size="XS"),
        node("markdownviewer", (route, "drift"), value=bind(provider, *first, "drift")),
        node("heading", (route, "emerging heading"), text="Emerging issues", size="XS"),
        node("markdownviewer", (route, "emerging"), value=bind(provider, *first, "emerging")),
        dataSource=query_source(q["model_health"], since_days=HEALTH_DAYS), paginate=False))


def navigation(vocabulary: Vocabulary) -> dict[str, Any]:
    links = [("Queues", "/queues", BASIC), ("Team queue", "/team-queue", ANALYST),
             ("Manual triage", "/manual-triage", ANALYST),
             *[(queue_id.replace("-", " ").capitalize(), f"/{queue_id}", SPECIALIST)
               for queue_id in vocabulary.specialist_queue_ids],
             ("Audit", "/audit", AUDITOR), ("Model health", "/model-health", AUDITOR)]
    return {"navigation": "Top", "title": NAME, "navWidth": "Large", "sticky": True,
            "navBackground": "var(--spectrum-global-color-static-blue-1200)",
            "navTextColor": "var(--spectrum-global-color-static-white)",
            "links": [{"text": text, "url": url, "roleId": role, "type": "link"} for text, url, role in links]}
