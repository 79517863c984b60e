#!/usr/bin/env bash
# The test command the README names: builds everything, runs every test project, prints one summary line.
set -euo pipefail
cd "$(dirname "$0")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet build RsMoe.Micro.sln -c Release
status=0
dotnet test RsMoe.Micro.sln -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
passed=$( (grep -E '^\s+Passed: [0-9]+' "$log" || true) | awk '{s+=$2} END {print s+0}')
failed=$( (grep -E '^\s+Failed: [0-9]+' "$log" || true) | awk '{s+=$2} END {print s+0}')
if [ "$failed" != 0 ]; then
  # Repeat each failure with its message at the end, where a truncated CI log still shows it.
  echo "---- failures ----"
  grep -E -A14 '^\s+Failed [A-Za-z]' "$log" | head -200 || true
fi
echo "$passed passed, $failed failed"
exit $status
