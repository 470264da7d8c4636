#!/usr/bin/env bash
# Rewrites every examples/**/compose.yml by running the command its header records, where it says to
# run it (its own directory, or the parent for the per-node files of a multi-node plan).
set -euo pipefail
cd "$(dirname "$0")/../examples"
find . -name compose.yml | sort | while read -r compose; do
  dir=$(dirname "$compose")
  if recipe=$(grep -m1 '^# Regenerate (in this directory): ' "$compose"); then
    (cd "$dir" && eval "${recipe#*: } --force" >/dev/null)
  elif recipe=$(grep -m1 '^# Regenerate (in the parent directory): ' "$compose"); then
    (cd "$dir/.." && eval "${recipe#*: } --force" >/dev/null)
  fi
done
