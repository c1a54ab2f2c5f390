"""Listing conformance: run the exchange's listing review for a token and report it as a
table, JSON and a standalone HTML page."""

from __future__ import annotations

import html

from devnet.services.exchange.api import ReviewOut
from harness.connect import Devnet


def resolve(devnet: Devnet, token: str) -> str:
    """A symbol of the devnet (KGST, USDKG) or a 0x address."""
    if token.startswith("0x"):
        return token
    try:
        return devnet.env.deployment.token(token.upper()).address
    except KeyError as e:
        raise ValueError(
            f"{token!r}: not a token of this devnet ({', '.join(devnet.env.deployment.tokens)}) nor an address"
        ) from e


def review(devnet: Devnet, token: str) -> ReviewOut:
    return devnet.exchange.review(resolve(devnet, token))


def render_html(result: ReviewOut, label: str) -> str:
    rows = "".join(
        f"<tr><td class={'ok' if c.passed else 'bad'}>{'pass' if c.passed else 'FAIL'}</td>"
        f"<td>{html.escape(c.name)}{'' if c.required else ' <i>(advisory)</i>'}</td>"
        f"<td>{html.escape(c.detail)}</td></tr>"
        for c in result.checks
    )
    verdict = "passes" if result.passed else "does not pass"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Listing review: {html.escape(label)}</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:900px;color:#222}}
table{{border-collapse:collapse}} td{{padding:4px 10px;border-bottom:1px solid #ddd;vertical-align:top}}
.ok{{color:#1a7f37;font-weight:600}} .bad{{color:#c62828;font-weight:600}}</style></head><body>
<h1>Listing review: {html.escape(label)}</h1>
<p>Token <code>{html.escape(result.token_address)}</code> at block {result.block_number}:
<b class={"ok" if result.passed else "bad"}>{verdict}</b> the exchange's automated checks.</p>
<table>{rows}</table>
<p>Review <code>{html.escape(result.id)}</code>. Capabilities found: <code>{html.escape(str(result.capabilities.model_dump()))}</code></p>
</body></html>"""
