"""A worker's objects are freed by reference counting; the app's own cycles are still
collected (docs/design.md, "Memory")."""

from __future__ import annotations

from collections.abc import Callable

from tests.support import Reader, Server

REQUESTS = 3000


def test_an_apps_cyclic_garbage_is_collected_in_the_worker(make_server: Callable[..., Server]) -> None:
    server = make_server(
        "cycles:application",
        ["--max-reqs-per-child", "0", "--max-keepalive-reqs", str(REQUESTS + 1)],
        workers=1,
    )
    alive, pids = [], set()
    with Reader(server.connect()) as conn:
        for _ in range(REQUESTS):
            conn.send(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            resp = conn.read_response()
            assert resp.status == 200, resp
            count, pid = resp.body.split()
            alive.append(int(count))
            pids.add(int(pid))
    assert len(pids) == 1  # one worker served them all: its garbage piled up, or was collected
    # Never collected, every pair made would still be alive (3000, 60 MiB).
    assert max(alive) < REQUESTS // 2, max(alive)
    assert alive[-1] < alive[REQUESTS // 2 - 1] + REQUESTS // 2  # and collecting goes on
