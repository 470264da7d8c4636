#!/usr/bin/env bash
# Rewrites every examples/*/compose.yml by running, in its directory, the command its header records.
set -euo pipefail
cd "$(dirname "$0")/../examples"
for compose in */compose.yml; do
  recipe=$(grep -m1 '^# Regenerate (in this directory): ' "$compose")
  (cd "$(dirname "$compose")" && eval "${recipe#*: } --force" >/dev/null)
done
