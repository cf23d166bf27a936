"""The import graph of our own modules: no cycles, and the layers point one way.

Read from the source (every `import`, also those inside functions: a lazy import hides a cycle
from Python, not from a reader), so a new arrow the wrong way fails here before it confuses anyone.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("bluesky", "core", "config", "elonara", "invitations", "members", "network", "notifications", "feeds",
        "pages")
DOMAIN = ("elonara", "invitations", "network", "notifications")
# The floors: a module imports its own app and the floors below it; apps on one floor import none
# of each other. Reactions upward are signals the lower app sends and the higher one connects.
FLOORS = {"core": 0, "bluesky": 1, "members": 2, "elonara": 3, "network": 4, "invitations": 4, "notifications": 4,
          "feeds": 5, "pages": 5, "config": 5}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and "management" not in path.parts:
                found[_module_name(path)] = path
    return found


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def ours(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from pkg import mod` names a module too.
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                target = ours(name) if name.split(".")[0] in APPS else None
                # A package's own __init__ is not an arrow back from its modules.
                if target and target != module and not module.startswith(target + "."):
                    graph[module].add(target)
        graph.setdefault(module, set())
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_among_our_modules():
    assert _cycles(_import_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    # The check itself can fail: two modules importing each other are one cycle.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_the_protocol_package_imports_only_itself():
    graph = _import_graph()
    outside = {(m, t) for m, targets in graph.items() if m.startswith("bluesky.atproto")
               for t in targets if not t.startswith("bluesky.atproto")}
    assert outside == set()


def test_bluesky_imports_only_the_protocol_and_the_foundation():
    # The user model is reached through get_user_model() and named for the type checker by
    # core.users: bluesky sits below members.
    graph = _import_graph()
    wrong = {(m, t) for m, targets in graph.items() if m.split(".")[0] == "bluesky"
             for t in targets if t.split(".")[0] not in ("bluesky", "core")}
    assert wrong == set()


def test_the_foundation_imports_no_app():
    graph = _import_graph()
    wrong = {(m, t) for m, targets in graph.items() if m.split(".")[0] == "core"
             for t in targets if t.split(".")[0] != "core"}
    assert wrong == set()


def test_no_domain_app_is_imported_by_the_protocol_side():
    graph = _import_graph()
    wrong = {(m, t) for m, targets in graph.items() if m.split(".")[0] in ("bluesky", "core")
             for t in targets if t.split(".")[0] in DOMAIN}
    assert wrong == set()


def test_the_feed_generator_is_a_top_floor_app():
    # feeds composes elonara, network, members and bluesky; only config (urls, settings) names it.
    graph = _import_graph()
    wrong = {(m, t) for m, targets in graph.items() if m.split(".")[0] not in ("feeds", "config")
             for t in targets if t.split(".")[0] == "feeds"}
    assert wrong == set()


def test_the_pages_app_is_the_top_floor():
    # pages composes every app and holds the table of what each page shows: only config imports it.
    graph = _import_graph()
    wrong = {(m, t) for m, targets in graph.items() if m.split(".")[0] not in ("pages", "config")
             for t in targets if t.split(".")[0] == "pages"}
    assert wrong == set()


def _app(module: str) -> str:
    return module.split(".")[0]


def _upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports of an app on the same floor or a higher one (module -> imported module)."""
    return {(m, t) for m, targets in graph.items() for t in targets
            if _app(m) != _app(t) and FLOORS[_app(t)] >= FLOORS[_app(m)]}


def _two_way_pairs(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    arrows = {(_app(m), _app(t)) for m, targets in graph.items() for t in targets if _app(m) != _app(t)}
    return {tuple(sorted(arrow)) for arrow in arrows if arrow[::-1] in arrows}


def test_every_app_has_a_floor():
    assert set(FLOORS) == set(APPS)


def test_apps_import_only_the_floors_below_them():
    assert _upward(_import_graph()) == set()


def test_no_two_apps_import_each_other():
    assert _two_way_pairs(_import_graph()) == set()


def test_the_layer_checks_find_an_import_upward_and_a_two_way_pair():
    # The checks themselves can fail: bluesky naming members' model, two domain apps meshed.
    graph = {"bluesky.graph": {"members.models", "core.metrics"}, "members.services": {"bluesky.services"},
             "network.services": {"elonara.models"}, "notifications.services": {"invitations.models"},
             "invitations.models": {"notifications.models"}}
    assert _upward(graph) == {("bluesky.graph", "members.models"),
                              ("notifications.services", "invitations.models"),
                              ("invitations.models", "notifications.models")}
    assert _two_way_pairs(graph) == {("bluesky", "members"), ("invitations", "notifications")}
