"""RESULTS.md and results.png from the figures bench/run.py saved (its JSON).

Everything here works on that data alone, so a saved run renders the same
tables and chart again (``python3 bench/run.py --report FILE.json``).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import goals
from goals import APP_MEMS

Result = dict[str, Any]
BASELINE = "gunicorn-sync"  # every ratio is to this server, in the same round
MEM = "mem16"  # the memory run's name among the scenarios
MEMS = (MEM, *APP_MEMS)  # the scenarios that are memory runs, not wrk runs


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def probe_limit(duration: float) -> float:
    """2 s per probe in a full run; shorter when the wrk run is too short for several."""
    return min(2.0, max(0.5, (duration - 0.5) / 2))


def median(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if vals else None


def summarize(data: Result) -> Result:
    """Medians over rounds, and the median per-round ratio to the baseline."""
    runs = {(r["server"], r["round"]): r for r in data["runs"]}
    servers, rounds = data["servers"], data["rounds"]

    def cell(name: str, rnd: int, scen: str) -> Result | None:
        r = runs.get((name, rnd))
        c = r["scenarios"].get(scen) if r and "scenarios" in r else None
        return c if c and "error" not in c else None

    out: Result = {}
    for name in servers:
        row: Result = {"scenarios": {}, "errors": []}
        for rnd in range(1, rounds + 1):
            r = runs.get((name, rnd))
            if r and "error" in r:
                row["errors"].append(f"round {rnd}: {r['error']}")
        for scen in data["scenarios"]:
            if scen in MEMS:
                continue
            acc: dict[str, list[Any]] = {k: [] for k in (
                "rps", "p99_ms", "cpu_us_per_req", "rps_x", "cpu_x", "other_cores", "errors",
                "reqs_per_conn", "probes_ms", "server_cores", "wrk_cores", "softirq_cores")}
            for rnd in range(1, rounds + 1):
                c, b = cell(name, rnd, scen), cell(BASELINE, rnd, scen)
                if c is None:
                    continue
                for k in ("rps", "p99_ms", "cpu_us_per_req", "other_cores", "errors", "reqs_per_conn",
                          "server_cores", "wrk_cores", "softirq_cores"):
                    acc[k].append(c.get(k))
                acc["probes_ms"] += c.get("probes_ms") or []
                if b is not None and b["rps"]:
                    acc["rps_x"].append(c["rps"] / b["rps"])
                if b is not None and b["cpu_us_per_req"] and c["cpu_us_per_req"]:
                    acc["cpu_x"].append(c["cpu_us_per_req"] / b["cpu_us_per_req"])
            s: Result = {k: median(v) for k, v in acc.items() if k != "probes_ms"}
            s["n"] = len(acc["rps"])
            s["rps_all"] = acc["rps"]
            s["max_other_cores"] = max((x for x in acc["other_cores"] if x is not None), default=None)
            probes = acc["probes_ms"]
            answered = [ms for ms in probes if ms is not None]
            s["probes"] = {"sent": len(probes), "answered": len(answered),
                           "median_ms": median(answered), "max_ms": max(answered, default=None)}
            row["scenarios"][scen] = s
        mems = [runs[(name, rnd)]["memory"] for rnd in range(1, rounds + 1)
                if (name, rnd) in runs and runs[(name, rnd)].get("memory")]
        row["memory"] = mems[-1] if mems else None  # after the last round, each process
        out[name] = row
    for name, m in data.get("memory16", {}).items():
        if name in out and "memory" in m:
            mm = m["memory"]
            out[name]["mem16"] = {
                "nprocs": mm["nprocs"], "pool_pss_kb": mm["pss_kb"], "pool_uss_kb": mm["uss_kb"],
                "master_pss_kb": mm["master_pss_kb"], "master_uss_kb": mm["master_uss_kb"],
                "worker_pss_kb": median(mm["worker_pss_kb"]), "worker_uss_kb": median(mm["worker_uss_kb"]),
                "worker_uss_max_kb": max(mm["worker_uss_kb"], default=None),
                "failures": m.get("failures"),
            }
        elif name in out:
            out[name]["errors"].append(f"mem16: {m.get('error')}")
    return out


def pair_ratio(data: Result, name: str, other: str, scen: str, key: str) -> float | None:
    """Median over rounds of name's ``key`` ÷ other's, in the same round."""
    runs = {(r["server"], r["round"]): r for r in data["runs"]}
    ratios = []
    for rnd in range(1, data["rounds"] + 1):
        a = (runs.get((name, rnd)) or {}).get("scenarios", {}).get(scen) or {}
        b = (runs.get((other, rnd)) or {}).get("scenarios", {}).get(scen) or {}
        if a.get(key) and b.get(key):
            ratios.append(a[key] / b[key])
    return median(ratios)


# ---------------------------------------------------------------------------
# RESULTS.md


def fmt(v: float | None, nd: int = 0, suffix: str = "") -> str:
    return "–" if v is None else f"{v:,.{nd}f}{suffix}"


def fx(v: float | None) -> str:
    return "" if v is None else f" ({v:.2f}×)"


def mib(kb: float | None, nd: int = 1) -> str:
    return "–" if kb is None else f"{kb / 1024:.{nd}f}"


def targets(data: Result, summary: Result) -> list[tuple[str, str, str, str]]:
    """The issue's targets: (what, target, reached, verdict)."""
    rows: list[tuple[str, str, str, str]] = []

    def sc(name: str, scen: str) -> Result:
        return summary.get(name, {}).get("scenarios", {}).get(scen) or {}

    def verdict(value: float | None, limit: float, higher: bool, unit: str = "") -> str:
        if value is None:
            return "not measured"
        if (value >= limit) if higher else (value <= limit):
            return "met"
        return f"missed by {abs(value - limit):.2f}{unit}"

    v = sc("starlet-py", "close").get("rps_x")
    rows.append(("close, starlet-py defaults: req/s vs gunicorn sync", "≥ 3×", fmt(v, 2, "×"),
                 verdict(v, 3, True, "×")))
    v = sc("starlet-py", "close").get("cpu_us_per_req")
    rows.append(("close, starlet-py defaults: server CPU", "≤ 40 µs/req", fmt(v, 1, " µs"),
                 verdict(v, 40, False, " µs")))
    v = sc("starlet-py-ka", "ka").get("cpu_us_per_req")
    rows.append(("ka, --max-keepalive-reqs 100: server CPU", "≤ 25 µs/req", fmt(v, 1, " µs"),
                 verdict(v, 25, False, " µs")))
    p = sc("starlet-py-ka", "ka").get("probes") or {}
    if p.get("sent"):
        starved = p["sent"] - p["answered"]
        limit = data.get("probe_limit_s") or probe_limit(data["duration"])
        rows.append((f"ka, --max-keepalive-reqs 100: probes answered within {limit:.1f} s", "all",
                     f"{p['answered']}/{p['sent']}, max {fmt(p['max_ms'])} ms",
                     "met" if starved == 0 else f"missed: {starved} starved"))
    for mine, theirs, scen in (("starlet-py-s100", "perl-starlet", "close"),
                               ("starlet-py-s100-ka", "perl-starlet-ka", "ka")):
        v = pair_ratio(data, mine, theirs, scen, "cpu_us_per_req")
        rows.append((f"{scen}, {mine}: CPU vs {theirs}", "≤ 0.5×", fmt(v, 2, "×"),
                     verdict(v, 0.5, False, "×")))
    for name in ("starlet-py", "starlet-py-ka"):
        for scen in ("big64k", "post16k"):
            v = sc(name, scen).get("rps_x")
            rows.append((f"{scen}, {name}: req/s vs gunicorn sync", "≥ 4×", fmt(v, 2, "×"),
                         verdict(v, 4, True, "×")))
    m16 = summary.get("starlet-py", {}).get("mem16") or {}
    v = m16.get("worker_uss_max_kb")
    rows.append(("mem16, starlet-py: private memory (USS) of each worker, the largest", "≤ 1 MiB",
                 f"{mib(v, 2)} MiB", verdict(None if v is None else v / 1024, 1, False, " MiB")))
    v = m16.get("pool_pss_kb")
    rows.append(("mem16, starlet-py: PSS of the whole pool", "≤ 27 MiB", f"{mib(v)} MiB",
                 verdict(None if v is None else v / 1024, 27, False, " MiB")))
    return rows


