#!/usr/bin/env bash
# Rewrites every examples/*/compose.yml from the command in its own "# Regenerate:" header line.
set -euo pipefail
cd "$(dirname "$0")/../examples"
for compose in */compose.yml; do
  line=$(grep -m1 '^# Regenerate: ' "$compose")
  eval "${line#\# Regenerate: } --out $(dirname "$compose")" >/dev/null
done
