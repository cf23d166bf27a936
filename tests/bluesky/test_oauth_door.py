"""`BlueskyOAuthService` is the one door for a member's Bluesky identity: start, complete, get for
member, is connected, disconnect. Outside the `bluesky` app nothing reaches its steps directly.

Read from the source with `ast` (like `tests/test_import_graph.py`): any import of a step, any
attribute or name spelling one, in any module outside `bluesky/` (the tests and the benches
included) fails here.
"""

import ast
from pathlib import Path

from bluesky import selectors, services
from bluesky.services import BlueskyOAuthService

ROOT = Path(__file__).resolve().parent.parent.parent
SKIPPED_DIRS = {".venv", "node_modules", "var", "migrations", ".git"}

# The steps behind the door, in `bluesky/services.py` and `bluesky/selectors.py`.
STEPS = {
    "_oauth_start", "_oauth_reauthorize", "_oauth_complete", "_pending_request_take", "_identity_keep",
    "_identity_store", "_identity_disconnect", "_revoke_quietly", "identity_summary_of",
}
# The module-level names the door replaced: spelling one again outside the app means a second door.
FORMER_DOORS = {
    "oauth_start", "oauth_reauthorize", "oauth_complete", "identity_disconnect", "identity_get_for_member",
    "identity_is_connected",
}
DOOR_METHODS = ("start", "complete", "get_identity_for_member", "is_connected", "disconnect")


def _outside_modules() -> list[Path]:
    found = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] == "bluesky" or SKIPPED_DIRS & set(parts):
            continue
        found.append(path)
    return found


def _step_uses(tree: ast.AST) -> list[tuple[int, str]]:
    forbidden = STEPS | FORMER_DOORS
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bluesky"):
            uses += [(node.lineno, alias.name) for alias in node.names if alias.name in forbidden]
        elif isinstance(node, ast.Attribute) and node.attr in forbidden:
            uses.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in forbidden:
            uses.append((node.lineno, node.id))
    return uses


def test_nothing_outside_bluesky_reaches_the_identity_steps():
    modules = _outside_modules()
    assert any(p.parts[-2:] == ("members", "services.py") for p in modules)  # the scan sees the apps
    offenders = [f"{path.relative_to(ROOT)}:{line} {name}"
                 for path in modules for line, name in _step_uses(ast.parse(path.read_text()))]
    assert offenders == [], "call BlueskyOAuthService instead of its steps:\n" + "\n".join(offenders)


def test_the_scan_finds_a_step_reached_directly():
    # The detector itself, on the shapes a caller would write.
    source = ("from bluesky.services import _oauth_start\n"
              "from bluesky import services\n"
              "services.oauth_complete(params={}, browser_secret='')\n"
              "services.BlueskyOAuthService.disconnect(member=m)\n")
    assert [name for _, name in _step_uses(ast.parse(source))] == ["_oauth_start", "oauth_complete"]


def test_the_door_has_every_method_and_the_steps_exist_behind_it():
    for method in DOOR_METHODS:
        assert callable(getattr(BlueskyOAuthService, method)), method
    # The steps named above are real (a renamed step would make the scan check nothing) ...
    defined = {name for module in (services, selectors) for name in vars(module)}
    assert STEPS <= defined, STEPS - defined
    # ... and no public second door sits beside the class.
    assert not FORMER_DOORS & defined, FORMER_DOORS & defined
