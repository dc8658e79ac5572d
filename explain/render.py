"""An explanation for people: a self-contained HTML page (the narrative's words coloured by their values) and a
PNG bar chart of the top words for and against, for reports.

Every string of the payload is escaped: narratives are redacted before they are stored, but they are still
text a customer wrote.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

FOR, AGAINST = (220, 38, 38), (37, 99, 235)  # red pushes towards the explained class, blue away from it
_CORE = {"kind", "explainer", "settings", "label", "score", "explained_class", "base_value", "tokens", "top_for",
         "top_against", "shap_version"}

_STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.6;color:#111}
.narrative{padding:1rem;border:1px solid #ddd;border-radius:6px;white-space:pre-wrap}
.narrative span{border-radius:3px}table{border-collapse:collapse;margin-right:2rem;vertical-align:top;
display:inline-table}td,th{padding:.15rem .6rem;text-align:left;border-bottom:1px solid #eee}
.num{text-align:right;font-variant-numeric:tabular-nums}dl{display:grid;grid-template-columns:max-content auto;
gap:.1rem 1rem;font-size:.9rem;color:#444}dd{margin:0}"""


def _colour(value: float, scale: float) -> str:
    red, green, blue = FOR if value > 0 else AGAINST
    return f"rgba({red},{green},{blue},{min(abs(value) / scale, 1.0) * 0.8:.3f})"


def _table(title: str, rows: list) -> str:
    body = "".join(f'<tr><td>{escape(word)}</td><td class="num">{value:+.4f}</td></tr>' for word, value in rows)
    return (f"<table><tr><th colspan=2>{escape(title)}</th></tr>"
            f"{body or '<tr><td colspan=2>none</td></tr>'}</table>")


def render_html(payload: dict) -> str:
    """One HTML page, no external resources: label, the narrative coloured word by word, top words, settings."""
    scale = max((abs(t["attribution"]) for t in payload["tokens"]), default=0.0) or 1.0
    narrative = "".join(
        f'<span style="background:{_colour(t["attribution"], scale)}" title="{t["attribution"]:+.4f}">'
        f'{escape(t["text"])}</span>{escape(t["gap"])}' for t in payload["tokens"])
    details = {**{k: v for k, v in payload.items() if k not in _CORE and isinstance(v, str | int | float)},
               "kind": payload["kind"], "explainer": payload["explainer"], "base value": payload["base_value"],
               **payload["settings"], "shap": payload["shap_version"]}
    rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(str(v))}</dd>" for k, v in details.items())
    explained = escape(str(payload["explained_class"]))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Why {escape(str(payload['label']))}</title><style>{_STYLE}</style></head><body>"
            f"<h1>Predicted: {escape(str(payload['label']))} ({payload['score']:.3f})</h1>"
            f"<p>Each word's value for <strong>{explained}</strong>: "
            f'<span style="background:{_colour(1, 1)}">towards</span> or '
            f'<span style="background:{_colour(-1, 1)}">against</span>, '
            f"starting from the base value {payload['base_value']:+.4f}.</p>"
            f'<p class="narrative">{narrative}</p>'
            f"{_table(f'Top words for {explained}', payload['top_for'])}"
            f"{_table(f'Top words against {explained}', payload['top_against'])}"
            f"<h2>How it was computed</h2><dl>{rows}</dl></body></html>")


def _plain(text: str) -> str:
    """matplotlib reads text between dollar signs as mathematics."""
    return text.replace("$", r"\$")


def render_png(payload: dict, path: Path) -> None:
    """A horizontal bar chart of the top words for (red) and against (blue) the explained class."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as missing:
        raise ModuleNotFoundError("the PNG explanation needs matplotlib: pip install -e '.[explain]'") from missing
    bars = payload["top_against"][::-1] + payload["top_for"][::-1]  # strongest against at the bottom
    figure = Figure(figsize=(7, 1.2 + 0.3 * max(len(bars), 1)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.barh(range(len(bars)), [value for _, value in bars],
              color=[tuple(c / 255 for c in (FOR if value > 0 else AGAINST)) for _, value in bars])
    axes.set_yticks(range(len(bars)), [_plain(word) for word, _ in bars])
    axes.axvline(0, color="#444", linewidth=0.8)
    axes.set_xlabel(_plain(f"value for {payload['explained_class']} ({payload['settings'].get('output', '')})"))
    axes.set_title(_plain(f"{payload['label']} ({payload['score']:.2f}): top words for and against"), fontsize=10)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
