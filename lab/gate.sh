#!/usr/bin/env bash
# Decides whether `make test` includes the lab, and boots its CI profiles (lab/ci-profiles) when
# needed. Exit 0: lab results are there (fresh or just made), run LabTests.
# Exit 3: the lab cannot run here and CI is not set: skip LabTests (says why).
# Any other exit: failure (with CI set, a lab that cannot run is a failure).
# Outside CI, results from an earlier run are reused while lab/ is unchanged
# (`make lab` always boots afresh); LAB=skip skips the lab explicitly.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cannot() {
  if [ -n "${CI:-}" ]; then echo "lab: CI is set and the lab cannot run: $*" >&2; exit 1; fi
  echo "lab: SKIPPED (LabTests not run): $*" >&2; exit 3
}
if [ "${LAB:-}" = skip ] && [ -z "${CI:-}" ]; then cannot "LAB=skip"; fi
command -v qemu-system-x86_64 >/dev/null || cannot "qemu-system-x86_64 is not installed"
[ -x /usr/bin/python3 ] || cannot "/usr/bin/python3 is missing"
"$here/fetch.sh" >/dev/null || cannot "the Debian packages cannot be fetched (apt-get download failed)"
# The selfbuilt profile boots a hypervisor built from Debian's source: build
# it (or find it cached) first, so a machine that cannot is told why.
if grep -qx selfbuilt "$here/ci-profiles"; then
  "$here/build-xen.sh" >/dev/null || cannot "the self-built hypervisor cannot be built (lab/build-xen.sh failed)"
fi
stamp="$("$here/stamp.sh")"
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/lab"
# The profiles CI boots, one per line in lab/ci-profiles (make lab boots all).
for profile in $(grep -v '^#' "$here/ci-profiles"); do
  results="$here/results/$profile"
  # Outside CI, one boot per version of lab/ serves every clone on the
  # machine: results live in the cache, lab/results/PROFILE links to them.
  shared="$cache/results-$profile-$stamp"
  if [ -z "${CI:-}" ]; then
    if [ -f "$results/results/scenarios.txt" ] && [ "$(cat "$results/stamp" 2>/dev/null)" = "$stamp" ]; then
      echo "lab: $profile: reusing results of an earlier run in $results (make lab boots afresh)" >&2
      continue
    fi
    if [ -f "$shared/results/scenarios.txt" ] && [ "$(cat "$shared/stamp" 2>/dev/null)" = "$stamp" ]; then
      rm -rf "$results"; mkdir -p "$(dirname "$results")"; ln -s "$shared" "$results"
      echo "lab: $profile: reusing results of an earlier run in $shared (make lab boots afresh)" >&2
      continue
    fi
  fi
  echo "lab: booting Xen under QEMU (profile $profile; a few minutes)" >&2
  "$here/run.sh" "$profile" || exit 1
  if [ -z "${CI:-}" ] && [ ! -L "$results" ]; then
    rm -rf "$shared" && mv "$results" "$shared" && ln -s "$shared" "$results"
  fi
done
