#!/bin/sh
# macOS: double-click this file in Finder to start lima-tk (Terminal opens beside it).
# The first time, macOS may refuse a downloaded script: right-click it, choose Open, then Open.
# It runs scripts/launch.py with the newest Python 3.10+ it finds (python.org, Homebrew, ...).
here="$(cd "$(dirname "$0")" && pwd)"
PATH="$PATH:/Library/Frameworks/Python.framework/Versions/Current/bin:/opt/homebrew/bin:/usr/local/bin"
for py in python3.14 python3.13 python3.12 python3.11 python3.10 python3; do
  if command -v "$py" >/dev/null 2>&1 &&
     "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
    exec "$py" "$here/launch.py" "$@"
  fi
done
echo "lima-tk needs Python 3.10 or newer (with Tk): get it from https://www.python.org/downloads/macos/" >&2
echo "then double-click lima-tk.command again." >&2
exit 1
