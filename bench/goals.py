"""Issue 9's table: starlet-py against Perl Starlet, bjoern, gunicorn and the Python floor.

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
            "py-floor": "the Python floor column"}
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
