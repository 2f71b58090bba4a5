package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/session"
)

type recordCmd struct {
	Selector     string        `help:"Pod labels to record: KEY=VALUE[,KEY=VALUE...], all of them must match (the Deployment's selector, e.g. app=web)." required:"" placeholder:"KEY=VALUE"`
	Duration     time.Duration `help:"How long to record (e.g. 10m); 0: until SIGINT or SIGTERM. The recording is written either way." default:"0"`
	OutputDir    string        `help:"Directory the artifacts are written to: one set per pod owner and container name, NAME=<owner>-<container>: NAME-creport.json, NAME-seccomp.json, NAME-seccomp-k8s.json, NAME-seccomp-pod.yaml, NAME-seccomp-spo.yaml, NAME-apparmor." required:"" type:"path" placeholder:"DIR"`
	CRI          string        `help:"The CRI runtime's containerd socket (the kubelet's containers, namespace k8s.io)." default:"unix:///run/containerd/containerd.sock" placeholder:"ADDR"`
	Namespace    string        `help:"Record only pods of this Kubernetes namespace (default: every namespace)." placeholder:"NS"`
	CgroupParent string        `help:"The cgroup the kubelet's pods are below (default: kubepods.slice or kubepods, found)." placeholder:"PATH"`
	RingSize     int           `help:"Ring buffer size in MiB (a power of two); mapped twice, it counts twice in the resident size." default:"16"`
}

func (c *recordCmd) Help() string {
	return `Watches the node's CRI containerd and traces every container whose pod
has the selector's labels: the ones running now from now on (their
start-up is missed), and every one created while recording from its
entrypoint's first exec (a rollout's start-up is in the trace). Nothing
is stopped, paused or restarted. At the end (--duration, SIGINT or
SIGTERM) it writes, per pod owner (the Deployment: app.kubernetes.io/name
or app label, else the pod name without its ReplicaSet suffix) and
container name, one set of artifacts with the replicas merged:
creport.json, seccomp (Docker, kubelet, pod, SPO forms) and AppArmor.
creport.json's run.startup says whether start-up was traced.

It runs as well in a DaemonSet pod (hostPID, the host's /sys/fs/cgroup and
the CRI socket mounted) as on the node.

Examples:
  slimtrace record --selector app=web --duration 10m --output-dir /var/lib/slimtrace/out
  slimtrace record --selector app=web,tier=front --namespace shop --output-dir out`
}

func (c *recordCmd) Run(ctx context.Context, g *Globals) error {
	sel, err := container.ParseSelector(c.Selector)
	if err != nil {
		return err
	}
	if c.RingSize <= 0 || c.RingSize&(c.RingSize-1) != 0 {
		return fmt.Errorf("--ring-size %d is not a power of two", c.RingSize)
	}
	// The recording ends on SIGINT/SIGTERM, and is written after it.
	st, rt, err := runtimeAt(context.WithoutCancel(ctx), c.CRI, container.CRINamespace, g.StatePath)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := session.Record(ctx, session.RecordOptions{Runtime: rt, Selector: sel, Namespace: c.Namespace,
		Duration: c.Duration, CgroupParent: c.CgroupParent,
		Options: session.Options{Tool: "slimtrace " + version, Command: "record", RingBufferSize: c.RingSize << 20,
			Progress: progressWriter()}})
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range runs {
			_ = r.Close(context.WithoutCancel(ctx))
		}
	}()
	if len(runs) == 0 {
		return errors.New("no container matched the selector while recording: nothing written")
	}
	var errs []error
	for _, run := range runs {
		errs = append(errs, writeRecorded(ctx, run, c.OutputDir))
	}
	return errors.Join(errs...)
}
