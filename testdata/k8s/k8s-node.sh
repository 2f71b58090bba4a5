#!/usr/bin/env bash
# k8s-node.sh start|stop|status — a real single-node Kubernetes on this machine, all on loopback: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kubelet on a private containerd (CRI with restrict_oom_score_adj,
# a bridge pod network 10.244.0.0/24 on this host only; host-network pods serve on 127.0.0.1). A recipe that
# was seen working, not a product: token auth and AlwaysAllow authorization, no kube-proxy, no cluster DNS.
# Binaries: $BIN from build-k8s.sh. State under $K; `export KUBECONFIG=$K/admin.kubeconfig` for kubectl.
# The kubelet's container labels (io.kubernetes.pod.name, …) and cgroup paths (/k8s.io/<id>) are real.
# Localhost seccomp profiles go in $K/kubelet/seccomp/profiles/. Adapted from the shared recipe (../shared/k8s):
# start is idempotent (a Ready node is left as it is; a half-started one is stopped first), etcd and the
# apiserver are polled, not slept on; status exits 0 only on a Ready node.
set -euo pipefail
SLIMTRACE_CACHE=${SLIMTRACE_CACHE:-/var/cache/slimtrace}
K=${K:-/var/tmp/slimtrace-k8s}; BIN=${BIN:-$SLIMTRACE_CACHE/k8s-bin}; NODE=node1
ready() {
  [ -f "$K/kubelet.pid" ] && kill -0 "$(cat "$K/kubelet.pid")" 2>/dev/null &&
    "$BIN/kubectl" --kubeconfig "$K/admin.kubeconfig" --request-timeout 5s get node $NODE 2>/dev/null | grep -qw Ready
}
case "${1:-start}" in
  status) ready; exit ;;
  start) if ready; then echo "node $NODE Ready; KUBECONFIG=$K/admin.kubeconfig"; exit 0; fi
    for p in kubelet scheduler controller-manager apiserver etcd containerd; do
      [ -f "$K/$p.pid" ] && { echo "k8s-node: a half-started node in $K: stopping it first" >&2; "$0" stop; break; }
    done ;;
  stop) ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
if [ "${1:-start}" = stop ]; then
  stop() {  # stop NAME...: TERM, up to 10 s, then KILL
    local p pid; for p in "$@"; do
      [ -f "$K/$p.pid" ] || continue
      pid=$(cat "$K/$p.pid"); kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true; rm -f "$K/$p.pid"
    done
  }
  stop kubelet scheduler controller-manager   # first, or kubelet restarts the pods removed below
  # the pods' tasks outlive containerd (their shims): remove them while it still runs
  S=$K/ctrd/containerd.sock
  if ctr -a "$S" version >/dev/null 2>&1; then
    for t in $(ctr -a "$S" -n k8s.io tasks ls -q); do ctr -a "$S" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $(ctr -a "$S" -n k8s.io tasks ls -q); do ctr -a "$S" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true; done
    for c in $(ctr -a "$S" -n k8s.io containers ls -q); do ctr -a "$S" -n k8s.io containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  stop apiserver etcd containerd
  # mounts the pods left (sandbox shm, kubelet volumes), deepest first
  awk -v k="$K/" 'index($5, k) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link del k8s0 2>/dev/null || true
  exit 0
fi
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
  [ -x "$BIN/$b" ] || { echo "k8s-node: $BIN/$b is missing (make k8s-bin)" >&2; exit 1; }
done
mkdir -p "$K"/{pki,etcd,cni/conf,logs,kubelet,ctrd}
# containerd with CRI
cat > "$K/ctrd/config.toml" <<T
version = 2
root = "$K/ctrd/root"
state = "$K/ctrd/state"
[grpc]
  address = "$K/ctrd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K/cni/conf"
T
# pod network: a bridge on this host only (no masquerade, no route out); pods answer the host on their 10.244.0.x
cat > "$K/cni/conf/10-pods.conflist" <<J
{"cniVersion":"1.0.0","name":"pods","plugins":[
 {"type":"bridge","bridge":"k8s0","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.0.0/24"}]],"dataDir":"$K/cni/ipam"}},
 {"type":"loopback"}]}
