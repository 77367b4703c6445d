#!/usr/bin/env bash
# Decides whether `make test` includes the lab, and runs its CI profile when
# needed. Exit 0: lab results are there (fresh or just made), run LabTests.
# Exit 3: the lab cannot run here and CI is not set: skip LabTests (says why).
# Any other exit: failure (with CI set, a lab that cannot run is a failure).
# Outside CI, results from an earlier run are reused while lab/ is unchanged
# (`make lab` always boots afresh); LAB=skip skips the lab explicitly.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
results="$here/results/ci"
cannot() {
  if [ -n "${CI:-}" ]; then echo "lab: CI is set and the lab cannot run: $*" >&2; exit 1; fi
  echo "lab: SKIPPED (LabTests not run): $*" >&2; exit 3
}
if [ "${LAB:-}" = skip ] && [ -z "${CI:-}" ]; then cannot "LAB=skip"; fi
command -v qemu-system-x86_64 >/dev/null || cannot "qemu-system-x86_64 is not installed"
[ -x /usr/bin/python3 ] || cannot "/usr/bin/python3 is missing"
"$here/fetch.sh" >/dev/null || cannot "the Debian packages cannot be fetched (apt-get download failed)"
stamp="$("$here/stamp.sh")"
if [ -z "${CI:-}" ] && [ -f "$results/results/scenarios.txt" ] && [ "$(cat "$results/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "lab: reusing results of an earlier run in $results (make lab boots afresh)" >&2
  exit 0
fi
echo "lab: booting Xen under QEMU (profile ci; a few minutes)" >&2
"$here/run.sh" ci || exit 1
