"""The layering rules of docs/architecture.md, checked on the source (the next engineer's room stays findable).

Every import counts, at module level and inside functions (a lazy import still ties two modules
together); only ``if TYPE_CHECKING:`` blocks are left out, since they never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: set[str]) -> list[str]:
    """Modules an import statement reaches: ``from . import x`` reaches ``package.x`` when that is a
    module, else (a name defined in the package) the package itself."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = module.split(".")
        if path.name != "__init__.py":
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the package's modules it imports (every import that can run)."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in skipped:
                continue
            for name in _imported(module, path, node, set(modules)):
                while name and name not in modules:  # "pkg.mod.func" → "pkg.mod"
                    name = name.rpartition(".")[0]
                if name and name != module:
                    graph[module].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_scan_sees_imports_inside_functions():
    """The check can fail: a lazy import closing a loop is a cycle."""
    graph = {"p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": set()}
    assert cycles(graph) == [["p.a", "p.b"]]
    tree = ast.parse("def f():\n    from .b import g\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _imported("p.a", Path("a.py"), node, {"p", "p.a", "p.b"}) == ["p.b"]
    tree = ast.parse("from . import b, VERSION\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _imported("p.a", Path("a.py"), node, {"p", "p.a", "p.b"}) == ["p.b", "p"]


def test_recsys_core_has_no_import_cycle():
    assert cycles(import_graph("recsys_core")) == []


def test_the_core_never_imports_streamlit_or_the_dashboard():
    for module, path in _modules("recsys_core").items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in {"streamlit", "dashboard", "pages"} for n in names), module


# docs/architecture.md's layers of recsys_core: a module imports only from its own layer or below.
LAYERS = {
    1: {"errors", "progress", "parallel", "durable", "heavy_imports", "settings"},
    2: {"loading", "schema", "text", "ratings", "encoder", "embedding_cache", "encoding", "catalog", "catalog_growth", "splits"},
    3: {"model", "batching", "scoring", "optimiser", "negatives", "training", "evaluation", "retrieval", "baselines", "metrics"},
    4: {"recommender", "artifacts", "registry", "exports"},
    5: {"explain"},
    6: {"pipeline", "demo", "commands", "cli", "batch", "compare", "update", "ray_training", "__main__"},
}


def _layer(module: str) -> int:
    """The layer of ``recsys_core.X`` or ``recsys_core.X.Y`` (the package itself re-exports everything: 7)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 7
    found = [n for n, names in LAYERS.items() if parts[1] in names]
    assert found, f"{module} is in no layer of docs/architecture.md: add it there and to LAYERS"
    return found[0]


def test_every_import_goes_to_the_same_layer_or_below():
    upward = [
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, targets in import_graph("recsys_core").items()
        for b in targets
        if _layer(b) > _layer(a)
    ]
    assert upward == []


def test_the_floor_imports_nothing_of_the_package_but_errors():
    graph = import_graph("recsys_core")
    for name in LAYERS[1]:
        assert graph[f"recsys_core.{name}"] <= {"recsys_core.errors"}, name


def test_a_recommender_never_knows_its_file_format():
    assert "recsys_core.artifacts" not in import_graph("recsys_core")["recsys_core.recommender"]


def test_no_module_is_over_600_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for package in ("recsys_core", "dashboard")
        for p in (ROOT / package).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_pages_are_layout_and_never_touch_session_state_directly():
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        assert "session_state" not in path.read_text(encoding="utf-8"), path.name
    assert len((ROOT / "pages" / "4_Explain.py").read_text(encoding="utf-8").splitlines()) <= 200


def test_no_merge_conflict_markers_are_left():
    """A merge once left its markers in docs/benchmarks.md unnoticed: every text file of the repository is checked."""
    import subprocess

    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    marked = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".txt", ".toml", ".sh", ".yml", ".yaml", ".cfg", ".json", ".csv"} or not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        marked += [f"{name}:{i}" for i, line in enumerate(lines, 1)
                   if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "======="]
    assert marked == []
