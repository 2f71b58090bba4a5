#!/usr/bin/env bash
# Runs fixture images under containerd (no tracing) and checks they answer as testdata/apps/NAME/
# expect.json says:
#
#   - an HTTP app: the container gets a network namespace of its own; each command of probes.json
#     is sent there with curl and must get the status and the body ("body": exact, "contains": a
#     substring, "sha256": the hex digest, for binary files) of the expect.json "responses" entry
#     at the same index;
#   - a command-line app (no probes.json): each expect.json "runs" entry is run with its mount and
#     must exit with its exit_code and print its stdout.
#
# usage: testdata/apps/check.sh [-i TAR] NAME...
#   -i TAR   check this docker-archive (a slimmed image, say) against NAME's expectations instead of
#            $SLIMTRACE_FIXTURES/NAME.tar (one NAME only)
#
# Needs root, ctr, curl, jq and ip. CONTAINERD_ADDRESS (default the test containerd's socket) and
# CHECK_NAMESPACE (default slimtrace-fixtures-check) say where images are imported.
set -euo pipefail
shopt -s inherit_errexit

apps=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures=${SLIMTRACE_FIXTURES:-${SLIMTRACE_CACHE:-/var/cache/slimtrace}/fixtures}
address=${CONTAINERD_ADDRESS:-/run/slimtrace-containerd/containerd.sock}
namespace=${CHECK_NAMESPACE:-slimtrace-fixtures-check}
tmp=$(mktemp -d /tmp/slimtrace-check.XXXXXX)
netns=
container=
trap 'stop; rm -rf "$tmp"' EXIT

log() { echo "check: $*" >&2; }

ctr() { command ctr -a "$address" -n "$namespace" "$@"; }

# stop removes the running container and its network namespace, if any.
stop() {
	if [[ -n $container ]]; then
		ctr tasks kill -s SIGKILL "$container" >/dev/null 2>&1 || true
		ctr tasks delete -f "$container" >/dev/null 2>&1 || true
		ctr containers delete "$container" >/dev/null 2>&1 || true
		container=
	fi
	if [[ -n $netns ]]; then
		ip netns delete "$netns" 2>/dev/null || true
		netns=
	fi
}

