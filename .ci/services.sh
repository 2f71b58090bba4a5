#!/usr/bin/env bash
# Starts and stops the daemons that privileged and end-to-end tests talk to: a containerd and a
# buildkitd of our own, with private roots, state dirs and sockets, so they never touch (or get
# confused with) a system containerd.
#
#   .ci/services.sh start    start both (idempotent: what already answers is left alone)
#   .ci/services.sh stop     kill leftover tasks, stop both
#   .ci/services.sh status   say what answers
#   .ci/services.sh env      print the export lines tests need (eval "$(.ci/services.sh env)")
#
# Must run as root. Logs go to $SLIMTRACE_CACHE/logs/{containerd,buildkitd}.log. SLIMTRACE_RUN
# (default /run) moves the state dirs and sockets, to run a second pair beside the usual one.
set -euo pipefail

cache=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
run=${SLIMTRACE_RUN:-/run}
export PATH=$cache/bin:$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ctrd_state=$run/slimtrace-containerd
ctrd_sock=$ctrd_state/containerd.sock
ctrd_root=$cache/containerd/root
ctrd_pidfile=$ctrd_state/containerd.pid

bk_state=$run/slimtrace-buildkit
bk_sock=$bk_state/buildkitd.sock
bk_root=$cache/buildkit
bk_pidfile=$bk_state/buildkitd.pid

# Namespace shared by the tests and buildkitd's containerd worker, so images the tests import
# are visible to builds that resolve them locally.
namespace=slimtrace-test
logdir=$cache/logs
ready_timeout=${SLIMTRACE_SERVICE_TIMEOUT:-60}

log() { echo "services: $*" >&2; }

die() {
	log "$*"
	exit 1
}

ctrd_ok() { timeout 5 ctr -a "$ctrd_sock" version >/dev/null 2>&1; }
bk_ok() { timeout 5 buildctl --addr "unix://$bk_sock" debug workers >/dev/null 2>&1; }

# pid_alive PIDFILE PATTERN: the pid in PIDFILE runs and its command line contains PATTERN.
pid_alive() {
	local pid
	[[ -f $1 ]] || return 1
	pid=$(<"$1")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# wait_ready NAME CHECK PIDFILE PATTERN LOGFILE: poll CHECK until it succeeds, the daemon dies,
# or the timeout passes.
wait_ready() {
	local name=$1 check=$2 pidfile=$3 pattern=$4 logfile=$5 deadline=$((SECONDS + ready_timeout))
	until "$check"; do
		if ! pid_alive "$pidfile" "$pattern"; then
			tail -n 30 "$logfile" >&2 || true
			die "$name exited during start-up; log: $logfile"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$logfile" >&2 || true
			die "$name did not answer within ${ready_timeout}s; log: $logfile"
		fi
		sleep 0.1
	done
}

# stop_pid NAME PIDFILE PATTERN: SIGTERM the daemon recorded in PIDFILE, SIGKILL after 10s.
stop_pid() {
	local name=$1 pidfile=$2 pattern=$3 pid deadline
	if ! pid_alive "$pidfile" "$pattern"; then
		rm -f "$pidfile"
		return 0
	fi
	pid=$(<"$pidfile")
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + 10))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$name did not stop in 10s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$pidfile"
}

write_containerd_config() {
	cat >"$ctrd_state/config.toml" <<EOF
# Written by .ci/services.sh; private containerd for slimtrace tests.
version = 2
root = "$ctrd_root"
state = "$ctrd_state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$ctrd_sock"

[ttrpc]
  address = "$ctrd_sock.ttrpc"

[debug]
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$cache/containerd/opt"
EOF
}

