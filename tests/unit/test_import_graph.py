"""The house rules of the layout, checked on the source (issue 16): data flows one way.

- ``protocol`` imports nothing of ours but itself; ``ui`` only itself and ``protocol``.
- ``edge_agent`` never imports ``hub`` and ``hub`` never imports ``edge_agent``.
- No import circles between modules (lazy imports inside functions count: a circle hidden in a
  function is still a circle).
- No stage folder imports a stage further down its pipeline (``RANKS`` below is the pipeline
  order of docs/architecture.md: a stage may import only stages of a lower rank, or its own).

Parsed with ``ast`` (nothing is imported), so it is fast and sees lazy imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = ("edge_agent", "hub", "protocol", "ui")

# Pipeline order per tier. A stage of rank r may import stages of rank < r (and itself).
# Equal ranks are independent of each other: importing one from the other is a finding too.
RANKS: dict[str, float] = {
    # edge: capture -> detect -> seats -> state -> store -> uplink; the staff page reads the store.
    # Leaf modules (they import nothing of ours) that settings composes its sections from come first.
    "edge_agent.types": 0, "edge_agent.seats.rules": 0, "edge_agent.vision.backends": 0,
    "edge_agent.settings": 1,
    "edge_agent.vision": 2,
    "edge_agent.seats": 3,
    "edge_agent.storage": 4,
    "edge_agent.uplink": 5, "edge_agent.local_page": 5,
    "edge_agent.agent": 6,
    "edge_agent.demo": 7,
    "edge_agent.commands": 8,
    "edge_agent.cli": 9,
    # hub: mqtt -> ingest -> live/stats/alerts -> pages; the kiosk link reads the seat-system and
    # reconciles it with the camera states; app wires, demo and cli run it.
    "hub.db": 0, "hub.system": 0, "hub.kiosk.settings": 0,
    "hub.settings": 1,
    "hub.params": 2, "hub.auth": 2, "hub.mqtt": 2,
    "hub.live": 3, "hub.stores": 3,
    # the rollups are written by the ingest writer in the events' transaction: the pure statistics,
    # the pure rollups and their storage sit before ingest, in that order
    "hub.stats.compute": 3.1, "hub.stats.rollup": 3.2, "hub.stats.rollup_db": 3.3,
    "hub.ingest": 4,
    "hub.stats": 5, "hub.alerts": 5,
    "hub.kiosk": 6,
    "hub.web": 7,
    "hub.app": 8,
    "hub.demo_history": 9, "hub.demo": 10,
    "hub.cli": 11, "hub.__main__": 12,
}


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in OURS:
        for f in (REPO / pkg).rglob("*.py"):
            if "migrations" in f.parts:  # Alembic scripts are loaded by Alembic, not imported
                continue
            parts = f.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = f
    return mods


MODULES = _modules()


def _resolve(name: str) -> str:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(name: str) -> set[str]:
    """Our modules that ``name`` imports, anywhere in the file."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(), str(MODULES[name]))):
        if isinstance(node, ast.Import):
            out |= {_resolve(a.name) for a in node.names if a.name.split(".")[0] in OURS}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in OURS:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    out.add(full if full in MODULES else _resolve(node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{name}: relative import; this project imports absolutely")
    out.discard(name)
    out.discard("")
    return out


GRAPH = {m: _imports(m) for m in MODULES}


def _stage(module: str) -> str:
    """The longest prefix with a rank: ``hub.ingest.writer`` -> ``hub.ingest``; ``edge_agent.agent`` ->
    itself; ``edge_agent.vision.backends.tflite`` -> ``edge_agent.vision.backends``."""
    parts = module.split(".")
    for n in (3, 2, 1):
        if ".".join(parts[:n]) in RANKS:
            return ".".join(parts[:n])
    return ".".join(parts[:2])


def test_the_graph_is_not_empty():
    # A parse that found nothing would pass every rule below.
    assert len(MODULES) > 60
    assert "hub.app" in GRAPH and GRAPH["hub.app"]
    assert "edge_agent.agent" in GRAPH and GRAPH["edge_agent.agent"]


def test_protocol_and_ui_import_nothing_of_the_tiers():
    bad = [f"{m} -> {i}" for m, deps in GRAPH.items() for i in deps
           if (m.startswith("protocol") and not i.startswith("protocol"))
           or (m.startswith("ui") and not i.startswith(("ui", "protocol")))]
    assert not bad, "shared packages must not depend on a tier:\n" + "\n".join(sorted(bad))


def test_edge_and_hub_never_import_each_other():
    bad = [f"{m} -> {i}" for m, deps in GRAPH.items() for i in deps
           if m.split(".")[0] in ("edge_agent", "hub") and i.split(".")[0] in ("edge_agent", "hub")
           and m.split(".")[0] != i.split(".")[0]]
    assert not bad, "\n".join(sorted(bad))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_between_modules():
    assert not (found := _cycles(GRAPH)), f"import circles: {found}"


def test_every_stage_has_a_rank():
    stages = {_stage(m) for m in MODULES if m.split(".")[0] in ("edge_agent", "hub")} - {"edge_agent", "hub"}
    assert not (missing := sorted(stages - RANKS.keys())), (
        f"stage folders without a place in the pipeline: {missing}; add them to RANKS and docs/architecture.md")


@pytest.mark.parametrize("tier", ["edge_agent", "hub"])
def test_no_stage_imports_a_stage_further_down_the_pipeline(tier):
    bad = []
    for m, deps in GRAPH.items():
        if not m.startswith(tier + ".") or _stage(m) not in RANKS:
            continue
        for i in deps:
            a, b = _stage(m), _stage(i)
            if a != b and b in RANKS and RANKS[b] >= RANKS[a]:
                bad.append(f"{m} ({a}, rank {RANKS[a]}) -> {i} ({b}, rank {RANKS[b]})")
    assert not bad, "imports running back up the pipeline:\n" + "\n".join(sorted(bad))
