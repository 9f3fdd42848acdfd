"""Server-rendered HTML of the dashboard (no template engine, no CDN): tables and inline SVG.

Every figure is rendered as ``<span data-k="NAME" data-v="RAW">formatted</span>`` so the browser
test can compare a page's numbers with the JSON API; ``formatted`` is what a person reads.
"""

from __future__ import annotations

from html import escape
from typing import Any

from pinfi.types import UNIT

CSS = "/static/explorer.css"
JS = "/static/explorer.js"


def pin(raw: Any) -> str:
    """Wei (decimal text) -> ``12.3456 PIN``; ``-`` for none."""
    if raw is None or raw == "":
        return "-"
    v = int(raw)
    whole, frac = divmod(abs(v), UNIT)
    return f"{'-' if v < 0 else ''}{whole:,}.{frac * 10_000 // UNIT:04d} PIN"


def v(name: str, raw: Any, text: str | None = None) -> str:
    raw_s = "" if raw is None else str(raw)
    shown = text if text is not None else (raw_s or "-")
    return f'<span data-k="{escape(name)}" data-v="{escape(raw_s)}">{escape(shown)}</span>'


def short(addr: str) -> str:
    return f'<span title="{escape(addr)}">{escape(addr[:8])}…{escape(addr[-4:])}</span>'


def page(title: str, body: str, status: dict[str, Any]) -> str:
    lag = status.get("lag", 0)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · PinFi explorer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{CSS}"></head>
<body><header><a class="brand" href="/">PinFi explorer</a>
<nav><a href="/">Network</a><a href="/devices">Devices</a><a href="/leases">Leases</a>
<a href="/openapi.json">API</a></nav>
<form id="search" action="/search" method="get"><input id="q" name="q" type="search"
 placeholder="device or lease id" aria-label="device or lease id"><button>Go</button></form>
<div id="sync" class="{'lagging' if lag > 5 else 'synced'}">block {v('indexed_block',
 status.get('indexed_block'))} / head {v('head', status.get('head'))} · lag
 {v('lag', lag)}</div></header>
