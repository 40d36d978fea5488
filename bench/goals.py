"""The issues' goals: issue 9's table (starlet-py against Perl Starlet, bjoern, gunicorn and
the Python floor) and issue 16's (the servers users pick in 2026, the 16-worker memory on
each Python, the CPU against the old tree).

Every goal is a ratio between servers measured in the same run (or an absolute
memory figure, which moves little with the machine): absolute requests/s move
with the machine, ratios much less.  Works on bench/run.py's JSON alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Result = dict[str, Any]

# Without these a run cannot state issue 9's ratios: RESULTS.md says so at the top.
REQUIRED = {"gunicorn-sync": "every ×g ratio", "perl-starlet": "the CPU and memory ratios",
            "perl-starlet-ka": "the keep-alive CPU ratio", "bjoern": "the close req/s ratio",
            "py-floor": "the Python floor column", "granian": "issue 16's comparison",
            "gunicorn-h1c": "issue 16's comparison"}
APP_MEMS = ("mem-flask", "mem-django")  # the real apps' memory runs
APP_BASE = "gunicorn-preload"  # what their ratios are to
COLUMNS = (("starlet-py", "starlet-py"), ("Perl Starlet", "perl-starlet"), ("bjoern", "bjoern"),
           ("Python floor", "py-floor"))


def missing_peers(data: Result) -> list[str]:
    """One line per required server that this run lacks (or that failed)."""
    lines = []
    for name, what in REQUIRED.items():
        if name not in data["servers"]:
            why = data.get("skipped", {}).get(name, "not selected (--servers)")
            lines.append(f"**{name} is not in this run** ({why}): {what} cannot be stated.")
            continue
        failed = [r for r in data["runs"] if r["server"] == name and "error" in r]
        if failed:
            lines.append(f"**{name} failed in {len(failed)} round(s)** ({failed[0]['error'][:120]}): "
                         f"{what} may be missing.")
        mem = data.get("memory16", {}).get(name)
        if "mem16" in data["scenarios"] and (mem is None or "error" in mem):
            lines.append(f"**{name} has no mem16 figures** ({(mem or {}).get('error', 'not run')}).")
    if not data.get("before"):
        lines.append("**The old tree is not in this run** (`--before REV`): the CPU against it (issues 15 "
                     "and 16) cannot be stated.")
    return lines


def _verdict(value: float | None, goal: float, higher: bool, unit: str) -> str:
    if value is None:
        return "not measured"
    if (value >= goal) if higher else (value <= goal):
        return "**met**"
    gap = abs(value - goal)
    return f"missed by {gap:.2f}{unit} ({gap / goal:.0%})"


def _f(v: float | None, nd: int = 2, unit: str = "") -> str:
    return "–" if v is None else f"{v:,.{nd}f}{unit}"


def issue9_rows(data: Result, summary: Result,
                pair: Callable[[str, str, str, str], float | None]) -> list[list[str]]:
    """Rows: figure, one cell per COLUMNS, goal, verdict (starlet-py's figure against the goal).

    ``pair(a, b, scen, key)`` is the median over rounds of a's ``key`` ÷ b's, same round.
    """
    rows: list[list[str]] = []

    def mem16(name: str, key: str) -> float | None:
        v = (summary.get(name, {}).get("mem16") or {}).get(key)
        return None if v is None else v / 1024

    def add(figure: str, cells: list[float | None], goal: float, higher: bool, unit: str, nd: int = 2,
            mine: float | None = None) -> None:
        value = cells[0] if mine is None else mine
        rows.append([figure, *(_f(c, nd, unit) for c in cells), f"{'≥' if higher else '≤'} {goal}{unit}",
                     _verdict(value, goal, higher, unit)])

    names = [n for _, n in COLUMNS]
    add(f"{data['mem_workers']} workers after {data['mem_requests']:,} requests: USS per worker (median)",
        [mem16(n, "worker_uss_kb") for n in names], 0.9, False, " MiB")
    add(f"{data['mem_workers']} workers: pool PSS (master + workers)",
        [mem16(n, "pool_pss_kb") for n in names], 24, False, " MiB", 1)

    def pss2(name: str) -> float | None:
        m = summary.get(name, {}).get("memory")
        return m["pss_kb"] if m else None

    perl2 = pss2("perl-starlet")
    add(f"{data['workers']} workers after the last round: pool PSS ÷ Perl Starlet's",
        [None if perl2 is None or pss2(n) is None else pss2(n) / perl2 for n in names], 0.8, False, "")
    add("close (new connection per request): CPU/request ÷ Perl Starlet's",
        [pair(n, "perl-starlet", "close", "cpu_us_per_req") for n in names], 0.35, False, "")
    add("close: requests/s ÷ bjoern's", [pair(n, "bjoern", "close", "rps") for n in names], 1.0, True, "")
    add("ka (keep-alive): CPU/request ÷ perl-starlet-ka's (starlet-py-ka; Perl: perl-starlet-ka)",
        [pair(n, "perl-starlet-ka", "ka", "cpu_us_per_req")
         for n in ("starlet-py-ka", "perl-starlet-ka", "bjoern", "py-floor")], 0.4, False, "")
    add("close at Perl Starlet's settings (starlet-py-s100, recycle every 100): CPU ÷ Perl Starlet's",
        [pair("starlet-py-s100", "perl-starlet", "close", "cpu_us_per_req"),
         pair("perl-starlet", "perl-starlet", "close", "cpu_us_per_req"), None, None], 0.5, False, "")
    for scen, what in (("big64k", "64 KiB response"), ("post16k", "16 KiB POST")):
        add(f"{scen} ({what}), defaults: requests/s × gunicorn sync",
            [(summary.get(n, {}).get("scenarios", {}).get(scen) or {}).get("rps_x") for n in names],
            3.5, True, "×")
    return rows


def app_memory(data: Result) -> dict[str, dict[str, Result]]:
    """Per app scenario and server: pool PSS, worker USS at start and after, ratio to APP_BASE."""
    out: dict[str, dict[str, Result]] = {}
    for scen, runs in data.get("memory_apps", {}).items():
        base = (runs.get(APP_BASE) or {}).get("memory", {}).get("pss_kb")
        rows: dict[str, Result] = {}
        for name, m in runs.items():
            if "memory" not in m:
                rows[name] = {"error": m.get("error", "no figures")}
                continue
            mm, start = m["memory"], m.get("memory_start") or {}
            uss = sorted(mm["worker_uss_kb"])
            rows[name] = {
                "nprocs": mm["nprocs"], "pool_pss_kb": mm["pss_kb"], "master_pss_kb": mm["master_pss_kb"],
                "worker_uss_start_kb": _median(start.get("worker_uss_kb") or []),
                "worker_uss_kb": _median(uss), "worker_uss_max_kb": uss[-1] if uss else None,
                "x_base": mm["pss_kb"] / base if base else None, "failures": m.get("failures"),
                "cmd": m.get("cmd", ""),
            }
        out[scen] = rows
    return out


def _median(xs: list[float]) -> float | None:
    xs = sorted(xs)
    return None if not xs else (xs[len(xs) // 2] + xs[(len(xs) - 1) // 2]) / 2


def app_rows(apps: dict[str, dict[str, Result]]) -> list[list[str]]:
    """Issue 9's goals for the real apps: pool PSS ÷ gunicorn --preload's."""
    rows = []
    for scen in APP_MEMS:
        runs = apps.get(scen, {})
        for name, goal, label in (("starlet-py-warmup", 0.7, "with --warmup"),
                                  ("starlet-py", 1.0, "without --warmup")):
            v = (runs.get(name) or {}).get("x_base")
            rows.append([f"{scen}: pool PSS ÷ gunicorn --preload's, {label}", _f(v), f"≤ {goal}",
                         _verdict(v, goal, False, "")])
    return rows


def markdown(data: Result, summary: Result, pair: Callable[[str, str, str, str], float | None],
             mib: Callable[..., str]) -> list[str]:
    """The issue 9 section of RESULTS.md."""
    out = ["## The goals of issue 9 (ratios measured in this run)", "",
           "Each ratio is starlet-py's (first column) against a peer in the same run; the peers' "
           "own ratios are shown for scale. Verdicts are for starlet-py.", "",
           "| figure | " + " | ".join(c for c, _ in COLUMNS) + " | goal | verdict |",
           "|---|" + "---|" * (len(COLUMNS) + 2)]
    out += ["| " + " | ".join(r) + " |" for r in issue9_rows(data, summary, pair)]
    apps = app_memory(data)
    if apps:
        out += ["", "| real app | ratio | goal | verdict |", "|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in app_rows(apps)]
    for scen in APP_MEMS:
        if scen not in apps:
            continue
        label = data.get("scenario_labels", {}).get(scen, "")
        out += ["", f"## `{scen}`: {label}, {data['mem_workers']} workers after "
                f"{data['mem_requests']:,} requests (MiB, smaps_rollup)", "",
                "Routes driven in turn on new connections: "
                + ", ".join(f"`{p}`" for p in data.get("app_info", {}).get(scen, {}).get("paths", [])) + ".",
                "", "| server | processes | pool PSS | ÷ gunicorn --preload | master PSS "
                "| worker USS at start | worker USS after | largest | failed requests |",
                "|---|---|---|---|---|---|---|---|---|"]
        for name, r in apps[scen].items():
            if "error" in r:
                out.append(f"| {name} | **error**: {r['error'][:160]} | | | | | | | |")
                continue
            out.append(f"| {name} | {r['nprocs']} | {mib(r['pool_pss_kb'])} | {_f(r['x_base'])} | "
                       f"{mib(r['master_pss_kb'])} | {mib(r['worker_uss_start_kb'], 2)} | "
                       f"{mib(r['worker_uss_kb'], 2)} | {mib(r['worker_uss_max_kb'], 2)} | {r['failures']} |")
        out += [""] + [f"- {name}: `{r.get('cmd', '')}`" for name, r in apps[scen].items()]
    return out


# ---------------------------------------------------------------------------
# Issue 16

# Issue 16's figures for starlet-py, 16 workers after 2,000 requests: (USS a worker, pool PSS) in
# MiB on each Python; a run must be no worse.  And issue 9's goals, which they are measured against.
ISSUE16_MEM = {"3.11": (1.0, 25.0), "3.12": (0.84, 25.5), "3.13": (0.92, 26.5)}
GOAL_USS, GOAL_POOL = 0.9, 24.0
PER_PYTHON = ("starlet-py", "before-starlet-py", "py-floor")  # run.py --pythons runs these: httptools only
# Issue 16's comparison: (label, server for new connections, server kept alive).
PEERS16 = (("starlet-py", "starlet-py", "starlet-py-ka"),
           ("the old tree (--before)", "before-starlet-py", "before-starlet-py-ka"),
           ("Perl Starlet", "perl-starlet", "perl-starlet-ka"),
           ("granian (WSGI)", "granian", "granian"),
           ("gunicorn sync", "gunicorn-sync", "gunicorn-sync"),
           ("gunicorn sync, C parser (gunicorn_h1c)", "gunicorn-h1c", "gunicorn-h1c"),
           ("bjoern (C)", "bjoern", "bjoern"))


def _gap(value: float | None, goal: float, nd: int = 2) -> str:
    """How far ``value`` is above ``goal`` (or "met" and by how much, at or below it)."""
    if value is None:
        return "–"
    return f"+{value - goal:.{nd}f}" if value > goal else f"met (−{goal - value:.{nd}f})"


def python_rows(data: Result) -> list[tuple[str, str, Result]]:
    """(Python X.Y.Z, server, mem16 result) for every Python --pythons covered, in that order."""
    rows = []
    for ver, runs in data.get("memory16_pythons", {}).items():
        rows += [(ver, name, m) for name, m in runs["servers"].items()]
    versions = list(dict.fromkeys(ver for ver, _, _ in rows))
    return sorted(rows, key=lambda r: (versions.index(r[0]), PER_PYTHON.index(r[1])))


def pythons_markdown(data: Result, mib: Callable[..., str]) -> list[str]:
    """The 16-worker memory of starlet-py, the old tree and the floor on each Python."""
    rows = python_rows(data)
    if not rows:
        return []
    out = [f"## {data['mem_workers']} workers after {data['mem_requests']:,} requests, on each Python "
           "(issue 16; MiB)", "",
           "Each Python runs the servers from a venv holding httptools alone, as a deployment has it "
           "(the tables above run every server from one venv that also sees the peers' packages). "
           "USS is a worker's private memory (the median over workers), PSS the whole pool's. Issue 16's "
           "figures are starlet-py's, which a run must not exceed; the last two columns say how far each "
           f"figure is above issue 9's goals ({GOAL_USS} MiB a worker, {GOAL_POOL:.0f} MiB the pool).", "",
           "| Python | server | USS a worker | largest | pool PSS | issue 16's (USS / pool) | "
           "against it | to 0.9 MiB | to 24 MiB |", "|---|---|---|---|---|---|---|---|---|"]
    for ver, name, m in rows:
        if "memory" not in m:
            out.append(f"| {ver} | {name} | **error**: {str(m.get('error'))[:120]} | | | | | | |")
            continue
        mm = m["memory"]
        uss = _median(mm["worker_uss_kb"])
        uss_mib = None if uss is None else uss / 1024
        pool = mm["pss_kb"] / 1024
        ref = ISSUE16_MEM.get(".".join(ver.split(".")[:2])) if name == "starlet-py" else None
        against = "" if ref is None else (
            f"{uss_mib - ref[0]:+.2f} / {pool - ref[1]:+.1f}" if uss_mib is not None else "–")
        out.append(f"| {ver} | {name} | {mib(uss, 2)} | {mib(max(mm['worker_uss_kb'], default=None), 2)} | "
                   f"{pool:.1f} | {'' if ref is None else f'{ref[0]} / {ref[1]}'} | {against} | "
                   f"{_gap(uss_mib, GOAL_USS)} | {_gap(pool, GOAL_POOL, 1)} |")
    return out


def round_ratios(data: Result, name: str, other: str, scen: str, key: str) -> list[float]:
    """name's ``key`` ÷ other's, round by round (both measured in the same round)."""
    runs = {(r["server"], r["round"]): r for r in data["runs"]}
    out = []
    for rnd in range(1, data["rounds"] + 1):
        a = (runs.get((name, rnd)) or {}).get("scenarios", {}).get(scen) or {}
        b = (runs.get((other, rnd)) or {}).get("scenarios", {}).get(scen) or {}
        if a.get(key) and b.get(key):
            out.append(a[key] / b[key])
    return out


def before_markdown(data: Result, summary: Result) -> list[str]:
    """CPU per request against the old tree in the same run (issue 15's and 16's condition)."""
    pairs = [(n, f"before-{n}") for n in ("starlet-py", "starlet-py-ka")
             if n in summary and f"before-{n}" in summary]
    scens = [s for s in data["scenarios"] if s in summary.get(pairs[0][0], {}).get("scenarios", {})] \
        if pairs else []
    if not scens:
        return []
    out = [f"## CPU per request against the old tree ({data.get('before') or '--before'})", "",
           "µs per request, the median over rounds; the ratio is the median of the per-round ratios "
           "(each pair measured in the same round), the rounds' own in brackets. Below 1.00 the tree under "
           "test uses less. Issue 15's condition is `close` for starlet-py (new connections) and `ka` for "
           "starlet-py-ka (kept alive).", "",
           "| scenario | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " |",
           "|---|" + "---|" * len(pairs)]
    for scen in scens:
        cells = []
        for a, b in pairs:
            ca, cb = summary[a]["scenarios"][scen], summary[b]["scenarios"][scen]
            ratios = round_ratios(data, a, b, scen, "cpu_us_per_req")
            mid = _median(ratios)
            key = (a == "starlet-py" and scen == "close") or (a == "starlet-py-ka" and scen == "ka")
            verdict = "" if not key or mid is None else (" **no loss**" if mid <= 1.0 else " **a loss**")
            cells.append(f"{_f(ca['cpu_us_per_req'], 1)} / {_f(cb['cpu_us_per_req'], 1)} µs: "
                         f"{_f(mid)}× ({', '.join(f'{r:.2f}' for r in ratios)}){verdict}")
        out.append(f"| {scen} | " + " | ".join(cells) + " |")
    return out


def peers_markdown(data: Result, summary: Result, mib: Callable[..., str]) -> list[str]:
    """Issue 16's table: the figures users decide on, for the servers they pick."""
    have = [(label, c, k) for label, c, k in PEERS16 if c in summary or k in summary]
    if not have or not {"close", "ka"} & set(data["scenarios"]):
        return []

    def sc(name: str, scen: str, key: str) -> float | None:
        return ((summary.get(name, {}).get("scenarios", {}).get(scen)) or {}).get(key)

    out = ["## The servers users pick in 2026 (issue 16)", "",
           "New connection: `close` (for starlet-py and Perl Starlet their defaults); kept alive: `ka` "
           "(starlet-py-ka, perl-starlet-ka: `--max-keepalive-reqs 100`; gunicorn's sync worker closes "
           f"every connection). ×g: CPU ÷ gunicorn sync's in the same round. Memory: "
           f"{data['workers']} workers after the last round, and {data['mem_workers']} workers after "
           f"{data['mem_requests']:,} requests.", "",
           "| server | CPU µs/request, new connection / kept alive | req/s, new connection / kept alive "
           f"| {data['workers']}-worker pool PSS | {data['mem_workers']}-worker pool PSS / USS a worker |",
           "|---|---|---|---|---|"]
    for label, close, ka in have:
        two = (summary.get(close) or {}).get("memory") or {}
        m16 = (summary.get(close) or {}).get("mem16") or {}
        cpu = " / ".join(_f(sc(n, scen, "cpu_us_per_req"), 1) + ("" if (x := sc(n, scen, "cpu_x")) is None
                                                                  else f" ({x:.2f}×g)")
                         for n, scen in ((close, "close"), (ka, "ka")))
        rps = f"{_f(sc(close, 'close', 'rps'), 0)} / {_f(sc(ka, 'ka', 'rps'), 0)}"
        out.append(f"| {label} | {cpu} | {rps} | {mib(two.get('pss_kb'))} | "
                   f"{mib(m16.get('pool_pss_kb'))} / {mib(m16.get('worker_uss_kb'), 2)} |")
    return out
