"""Layers point one way: the import graph of admitone's packages, read from the source.

Two layers, by file role (CONVENTIONS.md, "files by role"):

* **The outer layer** calls the domains and is called by nobody but the app: each
  domain's ``api.py`` (JSON routes) and ``tasks.py`` (jobs), the whole web front
  (``admitone/web``), and the modules that assemble the application (``app.py``,
  ``main.py``, ``cli.py``, ``demo.py``, ``models.py``, the migrations, and the site
  relay's app, ``relay/app.py``). They may import
  any domain; the app mounts them through the registry (``admitone/domains.py``).
* **The inner layer** is everything else: each domain's models, services, queries,
  errors and schemas, and the shared modules (``db``, ``deps``, ``jobs``, ``metrics``,
  ``languages``...).

The rules:

1. Nothing outside ``admitone/web`` imports it (anywhere in a module, function bodies
   included), but ``app.py``, which installs the front, and ``relay/app.py``, which
   installs the scanner's part of it at a site relay. The registry names the page
   routers as strings and loads them only when the app asks.
2. No inner module imports an outer one, so the outer layer never closes a cycle.
3. The inner modules' imports, taken per package (``admitone.orders.buying`` counts as
   ``orders``, ``admitone/jobs.py`` as ``jobs``; the module's top-level imports,
   those under ``if TYPE_CHECKING`` left out), form cycles only through the edges listed
   in ALLOWED_CYCLE_EDGES, each with its reason. An import that closes a new cycle fails
   with the cycle it closes; an entry that no longer closes one fails too, so the list
   stays true.

Why per role and not per package only: a domain package holds both layers (its
``api.py`` imports ``deps``, which imports ``accounts`` for the caller), so a graph of
whole packages would show every domain in one cycle through ``deps`` and say nothing.

Run ``python -m tests.test_layers`` to print the inner graph's cycles and their imports.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "admitone"
OUTER_ROLES = frozenset({"api", "tasks"})  # file names of a domain's outer modules
ASSEMBLY = frozenset(
    {
        "admitone.app",
        "admitone.main",
        "admitone.cli",
        "admitone.demo",
        "admitone.models",
        "admitone.relay.app",
    }
)
# The applications, which install the web front: upstream's, and the site relay's (its
# gates' browsers load the scanner page from it).
APPS = frozenset({"admitone.app", "admitone.relay.app"})

# Edges of the inner package graph that lie on a cycle, and why the cycle is right (for
# now). The selling core: events own the ticket types and their stock (events.stock),
# orders hold and sell seats of them, payments pay for any purpose, tickets are issued
# for paid orders.
_CANCEL = (
    "an event's cancellation cancels its pending orders (events.service calls "
    "orders.event_cancellation) and a ticket type with orders cannot be removed "
    "(events.queries reads orders): an event's lifecycle reaches its orders. Could become "
    "a handler that orders registers for 'event cancelled', like payments' purposes"
)
_PAYMENT = (
    "orders open and refund payments and register the 'order' purpose (orders.paying, "
    "orders.refunds, orders.fulfilment -> payments); payments know no orders, but the "
    "payout summary reads the event it sums (payments.payouts -> events.models), and "
    "events reach their orders (_CANCEL)"
)
_TICKETS = (
    "a refunded order revokes its tickets (orders.fulfilment -> tickets.service); a ticket "
    "is read with its order, whose buyer may open it (tickets -> orders.models)"
)
_ACCESS = (
    "who may act is decided from an organization's memberships (authorization reads "
    "organizations.models), and the organizations service acts under that decision "
    "(OrgAccess): module by module the imports point one way (authorization -> "
    "organizations.models, organizations.service -> authorization)"
)

ALLOWED_CYCLE_EDGES: dict[tuple[str, str], str] = {
    ("events", "orders"): _CANCEL,
    ("orders", "events"): "an order is for an event's ticket types (and takes its stock)",
    ("orders", "payments"): _PAYMENT,
    ("payments", "events"): _PAYMENT,
    ("orders", "tickets"): _TICKETS,
    ("tickets", "orders"): _TICKETS,
    ("tickets", "events"): "a ticket shows its event and ticket type",
    ("authorization", "organizations"): _ACCESS,
    ("organizations", "authorization"): _ACCESS,
}


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    imported: str  # module name (or the package, for "from admitone import x")
    line: int
    top_level: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_outer(module: str) -> bool:
    parts = module.split(".")
    return (
        module in ASSEMBLY
        or parts[1:2] in (["web"], ["migrations"])
        or (len(parts) >= 3 and parts[-1] in OUTER_ROLES)
    )


def package_of(module: str) -> str:
    """``admitone.orders.buying`` -> ``orders``; ``admitone.jobs`` -> ``jobs``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_module(name: str) -> bool:
    path = ROOT.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _top_level_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue  # type hints only: not run
        if isinstance(node, ast.If | ast.Try):
            yield from _top_level_nodes(node.body)
            yield from _top_level_nodes(node.orelse)
            for handler in getattr(node, "handlers", []):
                yield from _top_level_nodes(handler.body)
            continue
        yield node


