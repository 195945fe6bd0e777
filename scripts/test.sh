#!/usr/bin/env bash
# The project's own tests, in the order that keeps one lab alive longest:
# unit (no cluster), lab (boots a 3+2 lab), end-to-end CLI runs and
# sabotages (on that lab), then the lifecycle tests (which tear it down),
# then the upgrade tests (a lab at the previous release, checked before
# and while it is upgraded to the current one), then the cluster shapes (a kubeadm lab, then a managed lab, met by
# kubeconfig; the last one leaves no lab).
# A lab test that cannot run fails; nothing is silently skipped.
#
# `scripts/test.sh` (make test, CI) leaves out the tests marked
# `full_matrix`: further cases of capabilities that CI already covers
# once (the README lists them). `scripts/test.sh --all` (make test-all)
# runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
# The project's own tests only ever target the lab, which they may break.
export KUBE_GAUNTLET_ALLOW_DESTRUCTIVE=kube-gauntlet-lab
select=(-m "not full_matrix")
if [ "${1:-}" = "--all" ]; then
  select=()
  shift
fi
suites=(tests/unit tests/lab tests/e2e tests/sabotage tests/lifecycle tests/upgrade tests/shapes)
present=()
for s in "${suites[@]}"; do [ -d "$s" ] && present+=("$s"); done
trap '.venv/bin/gauntlet lab down >/dev/null 2>&1 || true' EXIT
# Every test's time goes to reports/tests.junit.xml (not in git): what
# to move to the full matrix when CI outgrows its budget.
mkdir -p reports
.venv/bin/python -m pytest -p no:cacheprovider -o testpaths= \
  --timeout 900 -ra --durations=30 --junitxml reports/tests.junit.xml \
  "${select[@]}" "${present[@]}" "$@"
