#!/usr/bin/env bash
# build-k8s.sh — build the binaries of a real single-node Kubernetes from the Go module proxy into $BIN:
# etcd (go.etcd.io/etcd/server/v3), kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl
# (k8s.io/kubernetes; its staging modules are pinned by replace directives to the matching k8s.io/* releases).
# Measured: about 12 min of compiling on 2 cores (kube-apiserver alone 400 s), 650 MB of binaries.
# Idempotent: a binary already in $BIN is not rebuilt, so a warm machine returns at once.
# Adapted from the shared recipe (../shared/k8s); `make k8s-bin` runs it.
set -euo pipefail
SLIMTRACE_CACHE=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
BIN=${BIN:-$SLIMTRACE_CACHE/k8s-bin}; KV=${KV:-1.34.4}; EV=${EV:-3.6.16}; W=${W:-$SLIMTRACE_CACHE/k8s-build}
export PATH=$PATH:/usr/local/go/bin
export GOMODCACHE=${GOMODCACHE:-$SLIMTRACE_CACHE/go/mod}
mkdir -p "$BIN" "$W/k8s" "$W/etcd"
if [ ! -x "$BIN/etcd" ]; then
  cd "$W/etcd"; [ -f go.mod ] || printf 'module etcdbuild\n\ngo 1.26\n' > go.mod
  go get "go.etcd.io/etcd/server/v3@v$EV"; go build -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi
cd "$W/k8s"
if [ ! -f go.mod ]; then
  printf 'module k8sbuild\n\ngo 1.26\n' > go.mod
  for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider cluster-bootstrap \
      code-generator component-base component-helpers controller-manager cri-api cri-client csi-translation-lib \
      dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy \
      kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver sample-cli-plugin \
      sample-controller; do
    echo "replace k8s.io/$m => k8s.io/$m v0.${KV#1.}" >> go.mod
  done
fi
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
  [ -x "$BIN/$c" ] && continue
  go get "k8s.io/kubernetes/cmd/$c@v$KV"
  # build to a temporary name: an interrupted build never leaves a binary that looks finished
  go build -o "$BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c"
  mv "$BIN/$c.tmp" "$BIN/$c"
done
ls -la "$BIN"
