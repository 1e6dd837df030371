#!/usr/bin/env bash
# Runs the concurrency-heavy tests over and over under CPU contention, to
# find flaky tests before CI does. Run it before you stop work:
#
#   scripts/stress.sh            # ~10 minutes on 2 cores
#   STRESS_TIME=120 scripts/stress.sh
#   STRESS_ONLY=watches scripts/stress.sh   # one target (a name below)
#
# Each test package is built once (with -race); then the targets below run
# round-robin, STRESS_PAR at a time (so they compete with each other), next
# to STRESS_HOG busy-looping shells, with GOMAXPROCS cycling through 1, 2
# and 4. New runs start until STRESS_RUNS runs or STRESS_TIME seconds;
# a run that hangs is stopped by -test.timeout. The output of every failed
# run is kept in the log directory. The last line is the summary; the exit
# status is non-zero when any run failed.
#
# Env: STRESS_TIME (seconds, default 540), STRESS_RUNS (default 400),
# STRESS_PAR (default 2), STRESS_HOG (default 1), STRESS_RACE (default 1),
# STRESS_TIMEOUT (per run, default 4m), STRESS_ONLY (target names, space
# separated), STRESS_DIR (logs, default a new temporary directory).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
budget="${STRESS_TIME:-540}"
maxruns="${STRESS_RUNS:-400}"
par="${STRESS_PAR:-2}"
hogs="${STRESS_HOG:-1}"
race="${STRESS_RACE:-1}"
timeout="${STRESS_TIMEOUT:-4m}"
dir="${STRESS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/coord-stress.XXXXXX")}"
mkdir -p "$dir"

# name  package  -run pattern
targets=(
  "snapshots   .          ^(TestSnapshot|TestQuotaSnapshot|TestFailedMultiRestoresEverything)"
  "forwarding  .          ^(TestNewLeaderDoesNotForwardToItself|TestStaleForwardNeverProposed|TestStaleBatchIsSkipped|TestSkippedBatchIsRetried|TestObservers|TestFormatGate)$"
  "sessions    .          ^(TestSession|TestExpireSession|TestWriteFromExpiredSessionRecord|TestNewSessionOnClosedNode|TestContainers|TestTTLNodes)"
  "watches     .          ^(TestOneShotWatches|TestPersistentWatches|TestRemoveAndCheckWatches|TestWatch|TestStalledConsumerNeverBlocksApply)"
  "membership  .          ^(TestGossipFormsAndHeals|TestGossipRefusesStrangers|TestRollingRestartUnderLoad|TestMutualTLSCluster)$"
  "zkserver    ./zkserver ."
  "coordtest   ./coordtest ."
  "recipe      ./recipe   ."
  "zkwire      ./zkwire   ^TestClient"
)
if [ -n "${STRESS_ONLY:-}" ]; then
  sel=()
  for t in "${targets[@]}"; do
    for o in $STRESS_ONLY; do
      [ "${t%% *}" = "$o" ] && sel+=("$t")
    done
  done
  [ ${#sel[@]} -gt 0 ] || { echo "stress: no target named $STRESS_ONLY" >&2; exit 2; }
  targets=("${sel[@]}")
fi

flags=()
[ "$race" = 1 ] && flags+=(-race)
declare -A bin
echo "stress: building test binaries into $dir"
for t in "${targets[@]}"; do
  read -r _ pkg _ <<<"$t"
  [ -n "${bin[$pkg]:-}" ] && continue
  out="$dir/$(echo "$pkg" | tr -c 'a-z0-9\n' _).test"
  (cd "$repo" && go test -c "${flags[@]}" -o "$out" "$pkg")
  bin[$pkg]="$out"
done

hogpids=()
cleanup() {
  for p in "${hogpids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < hogs; i++)); do
  (while :; do :; done) &
  hogpids+=($!)
done

# run N NAME PKG PATTERN: one invocation; writes $dir/N.ok or $dir/N.fail.
run() {
  local n=$1 name=$2 pkg=$3 pat=$4 procs=$5 log="$dir/$1.$2.log"
  if (cd "$repo/$pkg" && GOMAXPROCS=$procs "${bin[$pkg]}" -test.count=1 \
      -test.timeout="$timeout" -test.run "$pat" >"$log" 2>&1); then
    rm -f "$log"
    touch "$dir/$n.ok"
  else
    echo "$name (GOMAXPROCS=$procs)" >"$dir/$n.fail"
    echo "stress: FAIL run $n: $name, GOMAXPROCS=$procs: $log" >&2
    grep -E -- '^(--- FAIL|panic:|WARNING: DATA RACE)|_test\.go:[0-9]+:' "$log" | head -5 >&2 || true
  fi
}

start=$SECONDS
n=0
cpus=(1 2 4)
while ((n < maxruns && SECONDS - start < budget)); do
  while (($(jobs -rp | wc -l) >= par + hogs)); do wait -n || true; done
  t="${targets[n % ${#targets[@]}]}"
  read -r name pkg pat <<<"$t"
  run "$n" "$name" "$pkg" "$pat" "${cpus[(n / ${#targets[@]}) % 3]}" &
  n=$((n + 1))
done
cleanup
hogpids=()
wait

fails=$(find "$dir" -name '*.fail' | wc -l)
if ((fails > 0)); then
  echo "stress: failed runs by target:"
  cat "$dir"/*.fail | sort | uniq -c
fi
echo "stress: $n runs, $fails failures, $((SECONDS - start))s, logs in $dir"
((fails == 0))
