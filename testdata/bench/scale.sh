#!/usr/bin/env bash
# scale.sh — how slimtrace's build cost grows with a big image whose app uses little of it
# (issue 17): a busybox httpd image with FILES incompressible files of SIZE bytes under /data (the
# default: 200,000 files, 1.0 GB); the probes read / and one file of /data. Prints, from one run:
# `ctr images import` of the same archive (unpack included; the mean of one run before slimtrace
# and one after, each step started from an empty namespace and a sync) as the baseline, slimtrace build's time
# by phase, the ratio build ÷ import, the paths the slim image keeps and slimtrace's peak RSS.
#
#   testdata/bench/scale.sh [FILES [SIZE]]     (make bench-scale; make bench-scale-10g for 10 GB)
#
# Needs root, the test services (make services), busybox-static, umoci, skopeo, GNU time and bin/slimtrace.
# The image is cached in $SLIMTRACE_CACHE/bench/ by its shape; nothing is left in containerd.
set -euo pipefail
umask 022

files=${1:-200000}
size=${2:-5120}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
bin=${SLIMTRACE_BIN:-$repo/bin/slimtrace}
addr=${CONTAINERD_ADDRESS:?run eval "\$(.ci/services.sh env)" first}
ns=slimtrace-bench-scale
name=scale-$files-$size
archive=$cache/bench/$name.tar
log() { echo "bench-scale: $*" >&2; }

for tool in umoci skopeo ctr /usr/bin/time "$bin"; do
	command -v "$tool" >/dev/null || { log "missing $tool (make deps build)"; exit 1; }
done
if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
	log "/usr/bin/time is not GNU time (apt-get install time)"
	exit 1
fi

work=
state=$(mktemp -d /var/tmp/slimtrace-bench-scale.XXXXXX)
# clear_ns removes every image of the bench's namespace (containerd then collects their content and
# snapshots), so that each measured step starts from nothing.
clear_ns() {
	local refs
	refs=$(ctr -a "$addr" -n "$ns" images ls -q 2>/dev/null) || return 0
	[[ -z $refs ]] || ctr -a "$addr" -n "$ns" images rm --sync $refs >/dev/null 2>&1 || true
}
cleanup() {
	[[ -z $work ]] || rm -rf --one-file-system "$work"
	clear_ns
	rm -rf --one-file-system "$state"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# The image: a static busybox serving / with an index page and FILES random files under /data.
if [[ ! -f $archive ]]; then
	mkdir -p "$cache/bench"
	work=$(mktemp -d "$cache/bench/.work.XXXXXX")
	root=$work/rootfs
	log "writing $files files of $size bytes ($((files * size / 1000000)) MB)"
	mkdir -p "$root"/{bin,etc,tmp,data}
	chmod 1777 "$root/tmp"
	install -m 0755 /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	echo 'scale fixture' >"$root/index.html"
	head -c $((files * size)) /dev/urandom | (cd "$root/data" && split -b "$size" -a 7 -d - f)
	umoci init --layout "$work/oci"
	umoci new --image "$work/oci:latest"
	(cd "$root" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
		tar --create --file "$work/layer.tar" --no-recursion --numeric-owner --owner=0 --group=0 \
			--format=posix --null --files-from -)
	log "packing the layer"
	umoci raw add-layer --image "$work/oci:latest" "$work/layer.tar"
	rm -f "$work/layer.tar"
	umoci config --image "$work/oci:latest" \
		--config.entrypoint /bin/busybox --config.entrypoint httpd --config.entrypoint -f \
		--config.entrypoint -p --config.entrypoint 8080 --config.entrypoint -h --config.entrypoint / \
		--config.exposedports 8080/tcp --config.env PATH=/bin
	skopeo --insecure-policy copy --quiet "oci:$work/oci:latest" "docker-archive:$archive.tmp:slimtrace-bench/$name:latest"
	mv "$archive.tmp" "$archive"
	rm -rf --one-file-system "$work"
	work=
fi
log "image $archive ($(du -h "$archive" | cut -f1))"

# settle empties the bench's namespace and lets the kernel write back what the previous step left
# dirty (GBs of content and unpacked files) before the next timed step: otherwise the second step
# pays for the first's writeback and the deletion of its snapshot.
settle() {
	clear_ns
	sync
}

# Baseline: containerd's own import and unpack of the same archive, before and after slimtrace.
time_ctr() {
	settle
	local start end
	start=$(date +%s.%N)
	ctr -a "$addr" -n "$ns" images import "$archive" >/dev/null
	end=$(date +%s.%N)
	echo "$end - $start" | bc -l
}
import1_s=$(time_ctr)

# slimtrace build of the same archive, into the same (now empty) namespace.
probe=/data/f$(printf '%07d' $((files / 2)))
out=$state/out.txt
settle
start=$(date +%s.%N)
/usr/bin/time -f 'peak_rss_kb %M' -o "$state/rss" "$bin" --state-path "$state/st" build \
	--containerd "$addr" --namespace "$ns" --continue-after probe --http-probe-cmd "$probe" \
	--tag "slimtrace-bench/$name.slim:latest" --copy-meta-artifacts "$state/art" \
	"docker-archive:$archive" >"$out" 2>&1 || { cat "$out" >&2; exit 1; }
end=$(date +%s.%N)
build_s=$(echo "$end - $start" | bc -l)
import2_s=$(time_ctr)
import_s=$(echo "($import1_s + $import2_s) / 2" | bc -l)
rss_kb=$(awk '/^peak_rss_kb/ { print $2 }' "$state/rss")
report=$state/art/creport.json
kept=$(jq '.slim.files | length' "$report")

printf '\nbench-scale: %d files of %d bytes under /data (%s archive)\n' "$files" "$size" "$(du -h "$archive" | cut -f1)"
printf '  ctr images import (unpack included): %6.1f s  (%.1f s before, %.1f s after)\n' "$import_s" "$import1_s" "$import2_s"
printf '  slimtrace build:                     %6.1f s  (ratio %.2f × import)\n' "$build_s" "$(echo "$build_s / $import_s" | bc -l)"
jq -r '.timings | "    resolve \(.resolve_ms/1000)s, create \(.create_ms/1000)s, start \(.start_ms/1000)s, probe \((.probe_ms + .wait_ms)/1000)s, collect \((.stop_ms + .collect_ms)/1000)s, files \(.fileset_ms/1000)s, build \(.solve_ms/1000)s, export \(.export_ms/1000)s"' "$report"
printf '  paths kept: %d\n' "$kept"
printf '  slimtrace peak RSS: %d MB\n' $((rss_kb / 1024))
grep -E '^(slim|image): ' "$out" | sed 's/^/  /'
