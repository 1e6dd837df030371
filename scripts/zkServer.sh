#!/usr/bin/env bash
# zkServer.sh for coordd: a stand-in for Apache ZooKeeper's bin/zkServer.sh,
# so tools that start ZooKeeper as "$ZOOKEEPER_BIN_PATH/zkServer.sh
# start-foreground zoo.cfg" (go-zookeeper/zk's test harness, for one) run
# coordd instead.
#
#   zkServer.sh start-foreground [zoo.cfg]   exec coordd in the foreground
#   zkServer.sh start [zoo.cfg]              run it in the background (pid file in dataDir)
#   zkServer.sh stop [zoo.cfg]               SIGTERM the background server
#   zkServer.sh status [zoo.cfg]             print Mode: standalone|leader|follower
#   zkServer.sh restart|version|print-cmd [zoo.cfg]
#
# The coordd binary: $COORDD when set; else the repository's cmd/coordd is
# built once into $COORDD_CACHE (default ${TMPDIR:-/tmp}/coordd-shim-$UID)
# and rebuilt when a .go file of the repository is newer than it.
#
# Java system properties in SERVER_JVMFLAGS and JVMFLAGS (-Dkey=value, as
# ZooKeeper's harnesses pass -Dzookeeper.DigestAuthenticationProvider
# .superDigest=...) are handed to coordd, which understands the ZooKeeper
# ones. start-foreground execs coordd, so a signal sent to this script's
# pid (exec.CommandContext's kill, for one) reaches coordd itself.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

coordd_bin() {
  if [ -n "${COORDD:-}" ]; then
    [ -x "$COORDD" ] || { echo "zkServer.sh: COORDD=$COORDD is not executable" >&2; exit 1; }
    echo "$COORDD"
    return
  fi
  local cache="${COORDD_CACHE:-${TMPDIR:-/tmp}/coordd-shim-$(id -u)}"
  local bin="$cache/coordd"
  mkdir -p "$cache"
  # One build at a time: clusters start several servers at once.
  exec 9>"$cache/.lock"
  flock 9
  if [ ! -x "$bin" ] || [ -n "$(find "$repo" -name '*.go' -newer "$bin" -not -path '*/.git/*' -print -quit 2>/dev/null)" ] \
     || [ "$repo/go.mod" -nt "$bin" ]; then
    echo "zkServer.sh: building coordd into $bin" >&2
    (cd "$repo" && go build -o "$bin.tmp" ./cmd/coordd) >&2
    mv -f "$bin.tmp" "$bin"
  fi
  flock -u 9
  exec 9>&-
  echo "$bin"
}

# Java -D properties from the JVM flag variables ZooKeeper's scripts honour.
props=()
for word in ${SERVER_JVMFLAGS:-} ${JVMFLAGS:-}; do
  case "$word" in
    -D*=*) props+=("$word") ;;
  esac
done

cmd="${1:-}"
[ $# -gt 0 ] && shift
cfg="${1:-}"
if [ -z "$cfg" ]; then
  confdir="${ZOOCFGDIR:-$repo/conf}"
  cfg="$confdir/${ZOOCFG:-zoo.cfg}"
elif [ ! -f "$cfg" ] && [ -n "${ZOOCFGDIR:-}" ] && [ -f "$ZOOCFGDIR/$cfg" ]; then
  cfg="$ZOOCFGDIR/$cfg"
fi

cfg_value() { # key: the last value of key in the config file
  sed -n "s/^[[:space:]]*$1[[:space:]]*[=:][[:space:]]*//p" "$cfg" | tail -n 1 | tr -d '\r'
}

pidfile() {
  local dir
  dir="$(cfg_value dataDir)"
  echo "${ZOOPIDFILE:-${dir:-.}/zookeeper_server.pid}"
}

case "$cmd" in
  start-foreground)
    echo "Using config: $cfg" >&2
    bin="$(coordd_bin)"
    exec "$bin" "${props[@]}" "$cfg"
    ;;
  start)
    echo "Using config: $cfg" >&2
    bin="$(coordd_bin)"
    pf="$(pidfile)"
    if [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null; then
      echo "already running as process $(cat "$pf")." >&2
      exit 1
    fi
    mkdir -p "$(dirname "$pf")"
    log="${ZOO_LOG_DIR:-$(dirname "$pf")}/coordd.out"
    nohup "$bin" "${props[@]}" "$cfg" >"$log" 2>&1 </dev/null &
    echo $! >"$pf"
    # Started once it answers srvr (a multi-node server waits for quorum).
    for _ in $(seq 1 50); do
      if "$bin" status "$cfg" >/dev/null 2>&1; then
        echo "STARTED" >&2
        exit 0
      fi
      kill -0 "$(cat "$pf")" 2>/dev/null || { echo "FAILED TO START (see $log)" >&2; exit 1; }
      sleep 0.2
    done
    echo "STARTED (not serving yet: waiting for a quorum?)" >&2
    ;;
  stop)
    pf="$(pidfile)"
    if [ ! -f "$pf" ]; then
      echo "no coordd to stop (could not find file $pf)" >&2
      exit 1
    fi
    pid="$(cat "$pf")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$pf"
    echo "STOPPED" >&2
    ;;
  restart)
    "$0" stop "$cfg" || true
    "$0" start "$cfg"
    ;;
  status)
    bin="$(coordd_bin)"
    exec "$bin" status "${props[@]}" "$cfg"
    ;;
  version)
    bin="$(coordd_bin)"
    exec "$bin" -version
    ;;
  print-cmd)
    bin="$(coordd_bin)"
    echo "\"$bin\" ${props[*]} \"$cfg\""
    ;;
  *)
    echo "Usage: $0 {start|start-foreground|stop|restart|status|version|print-cmd} [zoo.cfg]" >&2
    exit 1
    ;;
esac
