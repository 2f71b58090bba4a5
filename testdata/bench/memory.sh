#!/usr/bin/env bash
# memory.sh — slimtrace's peak resident size as the number of traced files grows (issue 17): `slimtrace
# trace` of a command that opens N distinct files, for N = 0 and each size given, with the loss
# counters and the number of files in the report (all must be there). Prints bytes per traced file
# between the largest N and 0.
#
#   testdata/bench/memory.sh [N...]          (make bench-memory: 10000 100000)
#
# Needs root, tracefs, python3, GNU time and bin/slimtrace. Its files are in a temporary directory,
# removed at exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${SLIMTRACE_BIN:-$(cd "$here/../.." && pwd)/bin/slimtrace}
sizes=("${@:-10000 100000}")
read -ra sizes <<<"${sizes[*]}"
for tool in python3 /usr/bin/time "$bin"; do
	command -v "$tool" >/dev/null || { echo "bench-memory: missing $tool" >&2; exit 1; }
done
dir=$(mktemp -d /var/tmp/slimtrace-bench-memory.XXXXXX)
trap 'rm -rf --one-file-system "$dir"' EXIT
max=0
for n in "${sizes[@]}"; do ((n > max)) && max=$n; done
python3 - "$dir/files" "$max" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
for i in range(int(sys.argv[2])):
    open(os.path.join(sys.argv[1], "f%d" % i), "w").close()
PY
# run N: peak RSS (kB), files of the report under the directory, lost counters.
run() {
	local n=$1 rss
	rss=$(/usr/bin/time -f %M "$bin" trace -q --output "$dir/report.json" -- python3 -c "
import sys
for i in range($n): open('$dir/files/f%d' % i).close()" 2>&1 >/dev/null | tail -n 1)
	python3 - "$dir/report.json" "$dir/files/" "$n" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got = sum(1 for f in r["files"] if f["path"].startswith(sys.argv[2]))
lost = r["lost"]
print("%8s files: peak RSS %7.1f MB, %d in the report, lost %s" % (sys.argv[3], int(sys.argv[4]) / 1000, got, lost))
if got != int(sys.argv[3]) or any(lost.values()):
    sys.exit("bench-memory: files missing or events lost")
PY
	echo "$rss" >"$dir/rss-$n"
}
run 0
for n in "${sizes[@]}"; do run "$n"; done
awk -v n="$max" 'NR == 1 { base = $1 } NR == 2 { printf "bytes per traced file (peak, %d files vs none): %.0f\n", n, ($1 - base) * 1024 / n }' \
	"$dir/rss-0" "$dir/rss-$max"
