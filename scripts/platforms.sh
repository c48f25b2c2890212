#!/usr/bin/env bash
# The test suite on every Python this machine has (pyenv's 3.10 to 3.14, Tk 8.6) and on Tk 9 (the
# Debian chroot of ../shared/tools/tk9, Python 3.13), one run at a time, niced: it prints one row
# of docs/platforms.md's table per run and keeps each log.
#
#   scripts/platforms.sh                 every Python, then Tk 9 and its Tk 8.6 control
#   PYTHONS="3.10 3.12" scripts/platforms.sh
#   TK9=0 scripts/platforms.sh           the Pythons only
#   PYTEST_ARGS="tests/ui -x" scripts/platforms.sh
#
# Each Python gets its own venv under /tmp (lima-tk-py<version>, kept between runs) with the
# checkout installed editable ('.[test]'), so a run tests the checkout as it is. Logs and the
# table: $OUT (default /tmp/lima-tk-platforms). Exit status: 0 when every run passed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/lima-tk-platforms}
TK9_TOOLS=${TK9_TOOLS:-$ROOT/../shared/tools/tk9}
PYTHONS=${PYTHONS:-"3.10 3.11 3.12 3.13 3.14"}
TK9=${TK9:-1}
read -r -a ARGS <<<"${PYTEST_ARGS:--q -p no:randomly}"
mkdir -p "$OUT"
TABLE="$OUT/table.md"
echo "| Python | Tcl/Tk | Result | Time |" >"$TABLE"
echo "|---|---|---|---|" >>"$TABLE"
status=0

row() {  # python tk summary seconds
  echo "| $1 | $2 | $3 | $4 s |" | tee -a "$TABLE"
}

for minor in $PYTHONS; do
  found=0
  for py in "$HOME"/.pyenv/versions/"$minor".*/bin/python; do
    [ -x "$py" ] || continue
    found=1
    ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    venv="/tmp/lima-tk-py$ver"
    log="$OUT/py$ver.log"
    if ! "$py" -c 'import tkinter' 2>/dev/null; then
      row "$ver" "-" "no tkinter in this build" 0
      continue
    fi
    if [ ! -x "$venv/bin/python" ]; then
      "$py" -m venv "$venv" || { row "$ver" "?" "venv failed" 0; status=1; continue; }
    fi
    if ! nice -n 10 "$venv/bin/pip" install -q --disable-pip-version-check -e "$ROOT[test]" >"$OUT/pip-$ver.log" 2>&1; then
      row "$ver" "?" "pip install failed (see pip-$ver.log)" 0
      status=1
      continue
    fi
    tk=$("$venv/bin/python" -c 'import tkinter; print(tkinter.Tcl().eval("info patchlevel"))')
    start=$(date +%s)
    (cd "$ROOT" && nice -n 10 "$venv/bin/python" -m pytest "${ARGS[@]}") >"$log" 2>&1
    rc=$?
    [ $rc = 0 ] || status=1
    row "$ver" "$tk" "$(tail -1 "$log" | tr -d '=' | sed 's/^ *//; s/ *$//')" $(( $(date +%s) - start ))
  done
  [ $found = 1 ] || row "$minor" "-" "not installed here" 0
done

if [ "$TK9" = 1 ]; then
  if [ "$(id -u)" != 0 ] || [ ! -x "$TK9_TOOLS/run-tests.sh" ]; then
    row "3.13 (chroot)" "9.0" "not run: needs root and $TK9_TOOLS" 0
  else
    nice -n 10 "$TK9_TOOLS/make-chroot.sh" >"$OUT/chroot.log" 2>&1 || true
    for tk in 9.0 8.6; do
      start=$(date +%s)
      TK=$tk nice -n 10 "$TK9_TOOLS/run-tests.sh" "$ROOT" "${ARGS[@]}" >"$OUT/tk$tk.log" 2>&1
      rc=$?
      [ $rc = 0 ] || status=1
      pyline=$(grep -m1 '^# python' "$OUT/tk$tk.log" | awk '{print $3" (chroot)"; exit}')
      tcl=$(grep -m1 '^# python' "$OUT/tk$tk.log" | awk '{print $5}')
      row "${pyline:-3.13 (chroot)}" "${tcl:-$tk}" "$(tail -1 "$OUT/tk$tk.log" | tr -d '=' | sed 's/^ *//; s/ *$//')" \
        $(( $(date +%s) - start ))
    done
  fi
fi
echo "table: $TABLE"
exit $status
