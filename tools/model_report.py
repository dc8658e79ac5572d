"""The model report, docs/model-report.md, built from the JSON results the benchmarks and analyses write under
reports/, so that no measured figure in the docs is copied by hand.

Each section reads one file and names the command that writes it; a section whose file is absent says so. The
figures recorded by earlier runs, before this report existed, stay in docs/recorded-results.md.

    python -m tools.model_report [--reports reports] [--output docs/model-report.md]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tools import ablation, promise_gap, vulnerable_signal

RECORDED = "recorded-results.md"  # beside the report in docs/


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} ms"


def _verdict(passed: bool) -> str:
    return "met" if passed else "missed"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def evaluation(result: dict) -> list[str]:
    """`complaints evaluate --json`: each task's raw target, then the system the models make with the triage team."""
    excluded = ", ".join(f"{count:,} {reason.replace('_', ' ')}" for reason, count in result["excluded"].items())
    lines = [f"{result['n']:,} held-out complaints (left out: {excluded}); model versions: "
             + ", ".join(f"`{task}={version}`" for task, version in result["model_versions"].items()) + ".", "",
             "| task | metric | measured | 95% CI | target | |", "| --- | --- | --- | --- | --- | --- |"]
    for task, target in result["targets"].items():
        low, high = result["tasks"][task]["ci95"]
        lines.append(_row(task, target["metric"], f"{target['value']:.3f}", f"{low:.3f}–{high:.3f}",
                          f"≥ {target['target']:.2f} (±{target['tolerance']:.2f})", _verdict(target["pass"])))
    system = result["system"]
    criteria = list(system["criteria"])
    lines += ["", f"The system (the models, and the triage team on what they leave to people; deferral per "
                  f"{system['deferral']}): automation **{_pct(system['automation_rate'])}**, manual triage "
                  f"{_pct(system['manual_triage_share'])}, time cut **{_pct(system['time_cut'])}**, cost cut "
                  f"**{_pct(system['cost_cut'])}**.", "",
              "| task | system figure | lower bound | team | " + " | ".join(criteria) + " |",
              "| --- | --- | --- | --- | " + " | ".join("---" for _ in criteria) + " |"]
    for task, values in system["tasks"].items():
        if "recall" in values:
            figure = (f"recall {values['recall']:.3f}; specialist queue {_pct(values['specialist_share'])} of volume "
                      f"(capacity {_pct(values['capacity'])})")
        else:
            figure = (f"accuracy {values['accuracy']:.3f} (the models {values['allocated_accuracy']:.3f} on what "
                      f"they decide)")
        lines.append(_row(task, figure, f"{values['lower_bound']:.3f}", f"{values['target']:.2f}",
                          *(_verdict(values["criteria"][c]) for c in criteria)))
    cost = system["cost_per_complaint"]
    lines += ["", f"Cost per complaint: ${cost['system']:.4f} against ${cost['manual_path']:.4f} all manual."]
    return lines


def serving(result: dict) -> list[str]:
    """`make bench`: the champions, and the transformer path against naive torch pipelines when it was measured."""
    lines = [f"{result['complaints']} narratives, one complaint at a time through every task.", "",
             "| models | p50 | p95 | throughput | cold start |", "| --- | --- | --- | --- | --- |"]
    measured = [result] + ([result["transformer"]] if result.get("transformer") else [])
    for figures in measured:
        models = ", ".join(f"`{task}={model}`" for task, model in figures["models"].items())
        lines.append(_row(models, _ms(figures["p50_ms"]), _ms(figures["p95_ms"]),
                          f"{figures['throughput_per_s']} complaints/s", f"{figures['cold_start_s']:.2f} s"))
    naive = result.get("transformer") or {}
    if "naive_p50_ms" in naive:
        lines.append(_row("naive transformers pipelines", _ms(naive["naive_p50_ms"]), _ms(naive.get("naive_p95_ms")),
                          "", f"{naive['naive_cold_start_s']:.2f} s"))
        lines += ["", f"The transformer path is {naive['speedup_p50']}× faster than naive at p50."]
    return lines


def explanation_speed(result: dict) -> list[str]:
    """`make bench-explain`: seconds per explanation of each model kind, warm and cold, against its target."""
    lines = [f"{result['narratives']} narratives per task ({result['words_mean']} words on average), {result['cpus']} "
             f"CPUs, load average {result['load_average_1m_after']} after the run.", "",
             "| kind | warm p50 / max | cold: new process → first explanation | target (warm max) |",
             "| --- | --- | --- | --- |"]
    for kind, figures in result["kinds"].items():
        if figures is None:
            lines.append(f"| `{kind}` | no version of this kind registered | | |")
            continue
        cold = f"{figures['cold']['wall_s']:.2f} s"
        if "cold_numba_disabled" in figures:
            cold += f"; {figures['cold_numba_disabled']['wall_s']:.2f} s with `NUMBA_DISABLE_JIT=1`"
        lines.append(_row(f"`{kind}`", f"{figures['warm']['p50_s']:.3f} s / {figures['warm']['max_s']:.3f} s", cold,
                          f"≤ {figures['target_s']} s: {_verdict(figures['target_met'])}"))
    return lines


def api_speed(result: dict) -> list[str]:
    """`make bench-api`: the ops API on a copy of make run's store, one request at a time."""
    lines = [f"{result['complaints']:,} complaints; the largest queue, {result['largest_queue']}, holds "
             f"{result['largest_queue_size']:,}; {result['cpus']} CPUs.", "",
             "| request | requests | p50 | p95 | max |", "| --- | ---: | ---: | ---: | ---: |"]
    for name in ("queue_counts", "queue_page", "complaint_detail"):
        figures = result[name]
        lines.append(_row(name.replace("_", " "), figures["requests"], _ms(figures["p50_ms"]), _ms(figures["p95_ms"]),
                          _ms(figures["max_ms"])))
    return lines


