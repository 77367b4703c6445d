# Helpers shared by the scenario scripts (sourced, run inside dom0).
say() { echo "XENSCOPE-LAB: $*" > /dev/console; }

# retry CMD…: under TCG a dom0 process is now and then killed by a stray
# segfault (docs/lab.md, known quirks); rerun a command killed by a signal,
# up to 3 times. Returns the last exit status.
retry() {
  n=1
  while :; do
    "$@"; rc=$?
    [ $rc -lt 128 ] || [ $n -ge 3 ] && return $rc
    echo "retry: '$*' died with status $rc (attempt $n)" >&2
    n=$((n+1))
  done
}

# start_guest CFG [KEY=VALUE…]: create the guest (xl create's config
# overrides after the file) and wait (bounded) until its console says it is up.
start_guest() {
  name=$1; shift
  retry timeout 120 xl create /lab/$name.cfg "$@" || return 1
  i=0
  while [ $i -lt 300 ]; do
    grep -q "XENSCOPE-DOMU: up" /var/log/xen/console/guest-$name.log 2>/dev/null && return 0
    sleep 1; i=$((i+1))
  done
  echo "guest $name did not come up in 300 s"; return 1
}

# dom0 load: disk-less I/O and xenstore traffic, as in the published samples.
start_load() {
  ( while true; do dd if=/dev/zero of=/dev/null bs=64k count=2000 2>/dev/null; done ) &
  LOAD1=$!
  ( i=0; while true; do xenstore-write /local/domain/0/lab/n $i; xenstore-read /local/domain/0/lab/n >/dev/null; i=$((i+1)); done ) &
  LOAD2=$!
  ( while true; do xl list >/dev/null 2>&1; sleep 0.5; done ) &
  LOAD3=$!
}
stop_load() { kill $LOAD1 $LOAD2 $LOAD3 2>/dev/null; wait $LOAD1 $LOAD2 $LOAD3 2>/dev/null; }
