"""Mutation testing with mutmut 3 for one module or all of them (slow: not run in CI).

    scripts/mutation.sh [MODULE ...] [--children N] [--sample N] [--again]

MODULE is one of the names in MODULES below (default: all). Each module runs in its own work
folder (a copy of lima_tk/, tests/ and pyproject.toml with a [tool.mutmut] section for that
module), so nothing in the checkout is touched and two modules never share mutmut's caches.
Every mutant runs only the tests of its module's selection that call the mutated function (mutmut
maps that once per run), so the selections below are the fast tests that exercise each module.

At the end a table is printed, in the Markdown that docs/testing.md keeps:
mutants, killed (timeouts count as killed), survived (including "no tests"), equivalent: SQL-case
mutants (found by the script: a string of SQL whose letters only changed case, quoted values
untouched: SQLite reads it the same) plus those judged by hand and listed in docs/testing.md,
score = killed / (mutants - equivalent), and the wall time. The diffs of the survivors are left in
<work folder>/<module>/survivors.diff.

--sample N   test a random sample of N mutants per module (seed 17), for modules whose full run
             is too slow; the table says so.
--again      reuse the previous work folder and re-test only its survivors (after editing tests).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Module:
    mutate: tuple[str, ...]  # globs of files to mutate, relative to the checkout
    tests: tuple[str, ...]  # globs of test files that exercise them (fast ones: no GUI)


MODULES: dict[str, Module] = {
    "journal": Module(("lima_tk/store/journal.py",),
                      ("tests/test_journal*.py", "tests/test_store*.py", "tests/test_properties_store.py")),
    "assist": Module(("lima_tk/assist.py", "lima_tk/assist_errors.py"),
                     ("tests/test_assist*.py",)),
    "db": Module(("lima_tk/store/db.py",),
                 ("tests/test_store*.py", "tests/test_journal*.py", "tests/test_alternatives.py",
                  "tests/test_migrations.py", "tests/test_properties_store.py", "tests/test_list_queries.py",
                  "tests/test_import_bulk.py", "tests/test_stats.py", "tests/test_tokens.py")),
    "formats": Module(("lima_tk/formats/*.py",),
                      ("tests/test_formats*.py", "tests/test_hf_export.py", "tests/test_limagui.py",
                       "tests/test_interop.py", "tests/test_properties_formats.py", "tests/test_export_fidelity.py",
                       "tests/test_alternatives.py")),
    "tokens": Module(("lima_tk/tokens.py",), ("tests/test_token*.py", "tests/test_stats.py")),
}

# mutmut's exit codes -> what they mean (from mutmut/stats.py); anything else is "suspicious".
KILLED = {1, 3}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def equivalent_mutants() -> dict[str, str]:
    """Mutants judged equivalent (harmless), from docs/testing.md: lines "- `name`: why"."""
    doc = ROOT / "docs" / "testing.md"
    if not doc.exists():
        return {}
    out = {}
    for m in re.finditer(r"^- `(lima_tk\.[^`]+__mutmut_\d+)`:\s*(.*)$", doc.read_text("utf-8"), re.M):
        out[m.group(1)] = m.group(2)
    return out


# A string literal in SQL whose letters only changed case is the same statement: SQLite keywords
# and identifiers are case-insensitive. Only when the text in '...' (SQL string values) is untouched.
SQL_WORD = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|ORDER BY|LIMIT|VALUES|BETWEEN|ASC|DESC|SET)\b",
                      re.I)
QUOTED = re.compile(r"'[^']*'")


def sql_case_only(diff: str) -> bool:
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if not removed or len(removed) != len(added):
        return False
    for old, new in zip(removed, added, strict=True):
        if old == new:
            continue
        if old.lower() != new.lower() or not SQL_WORD.search(old) or QUOTED.findall(old) != QUOTED.findall(new):
            return False
    return True


def diffs(python: str, work: Path, env: dict[str, str], names: list[str]) -> dict[str, str]:
    """mutmut's diff of each mutant (as `mutmut show` prints it)."""
    if not names:
        return {}
    code = (
        "import json, sys\n"
        "from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant\n"
        "out = {n: get_diff_for_mutant(n, path=find_mutant(n).path) for n in sys.argv[1:]}\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([python, "-c", code, *names], cwd=work, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mutmut_available(python: str) -> bool:
    code = "import mutmut, sys; sys.exit(0 if int(mutmut.__version__.split('.')[0]) == 3 else 1)"
    return subprocess.run([python, "-c", code], capture_output=True).returncode == 0


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(name: str, mod: Module, work: Path, again: bool) -> list[str]:
    """Copy the checkout into `work` and write its mutmut config. Returns the test files."""
    tests = sorted({str(p.relative_to(ROOT)) for g in mod.tests for p in ROOT.glob(g)})
    if not tests:
        raise SystemExit(f"{name}: no test files match {mod.tests}")
    if not again and work.exists():
        shutil.rmtree(work)
    # mutants/ must exist before Python starts: it is on PYTHONPATH, and a path entry that is
    # missing at start-up is cached as "nothing here" (then `import tests` fails).
    (work / "mutants").mkdir(parents=True, exist_ok=True)
    for folder in ("lima_tk", "tests"):
        # Tests always come fresh; sources too (mutmut regenerates a mutated file whose source changed).
        shutil.copytree(ROOT / folder, work / folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    conftest = ROOT / "tests" / "conftest.py"
    has_profile = conftest.exists() and 'register_profile("mutation"' in conftest.read_text("utf-8")
    profile = ["--hypothesis-profile=mutation"] if has_profile else []  # (older checkouts have none)
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["lima_tk"]\n'
        f"only_mutate = {toml_list(list(mod.mutate))}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        # hypothesis: a short fixed-seed profile, so a mutant's verdict does not depend on luck
        f"pytest_add_cli_args = {toml_list([*profile, '-W', 'ignore'])}\n"
        "use_git_change_detection = false\n"
    )
    (work / "pyproject.toml").write_text(pyproject, "utf-8")
    return tests


def mutant_results(work: Path) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for meta in (work / "mutants").rglob("*.py.meta"):
        out.update(json.loads(meta.read_text("utf-8"))["exit_code_by_key"])
    return out


def keep_verdicts(work: Path, before: dict[str, int | None]) -> None:
    """After `--again` on a sample: mutmut forgets every verdict when the set of test files changed
    (a new test file); the sample's killed mutants stay killed (tests were only added), so their
    verdicts are put back instead of testing the whole sample again."""
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text("utf-8"))
        codes = data["exit_code_by_key"]
        changed = False
        for k, v in codes.items():
            if v is None and before.get(k) in KILLED | TIMEOUT:
                codes[k] = before[k]
                changed = True
        if changed:
            meta.write_text(json.dumps(data), "utf-8")


