#!/usr/bin/env bash
# Builds buildkitd and buildctl from the Go module proxy into $SLIMTRACE_CACHE/bin.
# Cached: does nothing when both binaries are there and report the wanted version.
#
# `go install pkg@version` refuses modules whose go.mod has replace directives, so the
# binaries are built from a throwaway module that requires buildkit and copies its replaces.
set -euo pipefail

BUILDKIT_VERSION=${BUILDKIT_VERSION:-v0.34.2}
cache=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
bindir=$cache/bin
pkg=github.com/moby/buildkit

log() { echo "buildkitd.sh: $*" >&2; }

has_version() { [[ -x $1 ]] && "$1" --version 2>/dev/null | grep -qF " $BUILDKIT_VERSION "; }

if has_version "$bindir/buildkitd" && has_version "$bindir/buildctl"; then
	exit 0
fi

command -v go >/dev/null || { log "go not found on PATH"; exit 1; }
mkdir -p "$bindir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# quiet CMD...: runs CMD with its output in go.log, shown only if it fails.
quiet() {
	"$@" >>"$tmp/go.log" 2>&1 || {
		tail -n 50 "$tmp/go.log" >&2
		log "failed: $*"
		exit 1
	}
}

log "building buildkitd $BUILDKIT_VERSION (about 10 minutes on a cold module cache)"
start=$SECONDS
export GOFLAGS=-mod=mod GOWORK=off
quiet go mod init slimtrace.local/buildkit-build
quiet go mod download "$pkg@$BUILDKIT_VERSION"
upstream_mod=$(go mod download -json "$pkg@$BUILDKIT_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[[ -f $upstream_mod ]] || { log "cannot find go.mod of $pkg@$BUILDKIT_VERSION"; exit 1; }

# Copy buildkit's replace directives (single-line and block form) into the throwaway module.
awk '
	/^replace[[:space:]]*\($/ { inblock = 1; print; next }
	inblock { print; if ($0 ~ /^\)/) inblock = 0; next }
	/^replace[[:space:]]/ { print }
' "$upstream_mod" >>go.mod

cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
EOF
quiet go get "$pkg@$BUILDKIT_VERSION"
quiet go mod tidy

ldflags="-s -w -X $pkg/version.Version=$BUILDKIT_VERSION -X $pkg/version.Revision=$BUILDKIT_VERSION -X $pkg/version.Package=$pkg"
CGO_ENABLED=0 quiet go build -trimpath -tags "osusergo netgo static_build" -ldflags "$ldflags" \
	-o "$tmp/out/" "$pkg/cmd/buildkitd" "$pkg/cmd/buildctl"
install -m 0755 "$tmp/out/buildkitd" "$tmp/out/buildctl" "$bindir/"
has_version "$bindir/buildkitd" || { log "built buildkitd does not report $BUILDKIT_VERSION"; exit 1; }
log "built $bindir/buildkitd and buildctl in $((SECONDS - start))s"