J
setsid containerd --config "$K/ctrd/config.toml" > "$K/logs/containerd.log" 2>&1 < /dev/null & echo $! > "$K/containerd.pid"
for _ in $(seq 50); do ctr -a "$K/ctrd/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
# the sandbox ("pause") image, made from busybox-static: no registry is reachable
if ! ctr -a "$K/ctrd/containerd.sock" -n k8s.io images ls -q | grep -qx registry.k8s.io/pause:3.10; then
  pw=$(mktemp -d); (cd "$pw" && umoci init --layout oci >/dev/null && umoci new --image oci:p && umoci unpack --image oci:p b >/dev/null \
    && mkdir -p b/rootfs/bin && cp /bin/busybox b/rootfs/bin/ && umoci repack --image oci:p b >/dev/null \
    && umoci config --image oci:p --config.entrypoint /bin/busybox --config.cmd sleep --config.cmd 2147483647 >/dev/null \
    && skopeo copy -q oci:oci:p docker-archive:p.tar:registry.k8s.io/pause:3.10 \
    && ctr -a "$K/ctrd/containerd.sock" -n k8s.io images import p.tar >/dev/null); rm -rf "$pw"
fi
# certificates: one CA; the apiserver's serving cert; the service-account key pair; tokens for the clients
cd "$K/pki"
if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=k8s-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default' > san.ext
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 30 -extfile san.ext 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  tok=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$tok,admin,admin,system:masters" > tokens.csv
fi
tok=$(cut -d, -f1 tokens.csv)
kc() { cat > "$K/$1.kubeconfig" <<C
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:6443", certificate-authority: "$K/pki/ca.crt"}}]
users: [{name: u, user: {token: "$tok"}}]
contexts: [{name: c, context: {cluster: local, user: u}}]
current-context: c
C
}
kc admin
cd "$K"
setsid "$BIN/etcd" --data-dir "$K/etcd" --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 > logs/etcd.log 2>&1 < /dev/null & echo $! > etcd.pid
for _ in $(seq 100); do curl -s --max-time 1 http://127.0.0.1:2379/health | grep -q '"health":"true"' && break; sleep 0.2; done
setsid "$BIN/kube-apiserver" --etcd-servers http://127.0.0.1:2379 --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port 6443 --tls-cert-file pki/apiserver.crt --tls-private-key-file pki/apiserver.key --client-ca-file pki/ca.crt \
  --token-auth-file pki/tokens.csv --authorization-mode AlwaysAllow --service-cluster-ip-range 10.96.0.0/24 \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file pki/sa.pub \
  --service-account-signing-key-file pki/sa.key > logs/apiserver.log 2>&1 < /dev/null & echo $! > apiserver.pid
for _ in $(seq 60); do curl -sk --max-time 1 https://127.0.0.1:6443/readyz -H "Authorization: Bearer $tok" | grep -q ok && break; sleep 1; done
mkdir -p "$K/kubelet/seccomp/profiles"
setsid "$BIN/kube-controller-manager" --kubeconfig admin.kubeconfig --leader-elect=false --service-account-private-key-file pki/sa.key \
  --root-ca-file pki/ca.crt --controllers '*,-nodeipam,-service-lb-controller,-route' > logs/controller-manager.log 2>&1 < /dev/null & echo $! > controller-manager.pid
setsid "$BIN/kube-scheduler" --kubeconfig admin.kubeconfig --leader-elect=false > logs/scheduler.log 2>&1 < /dev/null & echo $! > scheduler.pid
cat > kubelet.yaml <<Y
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$K/ctrd/containerd.sock
address: 127.0.0.1
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
resolvConf: /etc/resolv.conf
Y
setsid "$BIN/kubelet" --kubeconfig admin.kubeconfig --config kubelet.yaml --hostname-override $NODE --node-ip 127.0.0.1 \
  --root-dir "$K/kubelet" > logs/kubelet.log 2>&1 < /dev/null & echo $! > kubelet.pid
for _ in $(seq 60); do "$BIN/kubectl" --kubeconfig admin.kubeconfig get node $NODE 2>/dev/null | grep -qw Ready && break; sleep 1; done
"$BIN/kubectl" --kubeconfig admin.kubeconfig get node $NODE | grep -qw Ready || { echo "node not Ready; logs in $K/logs" >&2; exit 1; }
echo "node $NODE Ready; KUBECONFIG=$K/admin.kubeconfig"
