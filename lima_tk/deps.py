"""Which of lima-tk's dependencies are importable, and what stops working without each.

Standard library only: `python -m lima_tk.deps` is what the launcher (scripts/launch.py) runs in
lima-tk's environment before it starts the app, and the app logs the same list at start-up. A
module is looked up (`importlib.util.find_spec`), never imported, so the check costs
milliseconds; a broken install is caught where the feature imports it (see `require`).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Dependency:
    module: str  # import name
    package: str  # distribution name, for pip
    requirement: str  # as pyproject.toml pins it
    without: str  # what the user loses without it, in plain words
    required: bool  # lima-tk cannot start without it


DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("click", "click", "click", "the lima-tk command itself", True),
    Dependency("sqlite_utils", "sqlite-utils", "sqlite-utils>=4", "creating and upgrading dataset files", True),
    Dependency("openai", "openai", "openai>=1.0",
               "no AI assist (generating and continuing replies, the model list)", False),
    Dependency("tokenizers", "tokenizers", "tokenizers>=0.15",
               "token counts are estimates (~) instead of your model's exact counts", False),
    Dependency("jinja2", "jinja2", "jinja2>=3.1",
               "token counts use a generic chat format instead of your model's own chat template", False),
)
BY_MODULE = {d.module: d for d in DEPENDENCIES}


def available(module: str) -> bool:
    """Is the module installed (found, not imported)? An import hook that refuses it counts as missing."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing() -> list[Dependency]:
    """The dependencies this interpreter cannot find, required ones first."""
    return sorted((d for d in DEPENDENCIES if not available(d.module)), key=lambda d: not d.required)


def install_command(dep: Dependency) -> str:
    """The command that installs `dep` into this interpreter's environment (for messages)."""
    exe = sys.executable or "python3"
    quoted = f'"{exe}"' if " " in exe else exe
    return f'{quoted} -m pip install "{dep.requirement}"'


def needs_message(module: str, feature: str) -> str:
    """One line for a feature that cannot run: "AI assist needs the openai package: <command>"."""
    dep = BY_MODULE[module]
    return (f"{feature} needs the {dep.package} package: install it into lima-tk's environment with "
            f"{install_command(dep)} (or start lima-tk with scripts/launch.py, which offers to)")


def versions() -> dict[str, str | None]:
    """Installed version of each dependency (None when missing), for the About box and bug reports."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for d in DEPENDENCIES:
        try:
            out[d.package] = metadata.version(d.package) if available(d.module) else None
        except metadata.PackageNotFoundError:
            out[d.package] = "unknown version"
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m lima_tk.deps`: the missing dependencies as JSON (the launcher reads it)."""
    report = {"missing": [asdict(d) for d in missing()], "pip": available("pip"),
              "python": sys.executable, "version": sys.version.split()[0]}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
