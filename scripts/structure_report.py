#!/usr/bin/env python3
"""The shape of the code, measured (issue 14): sizes, import cycles, SQL in the UI, hand-written
worker loops, private cross-object accesses.

    python3 scripts/structure_report.py [--root DIR] [--json]

`tests/test_structure.py` uses the same functions to keep the shape from regressing, so what this
prints is what the tests enforce. Stdlib only (ruff is asked for the private-access count when it
is installed).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# An SQL statement in a string: upper-case keywords as we write SQL, or SQLite's JSON functions.
SQL_RE = re.compile(
    r"\bSELECT\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bPRAGMA\b"
    r"|\bCREATE\s+(?:TABLE|INDEX|TRIGGER|VIEW)\b|\bDROP\s+(?:TABLE|INDEX|TRIGGER|VIEW)\b"
    r"|\bjson_each\b|\bjson_extract\b|\bjson_group_array\b")


@dataclass
class ClassSize:
    module: str
    name: str
    lines: int
    methods: int


@dataclass
class Module:
    name: str  # dotted: lima_tk.ui.app
    path: Path
    lines: int
    tree: ast.Module
    runtime_imports: set[str] = field(default_factory=set)  # module level and inside functions
    typing_imports: set[str] = field(default_factory=set)  # under `if TYPE_CHECKING:`


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(mod: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.name.split(".")
    if mod.path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _collect_imports(mod: Module, known: set[str]) -> None:
    def targets(node: ast.Import | ast.ImportFrom) -> set[str]:
        out: set[str] = set()
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:  # `from pkg import mod` depends on pkg.mod; `from pkg.mod import Name` on pkg.mod
            base = _resolve(mod, node)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for name in names:
            # `from lima_tk.ui import dialogs` names a module; `from lima_tk.ui.app import App` its module
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != mod.name:
                out.add(name)
        return out

    def walk(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            (mod.typing_imports if typing_only else mod.runtime_imports).update(targets(node))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                walk(child, True)
            for child in node.orelse:
                walk(child, typing_only)
        else:
            for child in ast.iter_child_nodes(node):
                walk(child, typing_only)

    walk(mod.tree, False)


def load_modules(root: Path = ROOT, package: str = "lima_tk") -> dict[str, Module]:
    mods: dict[str, Module] = {}
    for path in sorted((root / package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = module_name(path, root)
        mods[name] = Module(name, path, len(text.splitlines()), ast.parse(text, str(path)))
    known = set(mods)
    for mod in mods.values():
        _collect_imports(mod, known)
    return mods


def cycles(mods: dict[str, Module], typing: bool = False, allow_typing_to: tuple[str, ...] = ()) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan). `typing`: TYPE_CHECKING
    imports count too, except those of modules named in `allow_typing_to` (Protocol modules)."""
    graph: dict[str, set[str]] = {}
    for name, m in mods.items():
        edges = set(m.runtime_imports)
        if typing:
            edges |= {t for t in m.typing_imports if not t.endswith(allow_typing_to) or not allow_typing_to}
        graph[name] = {e for e in edges if e in mods}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sorted(out)


def class_sizes(mods: dict[str, Module], prefix: str = "lima_tk.ui") -> list[ClassSize]:
    out = []
    for m in mods.values():
        if not (m.name == prefix or m.name.startswith(prefix + ".")):
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ClassDef):
                methods = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in node.body)
                out.append(ClassSize(m.name, node.name, (node.end_lineno or node.lineno) - node.lineno + 1, methods))
    return sorted(out, key=lambda c: -c.lines)


def sql_strings(mods: dict[str, Module], prefix: str = "lima_tk.ui") -> list[tuple[str, int, str]]:
    """(module, line, text) of every string constant that holds SQL, in modules under `prefix`."""
    out = []
    for m in mods.values():
        if not (m.name == prefix or m.name.startswith(prefix + ".")):
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_RE.search(node.value):
                out.append((m.name, node.lineno, node.value.strip().splitlines()[0][:70]))
    return sorted(out)


def attribute_uses(mods: dict[str, Module], attr: str, prefix: str = "lima_tk") -> list[tuple[str, int]]:
    """Where `<something>.<attr>` is read, e.g. `store.conn` (self.<attr> excluded)."""
    out = []
    for m in mods.values():
        if not m.name.startswith(prefix):
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Attribute) and node.attr == attr and not (
                    isinstance(node.value, ast.Name) and node.value.id == "self"):
                out.append((m.name, node.lineno))
    return sorted(out)