def load(result: dict) -> list[str]:
    """`make bench-load`: a day at peak through the embedded pipeline and the moto state machine; nothing lost."""
    sizes = [str(size) for size in result["sizes"]]
    paths = [path for path in ("embedded", "moto") if path in result]
    lines = [_row("", *(f"{int(size):,}" for size in sizes)), _row(*["---"] * (len(sizes) + 1))]
    for path in paths:
        runs = [result[path][size] for size in sizes]
        lines += [_row(f"{path}: complaints/s", *(run["complaints_per_s"] for run in runs)),
                  _row(f"{path}: peak RSS", *(f"{run['peak_rss_mb']:.0f} MB" for run in runs)),
                  _row(f"{path}: lost", *(run["lost"] for run in runs))]
    intake = [result["intake"][size] for size in sizes]
    lines.append(_row("intake alone, streamed / whole file: peak RSS",
                      *(f"{i['streamed']['peak_rss_mb']:.0f} / {i['whole']['peak_rss_mb']:.0f} MB" for i in intake)))
    lines += ["", f"Lost in all: {result['lost']}; {result['wall_seconds']:.0f} s in all."]
    return lines


def cost(result: dict) -> list[str]:
    """`python -m tools.cost --json`: AWS per month and per 1,000 complaints against the triage team."""
    lines = ["| case | AWS per month | AWS per 1,000 complaints |", "| --- | ---: | ---: |"]
    for case, figures in result["systems"].items():
        lines.append(_row(case, f"${figures['month']:,.2f}", f"${figures['per_1000']:,.2f}"))
    lines += ["", "| triage team, complaints a day | per month | per 1,000 complaints |", "| --- | ---: | ---: |"]
    for per_day, figures in result["team"].items():
        lines.append(_row(f"{int(per_day):,}", f"${figures['month_low']:,.0f}–${figures['month_high']:,.0f}",
                          f"${figures['per_1000']:,.2f}"))
    lines += ["", f"≥ 50% cheaper and ≥ 50% faster than the team: **{_verdict(result['requirement_met'])}** (cheaper "
                  f"by {_pct(result['cheaper_by'])}, faster by {_pct(result['faster_by'])}). Assumptions and prices: "
                  f"`infra/COST.md`."]
    return lines


def ablation_table(results: list[dict]) -> list[str]:
    return ablation.table(results).splitlines()


def promise_gap_tables(result: dict) -> list[str]:
    return promise_gap.table(result).splitlines()


def vulnerable_signal_tables(result: dict) -> list[str]:
    return vulnerable_signal.markdown(result).splitlines()[2:]  # its own title and the blank line after it


@dataclass(frozen=True)
class Section:
    title: str
    file: str  # under the reports folder
    writer: str  # the command that writes it
    render: Callable[[dict | list], list[str]]
    recorded: str  # where the figures of earlier runs are, relative to docs/


SECTIONS = [
    Section("Held-out results of the champions", "evaluation.json",
            "`mkdir -p reports && complaints evaluate --json > reports/evaluation.json`", evaluation,
            f"{RECORDED}#held-out-results-of-the-champions"),
    Section("Ablation", "ablation.json", "`make ablation`", ablation_table, f"{RECORDED}#ablation"),
    Section("The promise over rotated held-out splits", "promise-gap.json", "`make promise-gap`", promise_gap_tables,
            f"{RECORDED}#the-promise-over-rotated-held-out-splits"),
    Section("The vulnerable-customer signal", "vulnerable-signal.json", "`make vulnerable-signal`",
            vulnerable_signal_tables, f"{RECORDED}#the-vulnerable-customer-signal"),
    Section("Serving speed", "bench.json", "`make bench`", serving, f"{RECORDED}#serving-speed"),
    Section("Explanation speed", "bench-explain.json", "`make bench-explain` (or `make bench`)", explanation_speed,
            f"{RECORDED}#explanation-speed"),
    Section("Ops API speed", "bench-api.json", "`make bench-api` (or `make bench`)", api_speed,
            f"{RECORDED}#ops-api-speed"),
    Section("Load", "bench-load.json", "`make bench-load`", load, f"{RECORDED}#load"),
    Section("Cost", "cost.json", "`mkdir -p reports && .venv/bin/python -m tools.cost --json > reports/cost.json`",
            cost, "../infra/COST.md"),
]


def section(spec: Section, reports: Path) -> list[str]:
    path = reports / spec.file
    lines = [f"## {spec.title}", ""]
    if not path.is_file():
        return lines + [f"Not measured here: `reports/{spec.file}` is absent. {spec.writer} writes it. The figures "
                        f"recorded by earlier runs: [{spec.recorded}]({spec.recorded}).", ""]
    written = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += [f"From `reports/{spec.file}`, written {written} by {spec.writer}.", ""]
    return lines + spec.render(json.loads(path.read_text(encoding="utf-8"))) + [""]


def report(reports: Path) -> str:
    lines = ["# Model report", "",
             "Generated by `make model-report` (`tools/model_report.py`) from the JSON results under `reports/`, "
             "which is git-ignored: run the command a section names, then `make model-report` again. Do not edit "
             f"this file by hand. The figures recorded by earlier runs, with their context: [{RECORDED}]({RECORDED}).",
             ""]
    for spec in SECTIONS:
        lines += section(spec, reports)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.model_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="where the JSON results are")
    parser.add_argument("--output", type=Path, default=Path("docs/model-report.md"))
    args = parser.parse_args(argv)
    args.output.write_text(report(args.reports), encoding="utf-8")
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