def markdown(data: Result, summary: Result) -> str:
    servers = [n for n in data["servers"] if n in summary]
    scens = [s for s in data["scenarios"] if s not in MEMS]
    m = data["machine"]
    title = "# starlet-py and its peers: benchmark results"
    if data["quick"]:
        title += "\n\n**SMOKE RUN (`--quick`): too short to quote; re-run without --quick for real figures.**"
    out = [title, ""]
    missing = goals.missing_peers(data)
    if missing:
        out += ["**THIS RUN IS INCOMPLETE:**", ""] + [f"- {m}" for m in missing] + [""]
    out.append(f"Run {data['started']}, {data['elapsed_s'] / 60:.1f} min: "
               f"`{data['command']}`")
    out.append("")
    out.append(f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, Linux {m['kernel']}, "
               f"Python {m['python']}; load average {m['loadavg_start']} at the start. "
               "wrk and the servers share the machine.")
    out.append("")
    out.append(f"Method: `wrk -t{data['threads']} -c{data['connections']} -d{data['duration']}s`, "
               f"{data['rounds']} round(s) with the servers interleaved, {data['workers']} workers per "
               "server, medians over rounds. ×g is the median of the per-round ratio to **gunicorn sync** "
               "measured in the same round. Server CPU is user+sys of the server's process tree (reaped "
               "workers included) ÷ requests served. † marks a figure measured while other processes "
               f"used more than {data['disturbed_cores']} of a core.")
    out.append("")
    out.append("Charts: [results.png](results.png) (the servers users choose between: "
               + ", ".join(n for n in USERS_CHART if n in data["servers"])
               + "), [results-all.png](results-all.png) (every server of this run).")
    out.append("")
    labels = data.get("scenario_labels", {})
    described = [f"`{s}` {labels.get(s, '')}" for s in scens]
    if MEM in data["scenarios"]:
        described.append(f"`{MEM}` {data['mem_workers']} workers, memory after {data['mem_requests']:,} "
                         "requests on new connections (the four routes in turn)")
    described += [f"`{s}` {labels.get(s, '')}: {data['mem_workers']} workers, memory after "
                  f"{data['mem_requests']:,} requests, against gunicorn --preload"
                  for s in APP_MEMS if s in data["scenarios"]]
    out.append("Scenarios: " + "; ".join(described) + ".")
    out.append("")

    def dagger(s: Result) -> str:
        return " †" if (s.get("max_other_cores") or 0) > data["disturbed_cores"] else ""

    if scens:
        out += ["## Requests/s (×g: ratio to gunicorn sync, higher is better)", ""]
        out.append("| server | " + " | ".join(scens) + " |")
        out.append("|---|" + "---|" * len(scens))
        for n in servers:
            cells = []
            for s in scens:
                c = summary[n]["scenarios"][s]
                cells.append(fmt(c["rps"]) + fx(c["rps_x"]) + dagger(c))
            out.append(f"| {n} | " + " | ".join(cells) + " |")
        out += ["", "## Server CPU per request (µs; ×g; lower is better)", ""]
        out.append("| server | " + " | ".join(scens) + " |")
        out.append("|---|" + "---|" * len(scens))
        for n in servers:
            cells = []
            for s in scens:
                c = summary[n]["scenarios"][s]
                cells.append(fmt(c["cpu_us_per_req"], 1) + fx(c["cpu_x"]) + dagger(c))
            out.append(f"| {n} | " + " | ".join(cells) + " |")
        out += ["", "## p99 latency (ms, wrk's)", ""]
        out.append("| server | " + " | ".join(scens) + " |")
        out.append("|---|" + "---|" * len(scens))
        for n in servers:
            out.append(f"| {n} | " + " | ".join(fmt(summary[n]["scenarios"][s]["p99_ms"], 2) for s in scens)
                       + " |")
    if scens:
        out += ["", "## Where the machine's CPU went (cores, median over rounds)", "",
                "server / wrk / network softirq (charged to no process) / other processes, during each run.",
                "", "| server | " + " | ".join(scens) + " |", "|---|" + "---|" * len(scens)]
        for n in servers:
            cells = []
            for s in scens:
                c = summary[n]["scenarios"][s]
                cells.append(" / ".join(fmt(c.get(k), 2) for k in ("server_cores", "wrk_cores",
                                                                     "softirq_cores", "other_cores")))
            out.append(f"| {n} | " + " | ".join(cells) + " |")
    if "ka" in scens:
        limit = data.get("probe_limit_s") or probe_limit(data["duration"])
        out += ["", f"## Fresh connections during `ka` ({data['connections']} keep-alive clients, "
                f"{data['workers']} workers)", "",
                f"Probe connections opened one after another during the run: time to the first response "
                f"byte; a probe with no answer within {limit:.1f} s is starved.", "",
                "| server | probes answered | median ms | max ms |",
                "|---|---|---|---|"]
        for n in servers:
            c = summary[n]["scenarios"]["ka"]
            p = c["probes"]
            starved = p["sent"] - p["answered"]
            note = f" (**{starved} starved**)" if starved else ""
            out.append(f"| {n} | {p['answered']}/{p['sent']}{note} | {fmt(p['median_ms'])} | "
                       f"{fmt(p['max_ms'])} |")
    if scens:
        out += ["", f"## Memory after the last round ({data['workers']} workers; MiB, smaps_rollup)", "",
                "| server | processes | total PSS | master PSS | master USS | each worker's PSS "
                "| each worker's USS |",
                "|---|---|---|---|---|---|---|"]
        for n in servers:
            mm = summary[n]["memory"]
            if not mm:
                out.append(f"| {n} | – | – | – | – | – | – |")
                continue
            pss = ", ".join(mib(k) for k in mm["worker_pss_kb"]) or "–"
            uss = ", ".join(mib(k, 2) for k in mm["worker_uss_kb"]) or "–"
            out.append(f"| {n} | {mm['nprocs']} | {mib(mm['pss_kb'])} | {mib(mm['master_pss_kb'])} | "
                       f"{mib(mm['master_uss_kb'])} | {pss} | {uss} |")
    if MEM in data["scenarios"]:
        out += ["", f"## Memory with {data['mem_workers']} workers after {data['mem_requests']:,} requests "
                "(MiB, smaps_rollup)", "",
                "Worker figures are the median over workers; USS is the private memory "
                "(Private_Clean + Private_Dirty).", "",
                "| server | processes | pool PSS | pool USS | master PSS | master USS | worker PSS "
                "| worker USS | largest worker USS |",
                "|---|---|---|---|---|---|---|---|---|"]
        for n in servers:
            mm = summary[n].get("mem16")
            if not mm:
                out.append(f"| {n} | – | – | – | – | – | – | – | – |")
                continue
            out.append(f"| {n} | {mm['nprocs']} | {mib(mm['pool_pss_kb'])} | {mib(mm['pool_uss_kb'])} | "
                       f"{mib(mm['master_pss_kb'])} | {mib(mm['master_uss_kb'])} | "
                       f"{mib(mm['worker_pss_kb'])} | {mib(mm['worker_uss_kb'], 2)} | "
                       f"{mib(mm['worker_uss_max_kb'], 2)} |")
    for section in (goals.peers_markdown(data, summary, mib), goals.pythons_markdown(data, mib),
                    goals.before_markdown(data, summary)):
        out += [""] + section if section else []
    out += [""] + goals.markdown(data, summary, lambda a, b, sc, k: pair_ratio(data, a, b, sc, k), mib)
    rows = targets(data, summary)
    out += ["", "## The earlier targets of issue 5", "", "| target | wanted | reached | |",
            "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    notes = Path(__file__).with_name("ANALYSIS.md")  # hand-written: what the profile shows
    if notes.exists():
        out += ["", notes.read_text().rstrip()]
    info = data.get("server_info", {})
    out += ["", "## Servers", "", f"| server | command (port P, {data['workers']} workers) | notes |",
            "|---|---|---|"]
    for n in servers:
        srv = info.get(n, {})
        out.append(f"| {n} | `{srv.get('cmd', '?')}` | {srv.get('note', '')} |")
    out += ["", "Working directory bench/apps; $BENCH_FILE names the 64 KiB file /file serves."]
    if data["skipped"]:
        out += ["", "Not run: " + "; ".join(f"**{k}**: {v}" for k, v in data["skipped"].items())]
    out += ["", "## Versions", ""]
    out += [f"- {k}: {v}" for k, v in data["versions"].items()]
    problems = [(n, e) for n in servers for e in summary[n]["errors"]]
    errs = [(n, s, summary[n]["scenarios"][s]["errors"]) for n in servers for s in scens
            if summary[n]["scenarios"][s]["errors"]]
    if problems or errs:
        out += ["", "## Failures and wrk errors", ""]
        out += [f"- {n}: {e}" for n, e in problems]
        out += [f"- {n} {s}: {fmt(e)} wrk errors (median per run)" for n, s, e in errs]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# results.png


def axis_top(values: list[float]) -> float:
    """A y-axis top that keeps an outlier or two from flattening every other bar."""
    positive = sorted(v for v in values if v > 0)
    if not positive:
        return 1.0
    typical = statistics.median(positive)
    inliers = [v for v in positive if v <= 4 * typical]
    return max(inliers) * 1.1 if inliers and positive[-1] > 4 * typical else positive[-1] * 1.05


COLORS = {  # starlet-py in warm colours, the peers in cool ones
    "gunicorn-sync": "#7f7f7f", "starlet-py": "#e6550d", "starlet-py-ka": "#fd8d3c",
    "starlet-py-s100": "#a63603", "starlet-py-s100-ka": "#fdbe85", "perl-starlet": "#3182bd",
    "perl-starlet-ka": "#9ecae1", "starman": "#756bb1", "bjoern": "#31a354", "waitress": "#bcbd22",
    "granian": "#e377c2", "gunicorn-h1c": "#3f3f3f",
}
# results.png, the README's chart: a handful of servers, those users choose between (issue 16);
# results-all.png has every server of the run.
USERS_CHART = ("starlet-py", "starlet-py-ka", "granian", "gunicorn-sync", "gunicorn-h1c", "perl-starlet",
               "bjoern")


def users_label(data: Result, name: str) -> str:
    """A server's name in the users' chart: what it is, with its version."""
    v = data.get("versions", {})
    perl = str(v.get("perl Starlet", "")).replace("missing", "")
    gunicorn = f"gunicorn {v.get('gunicorn', '')} sync"
    return {"starlet-py": "starlet-py (defaults)", "starlet-py-ka": "starlet-py --max-keepalive-reqs 100",
            "granian": f"granian {v.get('granian', '')} (WSGI)", "gunicorn-sync": gunicorn,
            "gunicorn-h1c": f"{gunicorn}, C parser",
            "perl-starlet": f"Perl Starlet {perl}".strip(), "bjoern": "bjoern (C)"}.get(name, name)


def chart(data: Result, summary: Result, path: Path, only: tuple[str, ...] = (),
          label: Callable[[str], str] = str) -> str | None:
    """Requests/s and CPU µs/request by scenario and server (``only`` these, if given), and
    memory with 16 workers; None, or why no chart."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    servers = [n for n in (only or data["servers"]) if n in summary]
    scens = [s for s in data["scenarios"] if s not in MEMS]
    if not servers or not scens:
        return "no server or no wrk scenario in this run"
    panels = 2 + (MEM in data["scenarios"])
    fig, axes = plt.subplots(panels, 1, figsize=(13, 4.2 * panels), squeeze=False)
    colors = {n: COLORS.get(n) or plt.get_cmap("tab10")(i % 10) for i, n in enumerate(servers)}
    width = 0.8 / max(1, len(servers))
    for ax, key, title in ((axes[0][0], "rps", "requests/s (higher is better)"),
                           (axes[1][0], "cpu_us_per_req", "server CPU µs per request (lower is better)")):
        values = [summary[n]["scenarios"][s][key] or 0 for n in servers for s in scens]
        top = axis_top(values)
        for i, n in enumerate(servers):
            xs = [j + (i - (len(servers) - 1) / 2) * width for j in range(len(scens))]
            ys = [summary[n]["scenarios"][s][key] or 0 for s in scens]
            ax.bar(xs, [min(y, top) for y in ys], width, label=label(n), color=colors[n],
                   edgecolor="black" if n.startswith("starlet-py") else None, linewidth=0.6)
            for x, y in zip(xs, ys, strict=True):
                if y > top:  # an outlier: cut at the top, its value written on it
                    ax.text(x, top, f"{y:,.0f}", rotation=90, ha="center", va="top", fontsize=7,
                            color="white", fontweight="bold")
        ax.set_ylim(0, top * 1.02)
        labels = data.get("scenario_labels", {})
        ax.set_xticks(range(len(scens)), [f"{s}\n{labels.get(s, '')}" for s in scens], fontsize=8)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=4 if only else 5, fontsize=8,
               bbox_to_anchor=(0.5, 0.962))
    if panels == 3:
        ax = axes[2][0]
        have = [n for n in servers if summary[n].get("mem16")]
        pss = [(summary[n]["mem16"]["pool_pss_kb"] or 0) / 1024 for n in have]
        uss = [(summary[n]["mem16"]["worker_uss_kb"] or 0) / 1024 for n in have]
        xs = list(range(len(have)))
        ax.bar([x - 0.2 for x in xs], pss, 0.4, label="pool PSS (MiB)", color="tab:blue")
        ax2 = ax.twinx()
        ax2.bar([x + 0.2 for x in xs], uss, 0.4, label="USS per worker (MiB, median)", color="tab:orange")
        ax.set_xticks(xs, [label(n) for n in have], fontsize=8, rotation=20 if not only else 10)
        ax.set_ylabel("pool PSS, MiB")
        ax2.set_ylabel("USS per worker, MiB")
        ax.set_title(f"memory, {data['mem_workers']} workers after {data['mem_requests']:,} requests")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles, [str(h.get_label()) for h in handles], loc="upper right", fontsize=8)
    label = "SMOKE RUN (--quick) — " if data["quick"] else ""
    fig.suptitle(f"{label}starlet-py vs peers, {data['workers']} workers, {data['machine']['nproc']} CPUs, "
                 f"{data['rounds']} round(s) × {data['duration']} s ({data['started']})", y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.95 if panels == 3 else 0.93))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def write_outputs(data: Result, outdir: Path) -> None:
    summary = summarize(data)
    outdir.mkdir(parents=True, exist_ok=True)
    md = markdown(data, summary)
    (outdir / "RESULTS.md").write_text(md)
    why = chart(data, summary, outdir / "results.png", USERS_CHART, lambda n: users_label(data, n))
    why = why or chart(data, summary, outdir / "results-all.png")
    log(md)
    log(f"wrote {outdir / 'RESULTS.md'}" + (f"; no chart: {why}" if why else
                                           f", {outdir / 'results.png'} and results-all.png"))
