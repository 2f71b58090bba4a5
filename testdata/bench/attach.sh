#!/usr/bin/env bash
# attach.sh — what `slimtrace profile container:ID` costs a running web server while attached, and
# what it costs a neighbour container (issue 19, item 6). Two containers, A and B, run the same
# fixture image (default busybox-httpd) in containerd namespace slimtrace-bench-attach, each in its
# own network namespace (runc's, loopback only); wrk runs on the host, entered into that network
# namespace, against the image's exposed port: `wrk -t1 -c16 -dSECONDS --latency`.
#
# Each round measures A and B untraced, A with one empty program on sys_exit (bin/benchcmd floor:
# the floor, what any tracer of syscalls costs here before it does anything), then A and B while
# slimtrace is attached to A
# (--continue-after signal: wrk starts once slimtrace says the target runs traced; SIGUSR1 ends it);
# odd rounds start untraced, even rounds traced, so that a drift of the machine's load falls on
# both. Prints the medians of requests/s, p99 latency and CPU per request (the container cgroup's
# cpu.stat over wrk's requests), the medians of the per-round ratios attached ÷ not attached, for A
# and for its neighbour B, and slimtrace's own CPU, peak RSS and lost events while attached. Each attached run must have
# traced A's requests (at least one syscall per request in its creport.json) or the benchmark fails.
# B shares A's parent cgroup, the one slimtrace watches: it is the nearest neighbour.
#
#   testdata/bench/attach.sh [FIXTURE [ROUNDS [SECONDS]]]     (make bench-attach: busybox-httpd 5 10)
#
# Needs root, the test services (make services), the fixture (make fixtures), wrk, nsenter, curl,
# jq and bin/slimtrace. Everything it creates (containers, tasks, snapshots, the imported image,
# the namespace, its parent cgroups, slimtrace's state) is removed at exit, Ctrl-C included.
set -euo pipefail
umask 022

fixture=${1:-busybox-httpd}
rounds=${2:-5}
secs=${3:-10}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
fixtures=${SLIMTRACE_FIXTURES:-$cache/fixtures}
bin=${SLIMTRACE_BIN:-$repo/bin/slimtrace}
floorbin=${SLIMTRACE_BENCHCMD:-$repo/bin/benchcmd}
addr=${CONTAINERD_ADDRESS:?run eval "\$(.ci/services.sh env)" first}
ns=slimtrace-bench-attach
archive=$fixtures/$fixture.tar
ids=(bench-attach-a bench-attach-b)
log() { echo "bench-attach: $*" >&2; }
die() {
	log "$*"
	exit 1
}
c() { ctr -a "$addr" -n "$ns" "$@"; }

for tool in ctr wrk nsenter curl jq bc /usr/bin/time "$bin" "$floorbin"; do
	command -v "$tool" >/dev/null || die "missing $tool (make deps build)"
done
[[ -f $archive ]] || die "no fixture $archive (make fixtures)"
[[ $rounds =~ ^[1-9][0-9]*$ && $secs =~ ^[1-9][0-9]*$ ]] || die "ROUNDS and SECONDS are positive numbers"

