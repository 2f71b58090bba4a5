package main

import (
	"context"
	"fmt"
	"os"

	"github.com/slimtrace/slimtrace/internal/session"
)

type profileCmd struct {
	runFlags
}

func (c *profileCmd) Help() string {
	return `Runs the image in a container under containerd, traces it from the host
with eBPF from its first instruction, exercises it with probes, and writes
the container report and the security profiles. The image is not changed.

Artifacts go to <state-path>/images/<image-id>/artifacts/:
  creport.json              what ran, probes, files, execs, syscalls, timings
  <name>-seccomp.json       Docker/moby seccomp profile (--security-opt seccomp=FILE)
  <name>-apparmor           AppArmor profile

Examples:
  slimtrace profile docker-archive:app.tar
  slimtrace profile --http-probe-cmd /api/info --continue-after probe my/app
  slimtrace profile --cmd 'yq . /data/in.yaml' --mount $PWD:/data:ro --continue-after exit my/yq`
}

func (c *profileCmd) Run(ctx context.Context, g *Globals) error {
	opts, err := c.sessionOptions(g, "profile")
	if err != nil {
		return err
	}
	res, err := session.Profile(ctx, opts)
	if err != nil {
		return err
	}
	return finishArtifacts(res, g, &c.runFlags)
}

// finishArtifacts writes, copies and (if asked) removes the artifacts of a
// run, printing the summary between.
func finishArtifacts(res *session.Result, g *Globals, f *runFlags) error {
	dir := session.ArtifactDir(g.StatePath, res.Image.ID)
	if err := session.WriteArtifacts(res, dir); err != nil {
		return err
	}
	if f.CopyMetaArtifacts != "" {
		if err := session.CopyArtifacts(res, f.CopyMetaArtifacts); err != nil {
			return err
		}
	}
	res.Report.Summary(os.Stdout)
	if f.RemoveFileArtifacts {
		if err := session.RemoveArtifacts(res); err != nil {
			return fmt.Errorf("removing the artifacts: %w", err)
		}
	}
	if !res.Report.Complete {
		return exitError{code: 3}
	}
	return nil
}
