#!/usr/bin/env bash
# Mutation testing of one core module with mutmut (3.x), on demand: too slow for CI. See tests/README.md.
#
#   scripts/mutation.sh MODULE [TEST_FILE...]
#
# MODULE is a file name under src/ascendgen/ without .py (planner, placement, cluster, ...). The mutants of
# MODULE.py are run against tests/test_MODULE.py unless TEST_FILEs are given: a module's own tests must catch
# its own mutants. The work happens in a scratch copy of this working tree (tracked and new files), in
# ${MUTATION_DIR:-/tmp/ascendgen-mutation}/MODULE, so the checkout never holds a mutated file; the summary is
# printed and kept in that directory as summary.txt, the survivors as survivors.txt (`mutmut show NAME`
# there prints one). Needs mutmut in .venv: python3 -m venv .venv && .venv/bin/pip install -e '.[test]' mutmut
set -euo pipefail
cd "$(dirname "$0")/.."

module="${1:?usage: scripts/mutation.sh MODULE [TEST_FILE...]}"
shift
tests=("$@")
[ "${#tests[@]}" -gt 0 ] || tests=("tests/test_${module}.py")
[ -f "src/ascendgen/${module}.py" ] || { echo "no src/ascendgen/${module}.py" >&2; exit 2; }
mutmut="${MUTMUT:-$PWD/.venv/bin/mutmut}"
[ -x "$mutmut" ] || { echo "no mutmut at $mutmut (set MUTMUT, or install it into .venv)" >&2; exit 2; }

work="${MUTATION_DIR:-/tmp/ascendgen-mutation}/${module}"
rm -rf "$work"
mkdir -p "$work"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -e "$file" ] && printf '%s\0' "$file"
done | tar --null -T - -cf - | tar -C "$work" -xf -

# Installed copies of ascendgen must not shadow the mutated one: mutmut puts mutants/src first on sys.path,
# and the data files (catalog, templates) are found beside it, as in a source checkout.
{
  echo "[mutmut]"
  echo "source_paths = src"
  echo "only_mutate = src/ascendgen/${module}.py"
  echo "also_copy ="
  # everything else at the top of the tree too (data files, templates, examples, hooks the tests read)
  for extra in $(git ls-files | cut -d/ -f1 | sort -u); do
    case "$extra" in src | tests | setup.cfg | pyproject.toml) ;; *) echo "    $extra" ;; esac
  done
  # the ci profile draws the same hypothesis examples on every run: a mutant is killed or not, not by luck
  echo "pytest_add_cli_args = -p no:cacheprovider -p no:randomly -q --hypothesis-profile=ci"
  echo "pytest_add_cli_args_test_selection ="
  for test in "${tests[@]}"; do
    echo "    $test"
  done
  echo "use_git_change_detection = false"
} >"$work/setup.cfg"
rm -f "$work/pyproject.toml.mutmut"

cd "$work"
start=$SECONDS
PYTHONPATH= NO_COLOR=1 COLUMNS=200 "$mutmut" run --max-children "${MUTATION_CHILDREN:-2}" >run.log 2>&1 || true
"$mutmut" results --all true >results.txt 2>&1 || "$mutmut" results >results.txt 2>&1 || true
grep -E ': (survived|no tests|timeout|suspicious)' results.txt >survivors.txt || true
count() { grep -cE ": $1\$" results.txt || true; }
killed=$(count killed)
survived=$(count survived)
untested=$(count "no tests")
timeout=$(count timeout)
suspicious=$(count suspicious)
total=$((killed + survived + untested + timeout + suspicious))
score="n/a"
[ "$total" -gt 0 ] && score=$(awk -v k="$killed" -v t="$timeout" -v n="$total" 'BEGIN { printf "%.1f%%", 100 * (k + t) / n }')
{
  echo "module:     src/ascendgen/${module}.py"
  echo "tests:      ${tests[*]}"
  echo "mutants:    $total"
  echo "killed:     $killed (+ $timeout timeout)"
  echo "survived:   $survived"
  echo "no tests:   $untested"
  echo "suspicious: $suspicious"
  echo "score:      $score (killed + timeout over all mutants)"
  echo "time:       $((SECONDS - start)) s"
  echo "work dir:   $work (survivors.txt; mutmut show NAME there)"
} | tee summary.txt