def imports_of(path: Path) -> list[Import]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    top_level = {id(node) for node in _top_level_nodes(tree.body)}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # "from admitone import metrics" imports the module admitone.metrics.
            names = [
                f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                for alias in node.names
            ]
        for name in dict.fromkeys(names):  # once each, in order
            if name == "admitone" or name.startswith("admitone."):
                found.append(Import(module, name, node.lineno, id(node) in top_level))
    return found


def all_imports() -> list[Import]:
    return [
        found
        for path in sorted(ROOT.rglob("*.py"))
        if "versions" not in path.parts
        for found in imports_of(path)
    ]


def inner_graph(imports: list[Import]) -> dict[tuple[str, str], list[Import]]:
    """(package, package) -> the top-level imports between inner modules behind it."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for found in imports:
        if not found.top_level or is_outer(found.importer) or is_outer(found.imported):
            continue
        edge = (package_of(found.importer), package_of(found.imported))
        if edge[0] != edge[1]:
            edges[edge].append(found)
    return dict(edges)


def strongly_connected(edges: set[tuple[str, str]]) -> list[set[str]]:
    """Tarjan's components of more than one package."""
    successors: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(edges):
        successors[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in successors[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted({node for edge in edges for node in edge}):
        if node not in index:
            visit(node)
    return components


def edges_on_cycles(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    components = strongly_connected(edges)
    return {
        (source, target)
        for source, target in edges
        if any({source, target} <= component for component in components)
    }


def shortest_path(edges: set[tuple[str, str]], start: str, goal: str) -> list[str]:
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for source, target in sorted(edges):
                if source == node and target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    return paths.get(goal, [])


def _where(imports: list[Import]) -> str:
    places = dict.fromkeys(f"{found.importer} (line {found.line})" for found in imports)
    return ", ".join(list(places)[:3])


# --- the tests -------------------------------------------------------------------------


def test_only_the_app_imports_the_web_front() -> None:
    wrong = [
        f"{found.importer}, line {found.line}: imports {found.imported}"
        for found in all_imports()
        if found.imported.startswith("admitone.web")
        and not found.importer.startswith("admitone.web")
        and found.importer not in APPS
    ]
    assert not wrong, (
        "Only admitone/web, app.py and relay/app.py may import the web front; what both "
        "sides need "
        "belongs in a neutral module (admitone/languages.py, admitone/deps.py):\n"
        + "\n".join(wrong)
    )


def test_no_inner_module_imports_the_outer_layer() -> None:
    wrong = [
        f"{found.importer}, line {found.line}: imports {found.imported}"
        for found in all_imports()
        if not is_outer(found.importer) and is_outer(found.imported)
    ]
    assert not wrong, (
        "Services, models and shared modules must not import routes, jobs, pages or the "
        "app (move what they need next to the service):\n" + "\n".join(wrong)
    )


def test_the_package_graph_has_only_the_documented_cycles() -> None:
    graph = inner_graph(all_imports())
    edges = set(graph)
    on_cycles = edges_on_cycles(edges)
    problems = []
    for source, target in sorted(on_cycles - set(ALLOWED_CYCLE_EDGES)):
        cycle = [source, *shortest_path(edges, target, source)]
        problems.append(
            f"new cycle {' -> '.join(cycle)}: {source} -> {target} is imported by "
            f"{_where(graph[source, target])}. Import the other way round, move the code "
            f"to the package that owns it, or, if the cycle is right, add "
            f"({source!r}, {target!r}) to ALLOWED_CYCLE_EDGES with the reason."
        )
    for source, target in sorted(set(ALLOWED_CYCLE_EDGES) - on_cycles):
        problems.append(
            f"({source!r}, {target!r}) no longer closes a cycle: remove it from "
            f"ALLOWED_CYCLE_EDGES."
        )
    assert not problems, (
        "The package import graph changed (one new import can put several edges on a "
        "cycle: look for the one you added):\n" + "\n".join(problems)
    )


def test_the_graph_reader_sees_what_python_runs() -> None:
    # A sample of known imports, so that a change in the reader cannot empty the graph.
    graph = inner_graph(all_imports())
    assert ("orders", "events") in graph  # from admitone.events.models import ...
    assert ("checkin", "metrics") in graph  # from admitone import metrics
    assert ("deps", "tickets") in graph  # the key ring
    assert not any(source == "web" or target == "web" for source, target in graph)
    assert is_outer("admitone.orders.api") and is_outer("admitone.web.pages.checkout")
    assert not is_outer("admitone.orders.buying") and not is_outer("admitone.domains")


if __name__ == "__main__":
    graph = inner_graph(all_imports())
    for component in strongly_connected(set(graph)):
        print("cycle:", ", ".join(sorted(component)))
        for source, target in itertools.permutations(sorted(component), 2):
            if (source, target) in graph:
                print(f"  {source} -> {target}: {_where(graph[source, target])}")
