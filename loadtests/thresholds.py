"""Pass/fail criteria for a load run, in the spirit of k6's thresholds.

One threshold is `<metric><op><value>`, e.g. `flow.p95<5000`, `failures<1%`,
`flows_per_s>40`, `cpu_ms_per_flow<=25`, `"mint included.p50<1500"`. The metrics:

- `flows_per_s`: completed flows per second;
- `failures`: the share of flows that failed (`1%` or `0.01`);
- `dropped`: with `--rate`, the share of offered flows not started (`5%`);
- `flow.p50`, `flow.p95`, `flow.p99`: latency of all flows together, ms;
- `<step>.p50|p95|p99`: latency of one step as the summary names it (`mint included`), ms;
- `tx_per_s`, `mgas_per_s`: what the chain included;
- `cpu_ms_per_flow`, `system_cpu_ms_per_flow`: CPU per flow, all processes / without the
  load generator.

`devnet load` exits with 99 when a threshold fails, as k6 does.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

#: The exit code of a run whose thresholds failed (k6's).
THRESHOLDS_FAILED = 99

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(
    r"^\s*(?P<metric>[^<>=]+?)\s*(?P<op><=|>=|==|<|>)\s*(?P<value>-?[0-9.]+)\s*(?P<pct>%)?\s*$"
)
_PERCENTILE = re.compile(r"^(?P<step>.+)\.(?P<p>p50|p95|p99)$")
_PLAIN = (
    *("flows_per_s", "failures", "dropped", "tx_per_s", "mgas_per_s"),
    *("cpu_ms_per_flow", "system_cpu_ms_per_flow"),
)


class ThresholdError(ValueError):
    """A threshold that cannot be read, or names no metric."""


class Threshold(BaseModel):
    expression: str
    metric: str
    op: str
    value: float


class Verdict(BaseModel):
    expression: str
    #: The run's value of the metric (None: the run has no such value, which fails).
    actual: float | None
    ok: bool


def parse(expression: str) -> Threshold:
    match = _EXPR.match(expression)
    if match is None:
        raise ThresholdError(
            f"bad threshold {expression!r}: write <metric><op><value>, e.g. flow.p95<5000, "
            "failures<1%, flows_per_s>40 (op: < <= > >= ==)"
        )
    metric = match["metric"].strip().strip("\"'")
    try:
        value = float(match["value"])
    except ValueError as e:
        raise ThresholdError(f"bad threshold {expression!r}: {match['value']!r} is no number") from e
    if match["pct"]:
        if metric not in ("failures", "dropped"):
            raise ThresholdError(
                f"bad threshold {expression!r}: only `failures` and `dropped` take a percentage"
            )
        value /= 100
    if metric not in _PLAIN and _PERCENTILE.match(metric) is None:
        raise ThresholdError(
            f"bad threshold {expression!r}: unknown metric {metric!r}; use one of "
            f"{', '.join(_PLAIN)}, flow.p95 or <step>.p50|p95|p99"
        )
    return Threshold(expression=expression.strip(), metric=metric, op=match["op"], value=value)


def parse_all(expressions: list[str]) -> list[Threshold]:
    return [parse(e) for e in expressions]


def metric_value(summary: dict[str, Any], metric: str) -> float | None:
    """The value of `metric` in a load run's summary (None if the run has none)."""
    costs = summary.get("costs") or {}
    opened = summary.get("open_model") or {}
    plain: dict[str, Any] = {
        "dropped": opened["dropped"] / opened["offered"] if opened.get("offered") else None,
        "flows_per_s": summary.get("flows_per_s"),
        "failures": (summary.get("flow_latency_ms") or {}).get("failure_share"),
        "tx_per_s": summary["chain"]["included_tx_per_s"],
        "mgas_per_s": summary["chain"]["mgas_per_s"],
        "cpu_ms_per_flow": costs.get("cpu_ms_per_flow"),
        "system_cpu_ms_per_flow": costs.get("system_cpu_ms_per_flow"),
    }
    if metric in plain:
        value = plain[metric]
        return None if value is None else float(value)
    match = _PERCENTILE.match(metric)
    if match is None:
        return None
    if match["step"] == "flow":
        flows = summary.get("flow_latency_ms") or {}
        return None if flows.get("flows", 0) == 0 else float(flows[match["p"]])
    rows = [r for r in summary["steps"] if r["name"] == match["step"] and r["requests"]]
    return max((float(r[match["p"]]) for r in rows), default=None)


def evaluate(thresholds: list[Threshold], summary: dict[str, Any]) -> list[Verdict]:
    verdicts = []
    for t in thresholds:
        actual = metric_value(summary, t.metric)
        ok = actual is not None and _OPS[t.op](actual, t.value)
        verdicts.append(Verdict(expression=t.expression, actual=actual, ok=ok))
    return verdicts
