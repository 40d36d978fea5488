"""What --stats shows, as pure functions (no I/O): why a worker exited, which request a
busy one is in, and the figures in Prometheus's text exposition format (version 0.0.4)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .pool import Proc
from .scoreboard import RECYCLED, RSS

REASONS = ("recycled", "rss", "request_timeout", "graceful_timeout", "crashed", "stopped")
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
FAMILIES = {  # name: (type, help), in the order shown
    "workers": ("gauge", "Workers inside a request (busy) or not (idle)."),
    "workers_max": ("gauge", "The configured pool size (--max-workers)."),
    "requests_total": ("counter", "Requests that reached the app, over the pool's life."),
    "busy_seconds_total": ("counter", "Seconds workers spent inside requests, summed."),
    "listen_queue": ("gauge", "Connections accepted by the kernel that no worker has taken yet."),
    "listen_queue_max": ("gauge", "The listener's backlog."),
    "worker_exits_total": ("counter", "Workers that exited, by reason."),
    "reloads_total": ("counter", "Reloads (HUP)."),
    "start_time_seconds": ("gauge", "When the master started, in seconds since the epoch."),
}


def exit_reason(proc: Proc, status: int, why: int) -> str:
    """Why a reaped worker exited: killed by us, left on its own (its slot says ``why``),
    crashed (a non-zero status or a signal we did not send), or stopped when told."""
    if proc.killed:
        return "request_timeout" if proc.seq is not None else "graceful_timeout"
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return "crashed"
    return "recycled" if why == RECYCLED else "rss" if why == RSS else "stopped"


def request_of(line: str) -> tuple[str, str]:
    """(method, path) of a request line; the query string (where tokens live) left out."""
    method, _, rest = line.partition(" ")
    return method, rest.partition(" ")[0].partition("?")[0].partition("#")[0]


def metrics_text(snap: Mapping[str, Any]) -> str:
    """``snap`` (Stats.snapshot) in Prometheus's text exposition format, version 0.0.4."""
    w, queues = snap["workers"], snap["listen_queue"]
    quoted = {k: k.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k in queues}
    samples = {name: [("", snap[name])] for name in FAMILIES if name in snap} | {
        "workers": [('{state="busy"}', w["busy"]), ('{state="idle"}', w["idle"])],
        "workers_max": [("", w["max"])],
        "listen_queue": [(f'{{listener="{quoted[k]}"}}', v["queued"]) for k, v in queues.items()],
        "listen_queue_max": [(f'{{listener="{quoted[k]}"}}', v["max"]) for k, v in queues.items()],
        "worker_exits_total": [(f'{{reason="{k}"}}', v) for k, v in snap["worker_exits_total"].items()],
    }
    out = []
    for name, (kind, text) in FAMILIES.items():
        out.append(f"# HELP starlet_py_{name} {text}\n# TYPE starlet_py_{name} {kind}\n")
        out += [f"starlet_py_{name}{labels} {value!r}\n" for labels, value in samples[name]]
    return "".join(out)
