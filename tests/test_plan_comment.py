"""`make plan-comment`: a Terraform plan as a pull request comment GitHub accepts, whatever the plan's size."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from testing import CHECKOUT

_spec = importlib.util.spec_from_file_location("plan_comment", CHECKOUT / "infra" / "plan_comment.py")
plan_comment = sys.modules["plan_comment"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plan_comment)

RUN_URL = "https://github.com/megabank/complaints-triage/actions/runs/123456789"
GREEN, BOLD, RESET = "\x1b[32m", "\x1b[1m", "\x1b[0m"


def resource(number: int) -> str:
    """One planned resource as `terraform show` prints it, with the colours it prints without -no-color."""
    return f"""  # module.store.aws_dynamodb_table.this["table_{number}"] will be created
  {GREEN}+{RESET} resource "aws_dynamodb_table" "this" {{
      {GREEN}+{RESET} arn          = (known after apply)
      {GREEN}+{RESET} billing_mode = "PAY_PER_REQUEST"
      {GREEN}+{RESET} name         = "complaints-prod-table_{number}"
      {GREEN}+{RESET} tags_all     = {{
          {GREEN}+{RESET} "complaints:environment" = "prod"
          {GREEN}+{RESET} "complaints:git-sha"     = "{number:040x}"
        }}
    }}
"""


def plan(resources: int, summary: str) -> str:
    header = ("Terraform used the selected providers to generate the following execution plan. Resource\n"
              "actions are indicated with the following symbols:\n  + create\n  ~ update in-place\n  - destroy\n\n"
              "Terraform will perform the following actions:\n\n")
    changed = ('  # module.functions.aws_lambda_function.this["triage"] will be updated in-place\n'
               '  ~ resource "aws_lambda_function" "this" {\n      ~ image_uri = "old" -> "new"\n    }\n\n'
               '  # module.alarms.aws_sns_topic_subscription.email["a@example.com"] will be destroyed\n'
               '  - resource "aws_sns_topic_subscription" "email" {\n      - endpoint = "a@example.com" -> null\n    }\n\n')
    return header + changed + "\n".join(resource(n) for n in range(resources)) + f"\n{BOLD}{summary}{RESET}\n"


def code_block(text: str) -> list[str]:
    """The lines inside the comment's one diff block; its fence must open and close it."""
    match = re.search(r"^(`{3,})diff\n(.*?)\n\1$", text, re.MULTILINE | re.DOTALL)
    assert match, text[:500]
    return match.group(2).split("\n")


def test_a_huge_plan_is_cut_under_githubs_limit_with_its_summary_and_a_pointer_to_the_run():
    summary = "Plan: 5000 to add, 1 to change, 1 to destroy."
    text = plan_comment.comment("prod", plan(5000, summary), RUN_URL)
    full = plan_comment.as_diff(plan_comment.strip_ansi(plan(5000, summary)).strip("\n")).split("\n")

    assert len(full) > 50_000 and len(text) <= plan_comment.LIMIT < plan_comment.GITHUB_LIMIT
    assert len(text) > plan_comment.LIMIT - 500  # cut to fit, not cut short
    assert "### Terraform plan: `prod`" in text and f"**{summary}**" in text
    assert "This plan destroys 1 resource(s)" in text
    shown = code_block(text)
    assert shown == full[:len(shown)] and len(shown) < len(full)  # whole lines, from the top
    note = f"**truncated: {len(shown):,} of {len(full):,} lines shown. The full plan is in the run's artifacts/log: {RUN_URL}**"
    assert text.rstrip("\n").endswith(note)
    assert "\x1b" not in text


def test_a_small_plan_is_kept_whole_with_its_markers_where_diff_colours_them():
    summary = "Plan: 3 to add, 1 to change, 1 to destroy."
    raw = plan(3, summary)
    text = plan_comment.comment("dev", raw, RUN_URL)

    shown = code_block(text)
    assert shown == plan_comment.as_diff(plan_comment.strip_ansi(raw).strip("\n")).split("\n")
    assert "truncated" not in text and RUN_URL not in text and "\x1b" not in text
    assert text.startswith("<!-- complaints-plan:dev -->\n### Terraform plan: `dev`") and f"**{summary}**" in text
    assert '+   resource "aws_dynamodb_table" "this" {' in shown
    assert '!   resource "aws_lambda_function" "this" {' in shown and '!       image_uri = "old" -> "new"' in shown
    assert '-   resource "aws_sns_topic_subscription" "email" {' in shown
    assert "  + create" not in shown and "+   create" in shown  # the legend too: it is plan text


def test_no_changes_is_the_summary_and_nothing_is_destroyed():
    text = plan_comment.comment("prod", "\nNo changes. Your infrastructure matches the configuration.\n\n"
                                        "Terraform has compared your real infrastructure against your configuration\n")
    assert "**No changes. Your infrastructure matches the configuration.**" in text
    assert "destroys" not in text and "truncated" not in text


def test_a_plan_holding_a_code_fence_cannot_close_the_block_early():
    raw = 'Plan: 1 to add, 0 to change, 0 to destroy.\n  + description = "```"\n  + other = "````x"\n'
    text = plan_comment.comment("prod", raw)
    assert "`````diff" in text and code_block(text)[-1] == '+   other = "````x"'


def test_the_command_writes_build_plan_env_md_and_finds_the_run(tmp_path, monkeypatch, capsys):
    path = tmp_path / "plan.txt"
    path.write_text(plan(8000, "Plan: 8000 to add, 0 to change, 0 to destroy."), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUN_URL", raising=False)
    for name, value in {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "megabank/complaints-triage",
                        "GITHUB_RUN_ID": "123456789"}.items():
        monkeypatch.setenv(name, value)

    assert plan_comment.main(["--env", "prod", "--plan", str(path)]) == 0
    text = (tmp_path / "build" / "plan" / "prod.md").read_text(encoding="utf-8")
    assert len(text) <= 60_000 and text.rstrip().endswith(f"{RUN_URL}**")
    assert "Plan: 8000 to add" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        plan_comment.main(["--env", "prod", "--plan", str(tmp_path / "missing.txt")])
