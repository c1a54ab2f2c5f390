"""A load run's results: `summary.json` (what a script reads) and `summary.html` (what a person
reads: throughput and latency over time per step, chain inclusion per block, tables)."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any


def percentiles(response_times: dict[str, int], points: tuple[int, ...] = (50, 95, 99)) -> dict[str, int]:
    """Locust's response-time histogram ({ms: count}) -> {"p50": ms, ...}."""
    ordered = sorted((float(ms), n) for ms, n in response_times.items())
    total = sum(n for _, n in ordered)
    out: dict[str, int] = {}
    for p in points:
        if total == 0:
            out[f"p{p}"] = 0
            continue
        rank, seen = total * p / 100, 0
        for ms, n in ordered:
            seen += n
            if seen >= rank:
                out[f"p{p}"] = int(ms)
                break
    return out


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    out = {}
    for dist in ("bsc-stablecoin-devnet", "locust", "web3"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def steps_table(stats: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    rows = []
    for s in stats:
        rows.append(
            {
                "type": s["method"],
                "name": s["name"],
                "requests": s["num_requests"],
                "failures": s["num_failures"],
                "per_s": round(s["num_requests"] / seconds, 2) if seconds else 0.0,
                **percentiles(s.get("response_times", {})),
            }
        )
    return sorted(rows, key=lambda r: (r["type"] != "flow", r["name"]))


def errors_by_class(failures_csv: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    if not failures_csv.is_file():
        return out
    with open(failures_csv) as f:
        for row in csv.DictReader(f):
            error = row.get("Error", "")
            cls = error.split("(", 1)[0].split(":", 1)[0].strip() or "unknown"
            out[cls] = out.get(cls, 0) + int(row.get("Occurrences", 0))
    return out


def history(history_csv: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """name -> [(unix time, requests/s, p50 ms, p95 ms)] from Locust's full-history CSV."""
    series: dict[str, list[tuple[float, float, float, float]]] = {}
    if not history_csv.is_file():
        return series
    with open(history_csv) as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            if name == "Aggregated":
                continue
            point = tuple(_num(row, key) for key in ("Timestamp", "Requests/s", "50%", "95%"))
            series.setdefault(name, []).append(point)  # type: ignore[arg-type]
    return series


def _num(row: dict[str, str], key: str) -> float:
    value = row.get(key, "")
    return float(value) if value not in ("", "N/A") else 0.0


def _plot(
    title: str,
    ylabel: str,
    lines: dict[str, tuple[list[float], list[float]]],
    xlabel: str = "seconds into the run",
) -> str:
    """An inline SVG chart."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=100)
    for label, (xs, ys) in lines.items():
        ax.plot(xs, ys, label=label, linewidth=1.6)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(fontsize=8, loc="upper left", ncol=3, frameon=False)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def render_html(summary: dict[str, Any], series: dict[str, list[tuple[float, float, float, float]]]) -> str:
    t0 = min((p[0] for pts in series.values() for p in pts), default=0.0)
    rate = {n: ([p[0] - t0 for p in pts], [p[1] for p in pts]) for n, pts in series.items()}
    p95 = {n: ([p[0] - t0 for p in pts], [p[3] for p in pts]) for n, pts in series.items()}
    blocks = summary["chain"]["blocks"]
    # By block number: in on-demand mode geth's block timestamps step a second per block.
    per_block = {"included tx per block": ([b["number"] for b in blocks], [b["txs"] for b in blocks])}
    rows = "".join(
        f"<tr><td>{html.escape(r['type'])}</td><td>{html.escape(r['name'])}</td><td>{r['requests']}</td>"
        f"<td class={'bad' if r['failures'] else 'ok'}>{r['failures']}</td><td>{r['per_s']}</td>"
        f"<td>{r['p50']}</td><td>{r['p95']}</td><td>{r['p99']}</td></tr>"
        for r in summary["steps"]
    )
    chain = summary["chain"]
    rec = summary.get("reconciliation") or {}
    rec_rows = "".join(
        f"<tr><td class={'ok' if c['ok'] else 'bad'}>{'ok' if c['ok'] else 'FAIL'}</td><td>{html.escape(c['name'])}</td>"
        f"<td>{html.escape(c['detail'])}</td></tr>"
        for c in rec.get("checks", [])
    )
    errors = (
        "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in summary["errors_by_class"].items())
        or "<li>none</li>"
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Load run {html.escape(summary["run"])}</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}}
h1{{font-size:22px}} table{{border-collapse:collapse;margin:1em 0}} td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}
td:nth-child(-n+2),th:nth-child(-n+2){{text-align:left}} .ok{{color:#1a7f37}} .bad{{color:#c62828;font-weight:600}}
table.left td{{text-align:left}} .kpi{{display:inline-block;margin:0 2em 1em 0}} .kpi b{{display:block;font-size:24px}}</style></head><body>
<h1>Load run {html.escape(summary["run"])}</h1>
<p>{html.escape(summary["engine"])} node, {summary["duration_s"]} s, users: {html.escape(summary["users"])}; machine {summary["machine"]["cpus"]} cores.</p>
<div class=kpi><b>{summary["flows_per_s"]}</b>flows/s completed</div>
<div class=kpi><b>{chain["included_tx_per_s"]}</b>tx/s included</div>
<div class=kpi><b>{chain["mgas_per_s"]}</b>Mgas/s</div>
<div class=kpi><b class={"ok" if rec.get("ok", True) else "bad"}>{"clean" if rec.get("ok", True) else "VIOLATED"}</b>reconciliation</div>
{_plot("Throughput per step", "requests/s", rate)}
{_plot("Latency per step (p95)", "ms", p95)}
{_plot("Chain inclusion", "transactions", per_block, xlabel="block")}
<h2>Steps</h2><table><tr><th>type</th><th>name</th><th>requests</th><th>failures</th><th>per s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>{rows}</table>
<h2>Errors by class</h2><ul>{errors}</ul>
<h2>Reconciliation</h2><table class=left>{rec_rows}</table>
<p>Locust's own report: <a href="locust.html">locust.html</a>; raw numbers: <a href="summary.json">summary.json</a>.</p>
</body></html>"""


def write(run_dir: Path, summary: dict[str, Any]) -> None:
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run_dir / "summary.html").write_text(render_html(summary, history(run_dir / "locust_stats_history.csv")))