<main><h1>{escape(title)}</h1>
{body}</main><script src="{JS}"></script></body></html>"""


def table(cols: list[str], rows: list[list[str]], id_: str = "") -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(cols)}" class="empty">none</td></tr>'
    return f'<table id="{id_}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def line_chart(title: str, series: list[tuple[str, list[tuple[int, float]]]],
               id_: str, width: int = 640, height: int = 200, y_label: str = "") -> str:
    """An inline SVG line chart of ``series`` [(name, [(x, y)])] (x: epochs)."""
    pts = [p for _, s in series for p in s]
    if not pts:
        return f'<figure id="{id_}"><figcaption>{escape(title)}</figcaption><p class="empty">' \
               "no data yet</p></figure>"
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y1 = max(max(p[1] for p in pts), 1e-18)
    pad_l, pad_b, pad_t, pad_r = 56, 24, 10, 10
    w, h = width - pad_l - pad_r, height - pad_b - pad_t

    def sx(x: float) -> float:
        return pad_l + (x - x0) / ((x1 - x0) or 1) * w

    def sy(y: float) -> float:
        return pad_t + h - y / y1 * h

    colors = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")
    lines, legend = [], []
    for i, (name, s) in enumerate(series):
        c = colors[i % len(colors)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        lines.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{path}">'
                     f"<title>{escape(name)}</title></polyline>")
        lines.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{c}">'
                     f"<title>{escape(name)} epoch {x}: {y:g}</title></circle>" for x, y in s)
        legend.append(f'<span style="color:{c}">■ {escape(name)}</span>')
    axes = (f'<line x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" y2="{pad_t + h}" '
            'stroke="#888"/>'
            f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + h}" stroke="#888"/>'
            f'<text x="{pad_l - 4}" y="{pad_t + 10}" text-anchor="end">{y1:.4g}</text>'
            f'<text x="{pad_l - 4}" y="{pad_t + h}" text-anchor="end">0</text>'
            f'<text x="{pad_l}" y="{height - 6}">epoch {x0}</text>'
            f'<text x="{pad_l + w}" y="{height - 6}" text-anchor="end">epoch {x1}</text>')
    return (f'<figure id="{id_}"><figcaption>{escape(title)} '
            f'{"".join(legend)} <small>{escape(y_label)}</small></figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(title)}">{axes}{"".join(lines)}</svg></figure>')


def _pin_f(raw: Any) -> float:
    return int(raw) / UNIT if raw not in (None, "") else 0.0


def overview(o: dict[str, Any], charts: dict[int, list[dict[str, Any]]],
             be: dict[str, Any]) -> str:
    rows = []
    for c in o["classes"]:
        cid = c["class_id"]
        rows.append([v("class_id", cid), v("supply", c["supply"]), v("demand", c["demand"]),
                     v("utilization", c["utilization_wad"], f"{c['utilization']:.2%}"),
                     v("price", c["price"], pin(c["price"]) if c["price"] else "sold out"),
                     v("quote", c["quote"], pin(c["quote"]) if c["quote"] else "sold out")
                     + f" / {c['quote_epochs']} epochs",
                     v("active", c["active"])])
    totals = o["burn_emission"]
    body = [table(["class", "R (supply)", "D (demand)", "utilization", "marginal price",
                   "quote", "active devices"], rows, "classes"),
            '<section id="totals"><h2>Supply</h2><p>genesis '
            f'{v("genesis", totals["genesis"], pin(totals["genesis"]))} · emitted '
            f'{v("minted", totals["minted"], pin(totals["minted"]))} · burned '
            f'{v("burned", totals["burned"], pin(totals["burned"]))} · supply '
            f'{v("token_supply", totals["supply"], pin(totals["supply"]))} · leases '
            f'{v("leases", o["leases"])}</p></section>']
    mint, burn, cm, cb = [], [], 0, 0
    for e in be["epochs"]:
        cm += int(e["minted"])
        cb += int(e["burned"])
        mint.append((e["epoch"], cm / UNIT))
        burn.append((e["epoch"], cb / UNIT))
    body.append(line_chart("Burn vs emission (cumulative)",
                           [("emitted", mint), ("burned", burn)], "chart-burn", y_label="PIN"))
    for cid, pts in charts.items():
        body.append(line_chart(f"Class {cid}: marginal price",
                               [("price", [(p["epoch"], _pin_f(p["price"])) for p in pts
                                           if p["price"] is not None])],
                               f"chart-price-{cid}", y_label="PIN per device-epoch"))
        body.append(line_chart(f"Class {cid}: R, D and utilization",
                               [("R", [(p["epoch"], int(p["supply"])) for p in pts]),
                                ("D", [(p["epoch"], int(p["demand"])) for p in pts]),
                                ("utilization x10", [(p["epoch"], p["utilization"] * 10)
                                                     for p in pts])],
                               f"chart-util-{cid}", y_label="devices"))
    return "\n".join(body)


def _rel(d: dict[str, Any]) -> str:
    r = d["reliability"]
    text = "-" if r["uptime"] is None else f"{r['uptime']:.0%} ({r['passed']}/" \
        f"{r['passed'] + r['failed']})"
    return v("uptime", "" if r["uptime"] is None else r["uptime"], text)


def devices(rows: list[dict[str, Any]]) -> str:
    out = []
    for d in rows:
        did = d["device_id"]
        ep = escape(d["endpoint"]) if d["endpoint"] else "-"
        out.append([f'<a href="/devices/{did}">{v("device_id", did)}</a>',
                    v("state", d["state"]), v("class_id", d["class_id"]), short(d["owner"]),
                    f'<span data-k="endpoint">{ep}</span>', v("proofs_passed", d["proofs_passed"]),
                    v("proofs_missed", d["proofs_missed"]), v("frauds", d["frauds"]),
                    v("slashes", d["slashes"]), _rel(d), v("leases_served", d["leases_served"])])
    return table(["device", "state", "class", "owner", "endpoint", "proofs passed", "missed",
                  "frauds", "slashes", "uptime (last epochs)", "leases"], out, "devices")


def device(d: dict[str, Any]) -> str:
    facts = [("state", d["state"], None), ("class_id", d["class_id"], None),
             ("owner", d["owner"], None), ("operator", d["operator"], None),
             ("endpoint", d["endpoint"], d["endpoint"] or "-"),
             ("bond", d["bond"], pin(d["bond"])), ("earned", d["earned"], pin(d["earned"])),
             ("claimable", d["claimable"], pin(d["claimable"])),
             ("proofs_passed", d["proofs_passed"], None),
             ("proofs_missed", d["proofs_missed"], None), ("frauds", d["frauds"], None),
             ("slashes", d["slashes"], None), ("slashed", d["slashed"], pin(d["slashed"])),
             ("forfeited", d["forfeited"], pin(d["forfeited"])),
             ("leases_served", d["leases_served"], None)]
    dl = "".join(f"<dt>{escape(k.replace('_', ' '))}</dt><dd>{v(k, raw, text)}</dd>"
                 for k, raw, text in facts)
    dl += f"<dt>uptime (last {d['reliability']['epochs']} epochs)</dt><dd>{_rel(d)}</dd>"
    strip = "".join(f'<span class="proof {h["status"].lower()}" title="epoch {h["epoch"]}: '
                    f'{h["status"]}" data-epoch="{h["epoch"]}">{h["status"][0]}</span>'
                    for h in d["proof_history"])
    proofs = table(["epoch", "status"], [[v("epoch", h["epoch"]), v("status", h["status"])]
                                         for h in d["proof_history"]], "proofs")
    slashes = table(["block", "event", "epoch", "amount"],
                    [[str(e["block"]), escape(e["event"]), escape(str(e["args"].get("epoch",
                      "-"))), pin(e["args"].get("slashed", e["args"].get("amount")))]
                     for e in d["slash_events"]],
                    "slashes")
    return (f'<dl id="device">{dl}</dl><h2>Proof history</h2><div class="strip">{strip}</div>'
            f"{proofs}<h2>Leases</h2>{leases(d['leases'])}<h2>Slashes</h2>{slashes}")


def leases(rows: list[dict[str, Any]]) -> str:
    return table(["lease", "device", "client", "epochs", "status", "cost", "burned"],
                 [[f'<a href="/leases/{r["lease_id"]}">{v("lease_id", r["lease_id"])}</a>',
                   f'<a href="/devices/{r["device_id"]}">{v("device_id", r["device_id"])}</a>',
                   short(r["client"]),
                   f'{v("start_epoch", r["start_epoch"])}–{v("end_epoch", r["end_epoch"])}',
                   v("status", r["status"]), v("cost", r["cost"], pin(r["cost"])),
                   v("burned", r["burned"], pin(r["burned"]))] for r in rows], "leases")


def lease(r: dict[str, Any]) -> str:
    facts = [("lease_id", r["lease_id"], None), ("device_id", r["device_id"], None),
             ("client", r["client"], None), ("class_id", r["class_id"], None),
             ("start_epoch", r["start_epoch"], None), ("end_epoch", r["end_epoch"], None),
             ("status", r["status"], None), ("extensions", r["extensions"], None),
             ("cost", r["cost"], pin(r["cost"])), ("burned", r["burned"], pin(r["burned"])),
             ("refunded", r["refunded"], pin(r["refunded"])), ("fee", r["fee"], pin(r["fee"])),
             ("down_reports", r["down_reports"], None)]
    dl = "".join(f"<dt>{escape(k.replace('_', ' '))}</dt><dd>{v(k, raw, text)}</dd>"
                 for k, raw, text in facts)
    evs = table(["block", "event", "args"],
                [[str(e["block"]), escape(e["event"]),
                  "<code>" + escape(", ".join(f"{k}={a}" for k, a in e["args"].items()))
                  + "</code>"] for e in r["events"]], "lease-events")
    return f'<dl id="lease">{dl}</dl><h2>Events</h2>{evs}'
