#!/usr/bin/env bash
# Runs the named test tiers (unit integration e2e vm) in one node:test run, so one summary counts all.
set -euo pipefail
cd "$(dirname "$0")/.."
files=()
for tier in "$@"; do
  [ -d "test/$tier" ] || continue
  while IFS= read -r f; do files+=("$f"); done < <(find "test/$tier" -name '*.test.ts' | sort)
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files in: $*" >&2
  exit 1
fi
# Integration tests start real daemons on free ports; two at once is what 2 cores take well.
exec node --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" "${files[@]}"
