#!/usr/bin/env bash
# Installs the Debian packages named as arguments, if any is missing, and checks for Go.
# Quick and quiet when everything is there: apt-get update runs only when something must be
# installed. Called by `make deps` (which holds the package list) and by Dockerfile.dev.
set -euo pipefail

log() { echo "deps: $*" >&2; }

GO=${GO:-go}
if ! "$GO" version >/dev/null 2>&1; then
	log "Go not found (looked for '$GO'); install the Go version named in go.mod and put it on PATH"
	exit 1
fi

# One dpkg-query for all packages; unknown ones print nothing and count as missing.
declare -A installed=()
while read -r pkg status; do
	[[ $status == "install ok installed" ]] && installed[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null || true)
missing=()
for pkg in "$@"; do
	[[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	log "all $# packages present; $("$GO" version)"
	exit 0
fi

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
log "installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
log "done; $("$GO" version)"