def generate_only(python: str, work: Path, env: dict[str, str]) -> list[str]:
    """Create the mutants without testing them (mutmut's own generation step), for sampling."""
    code = (
        "import os\n"
        "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, create_mutants\n"
        "os.makedirs('mutants', exist_ok=True)\n"
        "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n"
    )
    subprocess.run([python, "-c", code], cwd=work, env=env, check=True, capture_output=True)
    return sorted(mutant_results(work))


@dataclass
class Row:
    module: str
    mutants: int
    killed: int
    survived: int
    no_tests: int
    other: int
    equivalent: int
    sql_case: int
    seconds: float
    sampled_from: int | None = None

    @property
    def score(self) -> float:
        real = self.mutants - self.equivalent - self.sql_case
        return 100.0 * self.killed / real if real else 100.0


def run_module(name: str, args: argparse.Namespace, python: str) -> tuple[Row, list[str]]:
    mod = MODULES[name]
    work = Path(args.workdir) / name
    tests = [] if args.report else prepare(name, mod, work, args.again)
    env = dict(os.environ)
    env.pop("CI", None)
    # Subprocesses the tests start (the CLI, a second store process) import the mutated copy too;
    # MUTANT_UNDER_TEST reaches them through the environment.
    env["PYTHONPATH"] = str(work / "mutants") + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = str(Path(python).parent) + os.pathsep + env.get("PATH", "")
    env["HYPOTHESIS_PROFILE"] = "mutation"
    if args.report:  # only the table of the last run in this work folder
        return summarize(name, work, python, env, json.loads((work / "run.json").read_text()))
    mutmut = [python, "-c", "import sys; from mutmut.__main__ import cli; sys.exit(cli())", "run",
              "--max-children", str(args.children)]
    names: list[str] = []
    sampled_from = None
    sampled_again = False
    before = mutant_results(work)
    if args.again:
        names = [k for k, v in before.items() if v not in KILLED | TIMEOUT]
        last = json.loads((work / "run.json").read_text()) if (work / "run.json").exists() else {}
        if last.get("sampled_from"):  # a sampled run: only its sample (the others were never tested)
            sampled_again = True
            names = [k for k in names if k in set(last["names"])]
        if not names:
            print(f"{name}: no survivors to re-test")
    elif args.sample:
        everything = generate_only(python, work, env)
        sampled_from = len(everything)
        names = sorted(random.Random(17).sample(everything, min(args.sample, len(everything))))
    print(f"== {name}: mutating {', '.join(mod.mutate)}; tests: {' '.join(tests)}"
          + (f"; {len(names)} mutants" if names else ""), flush=True)
    t0 = time.monotonic()
    log = ""
    ok = True
    proc: subprocess.CompletedProcess | None = None
    if args.again and not sampled_again:
        # First the mutants of functions whose code changed since (mutmut made them anew, untested).
        # Not for a sample: a bare `mutmut run` would test every mutant outside it.
        proc = subprocess.run(mutmut, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace")
        log = proc.stdout
        ok = proc.returncode == 0
        names = [k for k in names if k in mutant_results(work)]  # a changed function's old names are gone
    if sampled_again:  # mutants of functions changed since are made anew (new names): keep what exists
        existing = set(generate_only(python, work, env))
        names = [k for k in names if k in existing]
    if not args.again or (names and ok):
        proc = subprocess.run([*mutmut, *names], cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        log += proc.stdout
    seconds = time.monotonic() - t0
    if sampled_again:
        keep_verdicts(work, before)
    (work / "mutmut.log").write_text(log, "utf-8")
    if proc is not None and proc.returncode != 0:
        print(log[-3000:])
        raise SystemExit(f"{name}: mutmut failed (exit {proc.returncode}); log in {work / 'mutmut.log'}")
    run = {"seconds": seconds, "names": names, "again": args.again, "sampled_from": sampled_from}
    if args.again and (work / "run.json").exists():  # the table is of the whole module: add the times
        run = {**json.loads((work / "run.json").read_text()), "seconds": seconds + json.loads(
            (work / "run.json").read_text())["seconds"]}
    (work / "run.json").write_text(json.dumps(run), "utf-8")
    return summarize(name, work, python, env, run)


def summarize(name: str, work: Path, python: str, env: dict[str, str], run: dict) -> tuple[Row, list[str]]:
    seconds, names, sampled_from = run["seconds"], run["names"], run["sampled_from"]
    results = mutant_results(work)
    if sampled_from:
        results = {k: v for k, v in results.items() if k in names}
    results = {k: v for k, v in results.items() if v is not None}
    equivalent = equivalent_mutants()
    survivors = sorted(k for k, v in results.items() if v not in KILLED | TIMEOUT)
    shown = diffs(python, work, env, survivors)
    sql_case = {k for k in survivors if sql_case_only(shown.get(k, ""))}
    (work / "survivors.diff").write_text("".join(f"# {k}{' (SQL case only)' if k in sql_case else ''}\n"
                                                 f"{shown.get(k, '')}\n" for k in survivors), "utf-8")
    row = Row(
        module=name,
        mutants=len(results),
        killed=sum(v in KILLED | TIMEOUT for v in results.values()),
        survived=sum(v in SURVIVED for v in results.values()),
        no_tests=sum(v in NO_TESTS for v in results.values()),
        other=sum(v not in KILLED | TIMEOUT | SURVIVED | NO_TESTS for v in results.values()),
        equivalent=sum(k in equivalent for k in survivors if k not in sql_case),
        sql_case=len(sql_case),
        seconds=seconds,
        sampled_from=sampled_from,
    )
    unexplained = [k for k in survivors if k not in equivalent and k not in sql_case]
    (work / "survivors.txt").write_text("".join(f"{k}\n" for k in unexplained), "utf-8")
    return row, unexplained


def table(rows: list[Row]) -> str:
    lines = ["| module | mutants | killed | survived | no tests | equivalent (SQL case + listed) | score | time |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        mutants = f"{r.mutants}" + (f" (sample of {r.sampled_from})" if r.sampled_from else "")
        survived = r.survived + r.other
        lines.append(f"| {r.module} | {mutants} | {r.killed} | {survived} | {r.no_tests} | "
                     f"{r.sql_case} + {r.equivalent} | {r.score:.1f}% | {r.seconds / 60:.1f} min |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("modules", nargs="*", help=f"any of: {', '.join(MODULES)}, or all (default)")
    p.add_argument("--children", type=int, default=int(os.environ.get("MUTATION_CHILDREN", "1")),
                   help="mutants tested at once (default 1: a shared 2-core machine)")
    p.add_argument("--sample", type=int, default=0, help="test a random sample of N mutants per module")
    p.add_argument("--again", action="store_true", help="re-test the survivors of the previous run")
    p.add_argument("--report", action="store_true", help="only print the table of the last run (after editing "
                   "the list of equivalent mutants in docs/testing.md)")
    p.add_argument("--workdir", default=os.environ.get("MUTATION_WORKDIR")
                   or str(Path(os.environ.get("TMPDIR", "/tmp")) / "lima-tk-mutation"))
    p.add_argument("--python", default=os.environ.get("PYTHON") or sys.executable)
    args = p.parse_args(argv)
    names = [n for n in args.modules if n != "all"] or list(MODULES)
    unknown = [n for n in names if n not in MODULES and not any(fnmatch.fnmatch(m, n) for m in MODULES)]
    if unknown:
        p.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")
    if not mutmut_available(args.python):
        print("installing mutmut 3 into", args.python, flush=True)
        subprocess.run([args.python, "-m", "pip", "install", "-q", "mutmut>=3.8,<4"], check=True)
    rows = []
    for name in names:
        row, unexplained = run_module(name, args, args.python)
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)
        if unexplained:
            shown = "\n  ".join(unexplained[:40]) + ("\n  ..." if len(unexplained) > 40 else "")
            print(f"  survivors not listed as equivalent ({len(unexplained)}; all in "
                  f"{Path(args.workdir) / name / 'survivors.txt'}):\n  {shown}")
            print(f"  see one: cd {Path(args.workdir) / name} && {args.python} -m mutmut show NAME")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