state=$(mktemp -d /var/tmp/slimtrace-bench-attach.XXXXXX)
tracer_pid=
floor_pid=
ref=
# stop_tracer ends a running slimtrace: SIGUSR1 collects and exits; SIGTERM if it does not.
stop_tracer() {
	[[ -z $floor_pid ]] || { kill -TERM "$floor_pid" 2>/dev/null; wait "$floor_pid" 2>/dev/null; floor_pid=; }
	[[ -n $tracer_pid ]] || return 0
	kill -USR1 "$tracer_pid" 2>/dev/null || true
	for _ in {1..300}; do
		kill -0 "$tracer_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$tracer_pid" 2>/dev/null || true
	wait "$tracer_pid" 2>/dev/null || true
	tracer_pid=
}
cleanup() {
	local id
	stop_tracer
	for id in "${ids[@]}"; do
		c tasks rm -f "$id" >/dev/null 2>&1 || true
		c containers rm "$id" >/dev/null 2>&1 || true # its snapshot too
	done
	[[ -z $ref ]] || c images rm --sync "$ref" >/dev/null 2>&1 || true
	ctr -a "$addr" namespaces rm "$ns" >/dev/null 2>&1 || true
	# runc leaves the namespace's parent cgroup in each hierarchy; empty, it goes.
	find /sys/fs/cgroup -maxdepth 2 -type d -name "$ns" -exec rmdir {} + 2>/dev/null || true
	rm -rf --one-file-system "$state"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# The image, its port (the first one exposed) and two containers of it.
manifest=$(tar -xOf "$archive" manifest.json)
ref=$(jq -r '.[0].RepoTags[0]' <<<"$manifest")
port=$(tar -xOf "$archive" "$(jq -r '.[0].Config' <<<"$manifest")" |
	jq -r '.config.ExposedPorts // {} | keys[0] // empty | sub("/.*"; "")')
[[ -n $port ]] || die "$fixture exposes no port"
c images import "$archive" >/dev/null
declare -A pid
for id in "${ids[@]}"; do
	c run -d --null-io "$ref" "$id" >/dev/null
	pid[$id]=$(c tasks ls | awk -v id="$id" '$1 == id { print $2 }')
	[[ ${pid[$id]} =~ ^[0-9]+$ ]] || die "no task for $id"
	for ((i = 0; ; i++)); do
		nsenter -t "${pid[$id]}" -n curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		((i < 300)) || die "$id never answered on port $port"
		sleep 0.1
	done
done
log "$fixture on port $port: A ${ids[0]} (pid ${pid[${ids[0]}]}), B ${ids[1]} (pid ${pid[${ids[1]}]})"

# Each container's cgroup v2 cpu.stat: the CPU its processes used, in the kernel (and in the tracer's
# programs, which run in the calling task) included. CPU per request does not depend on how much of
# the machine other work leaves to the container, as requests/s does.
unified=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[[ -n $unified ]] || die "no cgroup2 mount"
declare -A cpustat
for id in "${ids[@]}"; do
	cpustat[$id]=$unified$(awk -F: '$1 == "0" { print $3 }' "/proc/${pid[$id]}/cgroup")/cpu.stat
	[[ -f ${cpustat[$id]} ]] || die "no ${cpustat[$id]} for $id"
done
usage() { awk '$1 == "usage_usec" { print $2 }' "${cpustat[$1]}"; }

# load ID SECONDS prints "requests/s p99_ms requests cpu_us_per_request wrk_cpu_us_per_request" from
# wrk against the container ID (wrk, on the host, pays for the tracepoints too).
load() {
	local out p99 before after
	before=$(usage "$1")
	out=$(nsenter -t "${pid[$1]}" -n /usr/bin/time -f 'wrk_cpu %U %S' \
		wrk -t1 -c16 -d"$2"s --latency "http://127.0.0.1:$port/" 2>&1) ||
		die "wrk against $1 failed: $out"
	after=$(usage "$1")
	# Errors fail the benchmark; timeouts of a few requests (a single-threaded server's backlog
	# under 16 connections, traced or not) are counted in wrk's requests/s and only logged.
	if grep -qE 'Non-2xx' <<<"$out" ||
		grep -E 'Socket errors' <<<"$out" | grep -qvE 'connect 0, read 0, write 0,'; then
		die "wrk against $1 saw errors: $out"
	fi
	if grep -q 'Socket errors' <<<"$out"; then
		log "$1: $(grep 'Socket errors' <<<"$out" | sed 's/^ *//')"
	fi
	p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
	awk -v p99="$p99" -v cpu=$((after - before)) '
		/^Requests\/sec:/ { rps = $2 }
		/ requests in / { n = $1 }
		/^wrk_cpu / { wrk = ($2 + $3) * 1000000 }
		END {
			v = p99 + 0; u = p99; sub(/^[0-9.]+/, "", u)
			f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
			if (rps == "" || n == "" || wrk == "" || f < 0) exit 1
			printf "%s %.3f %d %.2f %.2f\n", rps, v * f, n, cpu / n, wrk / n
		}' <<<"$out" || die "cannot read wrk's output: $out"
}

# ticks prints the CPU time (user and system, clock ticks) the process PID has used.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# attach starts slimtrace on container A and waits until it says the target runs traced.
attach_ticks=
attach_time=
attach() {
	rm -rf --one-file-system "$state/st" "$state/err"
	"$bin" --state-path "$state/st" profile --containerd "$addr" --namespace "$ns" \
		--continue-after signal "container:${ids[0]}" >"$state/out" 2>"$state/err" &
	tracer_pid=$!
	for ((i = 0; ; i++)); do
		if grep -qs 'runs traced' "$state/err"; then
			attach_ticks=$(ticks "$tracer_pid") attach_time=$EPOCHREALTIME
			return 0
		fi
		kill -0 "$tracer_pid" 2>/dev/null || { cat "$state/err" >&2; die "slimtrace exited before it attached"; }
		((i < 600)) || { cat "$state/err" >&2; die "slimtrace did not attach within 60s"; }
		sleep 0.1
	done
}

# floor_on attaches one empty program to sys_exit (bin/benchcmd floor), the tracepoint slimtrace's
# sys_exit program is on: what any tracer of syscalls costs on this host before it does anything.
floor_on() {
	coproc FLOOR { exec "$floorbin" floor; }
	floor_pid=$FLOOR_PID
	local line
	read -r -t 30 line <&"${FLOOR[0]}" && [[ $line == attached ]] || die "bin/benchcmd floor did not attach"
}
floor_off() {
	kill -TERM "$floor_pid"
	wait "$floor_pid" || die "bin/benchcmd floor failed"
	floor_pid=
}

# hwm prints the peak resident size (kB) of process PID so far, or nothing once it is gone.
hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# detach ends slimtrace, checks that it traced at least REQUESTS syscalls in A, and sets
# tracer_cpu to the share of a core slimtrace itself used while attached (in %), tracer_rss to its
# peak resident size (kB, sampled until it exits) and tracer_lost to the trace's losses.
tracer_cpu= tracer_rss= tracer_lost=
detach() {
	local rc=0 report calls peak=0 h
	tracer_cpu=$(echo "100 * ($(ticks "$tracer_pid") - $attach_ticks) / $hz / ($EPOCHREALTIME - $attach_time)" | bc -l)
	kill -USR1 "$tracer_pid"
	while h=$(hwm "$tracer_pid") && [[ -n $h ]]; do
		((h > peak)) && peak=$h
		sleep 0.05
	done
	tracer_rss=$peak
	wait "$tracer_pid" || rc=$?
	tracer_pid=
	# 3: the profile is written but the trace is incomplete (events lost); said below.
	[[ $rc == 0 || $rc == 3 ]] || { cat "$state/err" >&2; die "slimtrace exited with $rc"; }
	report=$state/st/workloads/${ids[0]}/artifacts/creport.json
	calls=$(jq '[.syscalls[].count] | add // 0' "$report")
	((calls >= $1)) || die "slimtrace traced $calls syscalls in A, fewer than the $1 requests wrk sent"
	tracer_lost=$(jq '.lost.events + .lost.skipped' "$report")
	if [[ $(jq .complete "$report") != true ]]; then
		log "the trace is incomplete: $(jq -c .lost "$report")"
	fi
}

for id in "${ids[@]}"; do load "$id" 2 >/dev/null; done # warm-up
declare -a ua ub fa ta tb sc rss lost # "rps p99 n cpu" per round: untraced A/B, A under the floor, traced A/B; slimtrace's CPU %, peak RSS, losses
for ((r = 0; r < rounds; r++)); do
	for phase in $( ((r % 2 == 0)) && echo untraced floor traced || echo traced floor untraced); do
		if [[ $phase == untraced ]]; then
			ua[r]=$(load "${ids[0]}" "$secs")
			ub[r]=$(load "${ids[1]}" "$secs")
		elif [[ $phase == floor ]]; then
			floor_on
			fa[r]=$(load "${ids[0]}" "$secs")
			floor_off
		else
			attach
			ta[r]=$(load "${ids[0]}" "$secs")
			tb[r]=$(load "${ids[1]}" "$secs")
			detach "$(cut -d' ' -f3 <<<"${ta[r]}")"
			sc[r]=$tracer_cpu rss[r]=$tracer_rss lost[r]=$tracer_lost
		fi
	done
	log "round $((r + 1))/$rounds: req/s A ${ua[r]%% *} → ${ta[r]%% *} attached (${fa[r]%% *} under the floor), B ${ub[r]%% *} → ${tb[r]%% *}; load $(cut -d' ' -f1 /proc/loadavg)"
done

# median prints the median of its arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# col N ROWS... prints field N of each row.
col() {
	local n=$1
	shift
	printf '%s\n' "$@" | cut -d' ' -f"$n"
}
# ratios N NUM DEN prints the per-round ratios of field N of the rounds in arrays NUM and DEN.
ratios() {
	local n=$1 r
	local -n num=$2 den=$3
	for ((r = 0; r < rounds; r++)); do
		echo "$(cut -d' ' -f"$n" <<<"${num[r]}") / $(cut -d' ' -f"$n" <<<"${den[r]}")" | bc -l
	done
}
# row LABEL ROWS... prints the medians of a measured case.
row() {
	local label=$1
	shift
	printf '  %-40s %9.0f %9.2f %9.1f %9.1f\n' "$label" "$(median $(col 1 "$@"))" "$(median $(col 2 "$@"))" \
		"$(median $(col 4 "$@"))" "$(median $(col 5 "$@"))"
}
# ratio LABEL NUM DEN prints the medians of the per-round ratios, and the req/s ones by round.
ratio() {
	printf '    %-38s %9.3f %9.3f %9.3f %9.3f   (req/s by round: %s)\n' "$1" "$(median $(ratios 1 "$2" "$3"))" \
		"$(median $(ratios 2 "$2" "$3"))" "$(median $(ratios 4 "$2" "$3"))" "$(median $(ratios 5 "$2" "$3"))" \
		"$(ratios 1 "$2" "$3" | xargs printf '%.2f ' | sed 's/ $//')"
}

printf '\nbench-attach: %s, wrk -t1 -c16 -d%ss --latency, %d interleaved rounds, medians (%d CPUs, load %s)\n' \
	"$fixture" "$secs" "$rounds" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  (CPU/req: the container'"'"'s CPU per request, wrk/req: the client'"'"'s, in microseconds)\n'
printf '  %-40s %9s %9s %9s %9s\n' "" "req/s" "p99 ms" "CPU/req" "wrk/req"
row "A, not attached" "${ua[@]}"
row "A, one empty program on sys_exit" "${fa[@]}"
row "A, slimtrace attached to A" "${ta[@]}"
row "B (neighbour), not attached" "${ub[@]}"
row "B (neighbour), slimtrace attached to A" "${tb[@]}"
printf '  attached ÷ not attached (medians of the per-round ratios):\n'
ratio "A" ta ua
ratio "A, the floor (empty program)" fa ua
ratio "B, the neighbour" tb ub
printf '  slimtrace itself while attached: %.1f%% of a core (median), peak RSS %.0f MB (largest), %d events lost in all\n' \
	"$(median "${sc[@]}")" "$(echo "$(printf '%s\n' "${rss[@]}" | sort -g | tail -1) / 1024" | bc -l)" \
	"$(printf '%s\n' "${lost[@]}" | awk '{ n += $1 } END { print n + 0 }')"
