"""A load run's results: `summary.json` (what a script reads) and `summary.html` (what a person
reads: throughput and latency over time per step, chain inclusion per block, tables)."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import platform
from collections.abc import Sequence
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


def flow_latency(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """All flows together (Locust's `flow` rows, their histograms merged): how many, how many
    failed and which share, and their latency percentiles in ms."""
    merged: dict[str, int] = {}
    flows = failed = 0
    for s in stats:
        if s["method"] != "flow":
            continue
        flows += s["num_requests"]
        failed += s["num_failures"]
        for ms, n in s.get("response_times", {}).items():
            merged[ms] = merged.get(ms, 0) + n
    share = round(failed / flows, 4) if flows else None
    return {"flows": flows, "failed": failed, "failure_share": share, **percentiles(merged)}


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
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """An inline SVG chart; `marks`: (x, label) drawn as dashed vertical lines, a colour per
    label (chaos kills: "kill issuer", ...)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2), dpi=100)
    for label, (xs, ys) in lines.items():
        ax.plot(xs, ys, label=label, linewidth=1.6)
    palette = ("#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e")
    colours = {label: palette[n % len(palette)] for n, label in enumerate(dict.fromkeys(m[1] for m in marks))}
    labelled: set[str] = set()
    for x, label in marks:  # one legend entry per kind of mark
        ax.axvline(
            x, color=colours[label], linestyle="--", linewidth=0.9, label=None if label in labelled else label
        )
        labelled.add(label)
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
    chaos = summary.get("chaos")
    marks = [(k["at"] - t0, f"kill {k['component']}") for k in chaos["kills"]] if chaos and t0 else []
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
table.left td{{text-align:left}} .kpi{{display:inline-block;margin:0 2em 1em 0}} .kpi b{{display:block;font-size:24px}}
.bar{{display:inline-block;height:10px;background:#1565c0;vertical-align:middle}}</style></head><body>
<h1>Load run {html.escape(summary["run"])}</h1>
<p>{html.escape(summary["engine"])} node, {summary["duration_s"]} s, users: {html.escape(summary["users"])}; machine {summary["machine"]["cpus"]} cores.</p>
<div class=kpi><b>{summary["flows_per_s"]}</b>flows/s completed</div>
{_open_model_html(summary.get("open_model"))}
<div class=kpi><b>{chain["included_tx_per_s"]}</b>tx/s included</div>
<div class=kpi><b>{chain["mgas_per_s"]}</b>Mgas/s</div>
<div class=kpi><b class={"ok" if rec.get("ok", True) else "bad"}>{"clean" if rec.get("ok", True) else "VIOLATED"}</b>reconciliation</div>
{_plot("Throughput per step", "requests/s", rate, marks=marks)}
{_plot("Latency per step (p95)", "ms", p95, marks=marks)}
{_plot("Chain inclusion", "transactions", per_block, xlabel="block")}
<h2>Steps</h2><table><tr><th>type</th><th>name</th><th>requests</th><th>failures</th><th>per s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>{rows}</table>
{_thresholds_html(summary.get("thresholds") or [])}
{_costs_html(summary.get("costs"))}
<h2>Errors by class</h2><ul>{errors}</ul>
<h2>Reconciliation</h2><table class=left>{rec_rows}</table>
{_chaos_html(chaos)}
<p>Locust's own report: <a href="locust.html">locust.html</a>; raw numbers: <a href="summary.json">summary.json</a>.</p>
</body></html>"""


def _open_model_html(opened: dict[str, Any] | None) -> str:
    if not opened:
        return ""
    dropped = "bad" if opened["dropped"] else "ok"
    return (
        f"<div class=kpi><b>{opened['offered_flows_per_s']:g}</b>flows/s offered</div>"
        f"<div class=kpi><b>{opened['started_flows_per_s']}</b>flows/s started</div>"
        f"<div class=kpi><b>{opened['completed_flows_per_s']}</b>flows/s completed (of the window)</div>"
        f"<div class=kpi><b class={dropped}>{opened['dropped']}</b>offered, not started</div>"
    )


def _thresholds_html(verdicts: list[dict[str, Any]]) -> str:
    if not verdicts:
        return ""
    rows = "".join(
        f"<tr><td class={'ok' if v['ok'] else 'bad'}>{'pass' if v['ok'] else 'FAIL'}</td>"
        f"<td>{html.escape(v['expression'])}</td><td>{'-' if v['actual'] is None else v['actual']}</td></tr>"
        for v in verdicts
    )
    return (
        f"<h2>Thresholds</h2><table class=left><tr><th></th><th>threshold</th><th>run</th></tr>{rows}</table>"
    )


def _costs_html(costs: dict[str, Any] | None) -> str:
    """What each process cost: a bar per process of its share of a core, CPU per flow, memory."""
    if not costs:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(p['name'])}{' <small>(load generator)</small>' if p['load_generator'] else ''}</td>"
        f"<td>{p['cpu_s']}</td><td>{'-' if p['cpu_ms_per_flow'] is None else p['cpu_ms_per_flow']}</td>"
        f"<td><span class=bar style='width:{min(100, round(p['core_share'] * 100))}px'></span> "
        f"{p['core_share']:.0%}</td><td>{p['peak_core_share']:.0%}</td><td>{p['peak_rss_mib']}</td></tr>"
        for p in costs["processes"]
    )
    return f"""<h2>Where the CPU went</h2>
<div class=kpi><b>{"-" if costs["cpu_ms_per_flow"] is None else costs["cpu_ms_per_flow"]} ms</b>CPU per flow, all processes</div>
<div class=kpi><b>{"-" if costs["system_cpu_ms_per_flow"] is None else costs["system_cpu_ms_per_flow"]} ms</b>in the system under test</div>
<p>Bottleneck: <b>{html.escape(costs["verdict"])}</b></p>
<table><tr><th>process</th><th>CPU s</th><th>ms per flow</th><th>share of a core</th><th>peak</th><th>peak RSS MiB</th></tr>{rows}</table>"""


def _chaos_html(chaos: dict[str, Any] | None) -> str:
    """The chaos run beside the load: faults, each kill with its time to healthy, flows failed,
    the money's verdict. Empty when the run had no chaos."""
    if not chaos:
        return ""
    plan = chaos["plan"]
    faults = [
        f"webhook loss {plan['webhook_loss']:.0%}" if plan["webhook_loss"] else "",
        f"bank 5xx {plan['bank_5xx']:.0%}" if plan["bank_5xx"] else "",
    ]
    every = plan["every_s"]
    money_ok = not chaos["money_violations"] and chaos["reconciliation_ok"] is not False
    rows = "".join(
        f"<tr><td>+{k['offset_s']:.1f} s</td><td>{html.escape(k['component'])}</td>"
        f"<td>{k['old_pid'] or ''} &rarr; {k['new_pid'] or ''}</td>"
        + (
            f"<td class=ok>{k['seconds_to_healthy']:.1f} s</td>"
            if k["error"] is None
            else f"<td class=bad>not back: {html.escape(k['error'])}</td>"
        )
        + (
            f"<td>head #{k['head_before']} &rarr; #{k['head_after']}, {k['blocks_rewound']} rewound</td>"
            if k["component"] == "node" and k["head_after"] is not None
            else "<td></td>"
        )
        + "</tr>"
        for k in chaos["kills"]
    )
    per = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{s['kills']}</td><td>{s['back']}</td>"
        f"<td>{'-' if s['p50_s'] is None else s['p50_s']}</td><td>{'-' if s['max_s'] is None else s['max_s']}</td></tr>"
        for name, s in chaos["per_component"].items()
    )
    return f"""<h2>Chaos</h2>
<p>{html.escape(", ".join(plan["kill"]) or "no component")} killed (SIGKILL) every {every[0]:g}-{every[1]:g} s,
seed {plan["seed"]}{"; " + html.escape(", ".join(f for f in faults if f)) if any(faults) else ""}; each restarted at once.</p>
<div class=kpi><b>{len(chaos["kills"])}</b>kills</div>
<div class=kpi><b>{"-" if chaos["time_to_healthy_p50_s"] is None else chaos["time_to_healthy_p50_s"]} s</b>time to healthy, p50</div>
<div class=kpi><b>{"-" if chaos["time_to_healthy_max_s"] is None else chaos["time_to_healthy_max_s"]} s</b>max</div>
<div class=kpi><b>{chaos["flows_failed"]} / {chaos["flows_total"]}</b>flows failed</div>
<div class=kpi><b class={"ok" if money_ok else "bad"}>{"none" if money_ok else "LOST OR DUPLICATED"}</b>money lost or duplicated</div>
<table><tr><th>component</th><th>kills</th><th>back</th><th>healthy p50 s</th><th>max s</th></tr>{per}</table>
<table class=left><tr><th>when</th><th>component</th><th>pid</th><th>time to healthy</th><th>chain</th></tr>{rows}</table>"""


def sweep_html(result: dict[str, Any]) -> str:
    """The knee sweep's page: completed vs offered flows/s and latency vs load, knee marked."""
    points = result["points"]
    offered = [p["offered_flows_per_s"] for p in points]
    marks = [(result["knee_flows_per_s"], "knee")] if result["knee_flows_per_s"] else []
    achieved = _plot(
        "Completed vs offered",
        "flows/s",
        {
            "completed": (offered, [p["flows_per_s"] for p in points]),
            "offered (ideal)": (offered, offered),
        },
        xlabel="flows/s offered",
        marks=marks,
    )
    latency = _plot(
        "Flow latency vs load",
        "ms",
        {"p50": (offered, [p["p50_ms"] for p in points]), "p95": (offered, [p["p95_ms"] for p in points])},
        xlabel="flows/s offered",
        marks=marks,
    )
    rows = "".join(
        f"<tr><td>{p['offered_flows_per_s']:g}</td><td>{p['started_flows_per_s']}</td><td>{p['flows_per_s']}</td>"
        f"<td>{p['failed']}</td><td>{p['p50_ms']}</td><td>{p['p95_ms']}</td><td>{p['cpu_ms_per_flow']}</td>"
        f"<td style='text-align:left'>{html.escape(p['bottleneck'])}</td></tr>"
        for p in points
    )
    knee_text = "none" if result["knee_flows_per_s"] is None else f"{result['knee_flows_per_s']:g} flows/s"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Knee sweep</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}}
table{{border-collapse:collapse}} td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}</style></head><body>
<h1>Knee sweep</h1><p>Sustained: <b>{knee_text}</b> ({html.escape(result["knee_reason"])}).</p>
{achieved}{latency}
<table><tr><th>offered/s</th><th>started/s</th><th>completed/s</th><th>failed</th><th>p50 ms</th><th>p95 ms</th>
<th>CPU ms/flow</th><th>bottleneck</th></tr>{rows}</table>
<p>Each rate's own report: <code>rate-&lt;n&gt;/summary.html</code>.</p></body></html>"""


def write(run_dir: Path, summary: dict[str, Any]) -> None:
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run_dir / "summary.html").write_text(render_html(summary, history(run_dir / "locust_stats_history.csv")))
