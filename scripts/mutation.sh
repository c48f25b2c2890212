#!/usr/bin/env bash
# Mutation testing (mutmut 3) of one module or all: scripts/mutation.sh [journal|assist|db|formats|tokens|all]
# Options: --children N (default 1), --sample N, --again. See scripts/mutation.py and docs/testing.md.
# Slow on purpose, so not part of CI. Installs mutmut into the venv when it is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
exec nice -n "${MUTATION_NICE:-10}" "$python" "$root/scripts/mutation.py" --python "$python" "$@"