start_containerd() {
	local logfile=$logdir/containerd.log
	if ctrd_ok; then
		log "containerd already answers at $ctrd_sock"
		return 0
	fi
	command -v containerd >/dev/null || die "containerd not found; run 'make deps'"
	command -v containerd-shim-runc-v2 >/dev/null || die "containerd-shim-runc-v2 not on PATH; run 'make deps'"
	command -v runc >/dev/null || die "runc not on PATH; run 'make deps'"
	mkdir -p "$ctrd_state" "$ctrd_root" "$logdir"
	if pid_alive "$ctrd_pidfile" "$ctrd_state/config.toml"; then
		log "containerd (pid $(<"$ctrd_pidfile")) is starting; waiting"
	else
		rm -f "$ctrd_sock" "$ctrd_sock.ttrpc" "$ctrd_pidfile"
		write_containerd_config
		log "starting containerd at $ctrd_sock (log $logfile)"
		echo "=== $(date -u +%FT%TZ) start" >>"$logfile"
		setsid containerd --config "$ctrd_state/config.toml" </dev/null >>"$logfile" 2>&1 &
		echo $! >"$ctrd_pidfile"
	fi
	wait_ready containerd ctrd_ok "$ctrd_pidfile" "$ctrd_state/config.toml" "$logfile"
	timeout 10 ctr -a "$ctrd_sock" namespaces create "$namespace" 2>/dev/null || true
	log "containerd ready: $(ctr -a "$ctrd_sock" version | awk '/Server:/{s=1} s && /Version:/{print $2; exit}')"
}

start_buildkitd() {
	local logfile=$logdir/buildkitd.log
	if bk_ok; then
		log "buildkitd already answers at unix://$bk_sock"
		return 0
	fi
	"$(dirname "${BASH_SOURCE[0]}")/buildkitd.sh"
	mkdir -p "$bk_state" "$bk_root" "$logdir"
	if pid_alive "$bk_pidfile" "$bk_sock"; then
		log "buildkitd (pid $(<"$bk_pidfile")) is starting; waiting"
	else
		rm -f "$bk_sock" "$bk_pidfile"
		log "starting buildkitd at unix://$bk_sock (log $logfile)"
		echo "=== $(date -u +%FT%TZ) start" >>"$logfile"
		setsid buildkitd \
			--root "$bk_root" \
			--addr "unix://$bk_sock" \
			--oci-worker=false \
			--containerd-worker=true \
			--containerd-worker-addr "$ctrd_sock" \
			--containerd-worker-namespace "$namespace" \
			</dev/null >>"$logfile" 2>&1 &
		echo $! >"$bk_pidfile"
	fi
	wait_ready buildkitd bk_ok "$bk_pidfile" "$bk_sock" "$logfile"
	log "buildkitd ready: $(buildkitd --version)"
}

# kill_tasks removes every task left in our containerd, so no shim outlives the daemon. A
# containerd on our socket that we did not start is left alone, tasks and all.
kill_tasks() {
	local ns task
	pid_alive "$ctrd_pidfile" "$ctrd_state/config.toml" && ctrd_ok || return 0
	for ns in $(timeout 10 ctr -a "$ctrd_sock" namespaces ls -q 2>/dev/null); do
		for task in $(timeout 10 ctr -a "$ctrd_sock" -n "$ns" tasks ls -q 2>/dev/null); do
			log "removing leftover task $ns/$task"
			timeout 15 ctr -a "$ctrd_sock" -n "$ns" tasks rm -f "$task" >/dev/null 2>&1 ||
				log "could not remove task $ns/$task"
		done
	done
}

print_env() {
	cat <<EOF
export SLIMTRACE_CACHE=$cache
export CONTAINERD_ADDRESS=$ctrd_sock
export CONTAINERD_NAMESPACE=$namespace
export BUILDKIT_HOST=unix://$bk_sock
EOF
}

need_root() { [[ $(id -u) == 0 ]] || die "must run as root (try: sudo $0 $1)"; }

case ${1:-} in
start)
	need_root start
	start_containerd
	start_buildkitd
	;;
stop)
	need_root stop
	stop_pid buildkitd "$bk_pidfile" "$bk_sock"
	kill_tasks
	stop_pid containerd "$ctrd_pidfile" "$ctrd_state/config.toml"
	;;
status)
	if ctrd_ok; then echo "containerd: up at $ctrd_sock"; else echo "containerd: down"; fi
	if bk_ok; then echo "buildkitd: up at unix://$bk_sock"; else echo "buildkitd: down"; fi
	;;
env) print_env ;;
*)
	echo "usage: $0 start|stop|status|env" >&2
	exit 2
	;;
esac