# import TAR: imports the archive and prints the image name it holds.
import() {
	local name
	name=$(tar -xOf "$1" manifest.json | jq -r '.[0].RepoTags[0]')
	[[ $name == */* ]] || name=docker.io/library/$name
	[[ $name == *.*/* || $name == localhost/* ]] || name=docker.io/$name
	ctr images import "$1" >/dev/null
	echo "$name"
}

# check_http NAME IMAGE: runs IMAGE and sends it NAME's probes. Prints one line per probe;
# returns non-zero if any answer differs from expect.json.
check_http() {
	local name=$1 image=$2 dir=$apps/$1 probes=$apps/$1/probes.json expect=$apps/$1/expect.json
	local port n i cmd want method resource url code failed=0 args
	port=$(jq -r .port "$expect")
	n=$(jq '.commands | length' "$probes")
	[[ $n == $(jq '.responses | length' "$expect") ]] || {
		log "$name: probes.json has $n commands, expect.json $(jq '.responses | length' "$expect") responses"
		return 1
	}

	netns=slimtrace-check-$$
	container=slimtrace-check-$name-$$
	ip netns add "$netns"
	ip -n "$netns" link set lo up
	ctr run -d --with-ns "network:/run/netns/$netns" --log-uri "file://$tmp/$name.log" "$image" "$container" >/dev/null
	for i in $(seq 100); do
		ip netns exec "$netns" curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.3
	done

	for ((i = 0; i < n; i++)); do
		cmd=$(jq -c ".commands[$i]" "$probes")
		want=$(jq -c ".responses[$i]" "$expect")
		method=$(jq -r '.method // "GET"' <<<"$cmd")
		resource=$(jq -r .resource <<<"$cmd")
		if [[ $(jq -r '"\(.method // "GET") \(.resource)"' <<<"$want") != "$method $resource" ]]; then
			log "$name: responses[$i] is for $(jq -r '"\(.method) \(.resource)"' <<<"$want"), commands[$i] for $method $resource"
			return 1
		fi
		url="http://127.0.0.1:$(jq -r ".port // $port" <<<"$cmd")$resource"
		args=(-sS -o "$tmp/body" -w '%{http_code}' -X "$method" --max-time 15)
		mapfile -t -O "${#args[@]}" args < <(jq -r '.headers // {} | to_entries[] | "-H", "\(.key): \(.value)"' <<<"$cmd")
		if jq -e 'has("body_file")' <<<"$cmd" >/dev/null; then
			args+=(--data-binary "@$dir/$(jq -r .body_file <<<"$cmd")")
		elif jq -e 'has("body")' <<<"$cmd" >/dev/null; then
			args+=(--data-binary "$(jq -r .body <<<"$cmd")")
		fi
		code=$(ip netns exec "$netns" curl "${args[@]}" "$url") || code=000
		if result=$(compare "$want" "$code" "$tmp/body"); then
			printf '  ok    %s %s\n' "$method" "$resource"
		else
			printf '  FAIL  %s %s: %s\n' "$method" "$resource" "$result"
			failed=1
		fi
	done
	if ((failed)); then
		log "$name: container output:"
		sed 's/^/    /' "$tmp/$name.log" >&2 || true
	fi
	stop
	return "$failed"
}

# compare WANT CODE BODYFILE: checks an answer against one expect.json entry; prints what differs.
compare() {
	local want=$1 code=$2 body=$3 status
	status=$(jq -r .status <<<"$want")
	if [[ $code != "$status" ]]; then
		echo "status $code, want $status; body: $(head -c 200 "$body" 2>/dev/null)"
		return 1
	fi
	if jq -e 'has("body")' <<<"$want" >/dev/null; then
		if ! cmp -s "$body" <(jq -j .body <<<"$want"); then
			echo "body differs: $(head -c 200 "$body")"
			return 1
		fi
	elif jq -e 'has("sha256")' <<<"$want" >/dev/null; then
		if [[ $(sha256sum <"$body" | cut -d' ' -f1) != $(jq -r .sha256 <<<"$want") ]]; then
			echo "body's sha256 differs: $(sha256sum <"$body" | cut -d' ' -f1)"
			return 1
		fi
	elif jq -e 'has("contains")' <<<"$want" >/dev/null; then
		if ! grep -qF -- "$(jq -r .contains <<<"$want")" "$body"; then
			echo "body lacks $(jq .contains <<<"$want"): $(head -c 200 "$body")"
			return 1
		fi
	fi
}

# check_runs NAME IMAGE: runs IMAGE once per expect.json "runs" entry.
check_runs() {
	local name=$1 image=$2 expect=$apps/$1/expect.json n i run mount src dst opts cmd rc failed=0
	n=$(jq '.runs | length' "$expect")
	for ((i = 0; i < n; i++)); do
		run=$(jq -c ".runs[$i]" "$expect")
		mapfile -t cmd < <(jq -r '.cmd[]' <<<"$run")
		mount=()
		if jq -e 'has("mount")' <<<"$run" >/dev/null; then
			IFS=: read -r src dst opts <<<"$(jq -r .mount <<<"$run")"
			mount=(--mount "type=bind,src=$apps/$name/$src,dst=$dst,options=rbind:${opts:-rw}")
		fi
		rc=0
		ctr run --rm "${mount[@]}" "$image" "slimtrace-check-$name-$$" "${cmd[@]}" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
		if [[ $rc != "$(jq -r '.exit_code // 0' <<<"$run")" ]]; then
			printf '  FAIL  %s: exit code %s\n' "${cmd[*]}" "$rc"
			sed 's/^/    /' "$tmp/stderr"
			failed=1
		elif ! cmp -s "$tmp/stdout" <(jq -j .stdout <<<"$run"); then
			printf '  FAIL  %s: stdout differs:\n' "${cmd[*]}"
			diff <(jq -j .stdout <<<"$run") "$tmp/stdout" | sed 's/^/    /' || true
			failed=1
		else
			printf '  ok    %s\n' "${cmd[*]}"
		fi
	done
	return "$failed"
}

main() {
	local tar='' name image failed=()
	if [[ ${1:-} == -i ]]; then
		tar=${2:?-i needs a tarball}
		shift 2
		(($# == 1)) || {
			echo "usage: $0 [-i TAR] NAME..." >&2
			exit 2
		}
	fi
	(($#)) || {
		echo "usage: $0 [-i TAR] NAME..." >&2
		exit 2
	}
	[[ $(id -u) == 0 ]] || {
		log "must run as root"
		exit 1
	}
	for name in "$@"; do
		[[ -f $apps/$name/expect.json ]] || {
			log "$name: no $apps/$name/expect.json"
			exit 1
		}
		image=$(import "${tar:-$fixtures/$name.tar}")
		echo "$name ($image):"
		if [[ -f $apps/$name/probes.json ]]; then
			check_http "$name" "$image" || failed+=("$name")
		else
			check_runs "$name" "$image" || failed+=("$name")
		fi
	done
	if ((${#failed[@]})); then
		log "failed: ${failed[*]}"
		exit 1
	fi
	log "all passed: $*"
}

main "$@"
