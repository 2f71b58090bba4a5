package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/session"
)

// isWorkload says whether a profile target names running containers
// rather than an image.
func isWorkload(target string) bool {
	for _, p := range []string{"container:", "pod:", "docker-container:"} {
		if strings.HasPrefix(target, p) {
			return true
		}
	}
	return false
}

// runtimeAt connects to the containerd at address, in namespace ns.
func runtimeAt(ctx context.Context, address, ns, statePath string) (*image.Store, *container.Runtime, error) {
	st, err := image.Connect(ctx, image.Options{Address: strings.TrimPrefix(address, "unix://"), Namespace: ns,
		StatePath: statePath})
	if err != nil {
		return nil, nil, err
	}
	return st, container.NewRuntime(st), nil
}

// attach is profile on running workloads: container:, pod:,
// docker-container:.
func (c *profileCmd) attach(ctx context.Context, g *Globals) error {
	opts, err := c.sessionOptions(ctx, g, "profile")
	if err != nil {
		return err
	}
	target := c.Image
	var ws []container.Workload
	switch {
	case strings.HasPrefix(target, "docker-container:"):
		ws, err = (&container.Runtime{}).FindWorkloads(ctx, target, opts.Store.Docker)
	default:
		address, ns := c.Containerd, c.Namespace
		if strings.HasPrefix(target, "pod:") {
			address, ns = c.CRI, container.CRINamespace
		}
		st, rt, cerr := runtimeAt(ctx, address, ns, g.StatePath)
		if cerr != nil {
			return cerr
		}
		defer st.Close()
		ws, err = rt.FindWorkloads(ctx, target, opts.Store.Docker)
	}
	if err != nil {
		return err
	}
	runs, err := session.Attach(ctx, ws, opts)
	if err != nil {
		return err
	}
	defer func() {
		for _, r := range runs {
			_ = r.Close(context.WithoutCancel(ctx))
		}
	}()
	for _, run := range runs {
		arts := session.ArtifactsNamed(filepath.Join(g.StatePath, "workloads", run.Name, "artifacts"), run.Name)
		if err := writeAttached(ctx, run, arts, &c.runFlags); err != nil {
			return err
		}
	}
	return nil
}

// writeRecorded writes a recorded group's artifacts into dir, named after
// the group (<name>-creport.json, <name>-seccomp.json, ...).
func writeRecorded(ctx context.Context, run *session.Run, dir string) error {
	arts := session.ArtifactsNamed(dir, run.Name)
	arts.Report = filepath.Join(dir, run.Name+"-creport.json")
	return writeAttached(ctx, run, arts, nil)
}

// writeAttached writes an attached run's artifacts (and
// --copy-meta-artifacts), logs each file and prints the summary.
func writeAttached(ctx context.Context, run *session.Run, arts creport.Artifacts, f *runFlags) error {
	prof, err := session.MakeProfiles(run)
	if err != nil {
		return err
	}
	rep := session.Report(run, nil, prof, nil, arts)
	if err := session.WriteArtifacts(rep, prof); err != nil {
		return err
	}
	log := zerolog.Ctx(ctx)
	for _, p := range arts.Files() {
		log.Info().Str("file", p).Str("workload", run.Name).Msg("wrote")
	}
	if f != nil && f.CopyMetaArtifacts != "" {
		if err := session.CopyArtifacts(arts, f.CopyMetaArtifacts); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stdout, "workload:  %s\n", run.Name)
	rep.Summary(os.Stdout)
	if !rep.Complete {
		return exitError{code: 3}
	}
	return nil
}

func progressWriter() *os.File { return os.Stderr }
