#!/usr/bin/env bash
# Runs go-zookeeper/zk's own integration tests (TestIntegration_*, which
# start servers through $ZOOKEEPER_BIN_PATH/zkServer.sh) against coordd via
# scripts/zkServer.sh.
#
#   scripts/gozk-integration.sh [extra go test args]
#
# The module source is copied from the Go module cache into a temporary
# directory outside the repository (GOZK_DIR, default /tmp/gozk); nothing of
# go-zookeeper's is kept in this repository. The run's output goes to
# $GOZK_DIR/test.log and a pass/fail/skip summary is printed at the end.
# Env: GOZK_VERSION (default v1.0.4), GOZK_RUN (the -run pattern).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
ver="${GOZK_VERSION:-v1.0.4}"
dir="${GOZK_DIR:-/tmp/gozk}"
run="${GOZK_RUN:-TestIntegration|Cluster}"

modcache="$(go env GOMODCACHE)"
src="$modcache/github.com/go-zookeeper/zk@$ver"
if [ ! -d "$src" ]; then
  (cd "$repo" && go mod download "github.com/go-zookeeper/zk@$ver")
fi

rm -rf "$dir"
mkdir -p "$dir"
cp -r "$src"/. "$dir"/
chmod -R u+w "$dir"

# Build coordd once; the shim execs it for every server the tests start.
mkdir -p "$dir/bin"
(cd "$repo" && go build -o "$dir/bin/coordd" ./cmd/coordd)
export COORDD="$dir/bin/coordd"
export ZOOKEEPER_BIN_PATH="$here"

cd "$dir"
set +e
GOFLAGS=-mod=mod go test -count=1 -timeout 30m -run "$run" -v "$@" . >"$dir/test.log" 2>&1
rc=$?
set -e

pass=$(grep -c -- '^--- PASS' "$dir/test.log" || true)
fail=$(grep -c -- '^--- FAIL' "$dir/test.log" || true)
skip=$(grep -c -- '^--- SKIP' "$dir/test.log" || true)
grep -E -- '^--- (PASS|FAIL|SKIP)' "$dir/test.log" || true
echo "go-zookeeper/zk $ver integration tests against coordd: $pass passed, $fail failed, $skip skipped (log: $dir/test.log)"
exit $rc
