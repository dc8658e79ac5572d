"""Ops commands: serve the ops API, manage its users, explain a complaint's allocation."""

from __future__ import annotations

import getpass
from pathlib import Path

from console.common import emit_json, require_extra
from complaints import access
from complaints.deployment import Deployment
from complaints.explanations import explanation
from complaints.records import as_dict
from complaints.config import Settings


def add_commands(command) -> None:
    serve = command("serve", cmd_serve, "Serve the ops API (its OpenAPI document at /openapi.json) on this store; "
                                        "callers authenticate with a token from `complaints users add`.")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    serve.add_argument("--port", type=int, default=8000)

    users = command("users", None, "The ops API's users: who they are and what role they have.")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user and print its API token (shown once; only its hash is kept)")
    add.set_defaults(handler=cmd_users_add)
    add.add_argument("name", help="a-z 0-9 _ -, at most 64 (on AWS: the Cognito username)")
    add.add_argument("--role", required=True, choices=access.ROLES)
    add.add_argument("--team", help="an analyst's team (its queue and manual triage)")
    add.add_argument("--cognito-sub", metavar="SUB", help="on AWS, the Cognito user (its `sub` attribute) this user "
                                                          "is; without it the user is refused there")
    add.add_argument("--replace", action="store_true", help="give an existing user a new token and role; its old "
                                                            "token stops working, and its Cognito user is the one "
                                                            "--cognito-sub names (none without it)")
    listing = actions.add_parser("list", help="list the users and their roles")
    listing.set_defaults(handler=cmd_users_list)
    disable = actions.add_parser("disable", help="refuse every later call of a user, whatever token or identity "
                                                 "provider vouches for it (add --replace enables it again)")
    disable.set_defaults(handler=cmd_users_disable)
    disable.add_argument("name")

    explain = command("explain", cmd_explain, "Explain why a complaint's tasks labelled it as they did: word "
                                              "attributions (SHAP) from the exact model version its allocation "
                                              "records, computed once and kept in the store.")
    explain.add_argument("complaint_id")
    explain.add_argument("--task", action="append", help="a task to explain (repeatable; default every task)")
    explain.add_argument("--html", type=Path, metavar="DIR", help="also write <complaint>-<task>.html there")
    explain.add_argument("--png", type=Path, metavar="DIR", help="also write <complaint>-<task>.png there")
    explain.add_argument("--json", action="store_true", help="print one JSON object")


def _operator() -> str:
    """Who runs a command on this machine: the CLI has no login, so its writes name the OS user."""
    return f"cli:{getpass.getuser()}"


def cmd_serve(args, settings: Settings, deployment: Deployment) -> int:
    require_extra("serve", "api", "fastapi", "uvicorn")
    import uvicorn

    from ops_api.app import create_app

    try:
        import explain
    except ImportError as missing:  # the `explain` extra is not installed: kept explanations are still served
        print(f"complaints serve: explanations will not be computed ({missing}); install the explain extra")
        explain = None
    # No access log: it writes every request's path and query string, and an id or a query can be personal data.
    uvicorn.run(create_app(deployment, explainer=explain), host=args.host, port=args.port, access_log=False)
    return 0


def cmd_users_add(args, settings: Settings, deployment: Deployment) -> int:
    token = access.add_user(deployment.store, deployment.taxonomy, args.name, args.role, args.team, _operator(),
                            args.replace, args.cognito_sub)
    print(f"user {args.name}: {args.role}" + (f" of {args.team}" if args.team else "")
          + (f", Cognito user {args.cognito_sub}" if args.cognito_sub else ", no Cognito user (refused on AWS)"))
    print(f"token (shown once; send it as 'Authorization: Bearer <token>'):\n{token}")
    return 0


def cmd_users_list(args, settings: Settings, deployment: Deployment) -> int:
    for user in deployment.store.list_users():
        state = f"disabled {user.disabled_at}" if user.disabled_at else f"since {user.created_at}"
        print(f"  {user.name:<24} {user.role:<12} {user.team or '':<40} {user.cognito_sub or '-':<36} {state}")
    return 0


def cmd_users_disable(args, settings: Settings, deployment: Deployment) -> int:
    user = access.disable_user(deployment.store, args.name, _operator())
    print(f"user {user.name}: disabled; every later call is refused")
    return 0


def cmd_explain(args, settings: Settings, deployment: Deployment) -> int:
    require_extra("explain", "explain", "shap", "matplotlib")  # shap: its version is in each payload; matplotlib: --png
    import explain

    allocation = deployment.store.get_allocation(args.complaint_id)
    tasks = args.task or (list(allocation.predictions) if allocation else ["team"])
    made = {task: explanation(deployment, args.complaint_id, task, _operator(), explain.explain) for task in tasks}
    for task, (kept, _) in made.items():
        stem = f"{args.complaint_id}-{task}"
        if args.html:
            args.html.mkdir(parents=True, exist_ok=True)
            (args.html / f"{stem}.html").write_text(explain.render_html(kept.payload), encoding="utf-8")
        if args.png:
            args.png.mkdir(parents=True, exist_ok=True)
            explain.render_png(kept.payload, args.png / f"{stem}.png")
    if args.json:
        emit_json({task: {**as_dict(kept), "computed_now": computed} for task, (kept, computed) in made.items()})
        return 0
    for task, (kept, computed) in made.items():
        payload = kept.payload
        print(f"{task}: {payload['label']} ({payload['score']:.2f})  version {kept.version} ({kept.kind}), "
              f"{kept.explainer} {kept.settings}  " + ("computed now" if computed else
                                                       f"kept since {kept.requested_at} ({kept.requested_by})"))
        print("  for:     " + ", ".join(_words(payload["top_for"])))
        print("  against: " + ", ".join(_words(payload["top_against"])))
    return 0


def _words(top: list) -> list[str]:
    """Top words as "word (+0.123)"; the explain payload lists each as [word, attribution]."""
    return [f"{word} ({attribution:+.3f})" for word, attribution in top]
