package main

import (
	"context"
	"fmt"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/image"
)

type pruneCmd struct {
	Containerd string `help:"containerd's socket." default:"/run/containerd/containerd.sock" env:"CONTAINERD_ADDRESS"`
	Namespace  string `help:"containerd namespace whose slimtrace containers to look at (records under the state path name their own)." default:"default" env:"CONTAINERD_NAMESPACE"`
}

func (c *pruneCmd) Help() string {
	return `Each run records what it creates (containers, tasks, snapshots, image views
and network namespace mounts, leases, run directories) under the state path.
A run killed before it cleaned up (kill -9, the OOM killer) leaves them; the
next profile, build, verify or info run removes them, and so does prune.
Runs of slimtrace processes still running are left alone.`
}

func (c *pruneCmd) Run(ctx context.Context, g *Globals) error {
	st, err := image.Connect(ctx, image.Options{Address: c.Containerd, Namespace: c.Namespace, StatePath: g.StatePath})
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := container.PruneStale(ctx, st)
	fmt.Printf("removed %d things left by killed runs\n", n)
	return err
}