def calls_named(mods: dict[str, Module], dotted: str, prefix: str = "lima_tk.ui") -> list[tuple[str, int]]:
    """Where `threading.Thread(...)` (say) is called in modules under `prefix`."""
    owner, _, name = dotted.rpartition(".")
    out = []
    for m in mods.values():
        if not (m.name == prefix or m.name.startswith(prefix + ".")):
            continue
        for node in ast.walk(m.tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == name and isinstance(f.value, ast.Name) \
                    and f.value.id == owner:
                out.append((m.name, node.lineno))
            elif isinstance(f, ast.Name) and f.id == name and not owner:
                out.append((m.name, node.lineno))
    return sorted(out)


def imports_module(mods: dict[str, Module], target: str, prefix: str = "lima_tk") -> list[str]:
    """Modules under `prefix` that import `target` (or a submodule of it), at any level."""
    out = []
    for m in mods.values():
        if not m.name.startswith(prefix):
            continue
        for node in ast.walk(m.tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == target or n.startswith(target + ".") for n in names):
                out.append(m.name)
                break
    return sorted(out)


def private_accesses(root: Path = ROOT, paths: tuple[str, ...] = ("lima_tk",)) -> dict[str, int] | None:
    """ruff's SLF001 findings per file, or None when ruff is not installed."""
    try:
        r = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "SLF001", "--output-format", "json",
                            "--no-cache", "--isolated", *paths], cwd=root, capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode not in (0, 1) or not r.stdout.strip().startswith("["):
        return None
    counts: dict[str, int] = {}
    for item in json.loads(r.stdout):
        name = str(Path(item["filename"]).resolve().relative_to(root.resolve()))
        counts[name] = counts.get(name, 0) + 1
    return counts


def report(root: Path = ROOT) -> dict:
    mods = load_modules(root)
    ui = {n: m for n, m in mods.items() if n.startswith("lima_tk.ui")}
    return {
        "modules_ui": sorted(((n, m.lines) for n, m in ui.items()), key=lambda x: -x[1]),
        "modules_all_over_800": sorted(((n, m.lines) for n, m in mods.items() if m.lines > 800),
                                       key=lambda x: -x[1]),
        "classes_ui": [(c.module, c.name, c.lines, c.methods) for c in class_sizes(mods)],
        "cycles_runtime": cycles(mods),
        "cycles_with_type_checking": cycles(mods, typing=True),
        "sql_strings_ui": sql_strings(mods),
        "store_conn_outside_store": [(n, ln) for n, ln in attribute_uses(mods, "conn")
                                     if not n.startswith("lima_tk.store")],
        "threads_started_in_ui": calls_named(mods, "threading.Thread"),
        "queues_drained_in_ui": _get_nowait(mods),
        "tkinter_outside_ui": [n for n in imports_module(mods, "tkinter") if not n.startswith("lima_tk.ui")],
        "private_accesses": private_accesses(root),
    }


def _get_nowait(mods: dict[str, Module]) -> list[tuple[str, int]]:
    out = []
    for m in mods.values():
        if m.name.startswith("lima_tk.ui"):
            for node in ast.walk(m.tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                        and node.func.attr == "get_nowait":
                    out.append((m.name, node.lineno))
    return sorted(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=str(ROOT), help="a checkout (default: this one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = report(Path(args.root))
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print("UI modules (lines):")
    for n, lines in r["modules_ui"]:
        print(f"  {lines:5d}  {n}")
    print("Modules over 800 lines (all of lima_tk):", r["modules_all_over_800"] or "none")
    print("UI classes (lines, methods), largest first:")
    for mod, name, lines, methods in r["classes_ui"][:15]:
        print(f"  {lines:5d} {methods:4d}  {mod}.{name}")
    print("Import cycles (runtime imports, lazy ones included):", r["cycles_runtime"] or "none")
    print("Import cycles (TYPE_CHECKING imports counted too):", r["cycles_with_type_checking"] or "none")
    print(f"SQL strings in ui/: {len(r['sql_strings_ui'])}")
    for n, ln, text in r["sql_strings_ui"]:
        print(f"  {n}:{ln}  {text}")
    print(f"store.conn outside lima_tk/store: {len(r['store_conn_outside_store'])}",
          [f"{n}:{ln}" for n, ln in r["store_conn_outside_store"]])
    print(f"threading.Thread(...) in ui/: {len(r['threads_started_in_ui'])}",
          [f"{n}:{ln}" for n, ln in r["threads_started_in_ui"]])
    print(f"queue get_nowait() drains in ui/: {len(r['queues_drained_in_ui'])}",
          [f"{n}:{ln}" for n, ln in r["queues_drained_in_ui"]])
    print("tkinter imported outside ui/:", r["tkinter_outside_ui"] or "none")
    pa = r["private_accesses"]
    if pa is None:
        print("Private accesses (ruff SLF001): ruff not installed")
    else:
        print(f"Private accesses (ruff SLF001) in lima_tk: {sum(pa.values())}", pa)
    return 0


if __name__ == "__main__":
    sys.exit(main())
