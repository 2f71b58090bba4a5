package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/profiles/seccomp"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/profile"
	"github.com/slimtrace/slimtrace/internal/session"
)

type profileCmd struct {
	runFlags
	// More holds the second and later arguments: only --merge takes more
	// than one (the first is runFlags.Image).
	More []string `arg:"" optional:"" name:"profiles" help:"With --merge: the other profile files (the first is the <image> argument)."`

	CRI string `help:"With a pod: target, the CRI runtime's containerd socket (the kubelet's containers, namespace k8s.io)." default:"unix:///run/containerd/containerd.sock" placeholder:"ADDR" group:"Running workloads"`

	Merge  bool   `help:"Merge the seccomp profiles (Docker/moby JSON) given as arguments instead of running an image: the result allows what any of them allows. They must share their default action." group:"Merge"`
	Output string `help:"With --merge: write the merged profile to this file instead of stdout." short:"o" type:"path" placeholder:"FILE" group:"Merge"`
}

func (c *profileCmd) Help() string {
	return `Runs the image in a container under containerd, traces it from the host
with eBPF from its first instruction, exercises it with probes, and writes
the container report and the security profiles. The image is not changed.

Artifacts go to <state-path>/images/<image-id>/artifacts/:
  creport.json              what ran, probes, files, execs, syscalls, timings,
                            and the seccomp profile against Docker's default
  <name>-seccomp.json       Docker/moby seccomp profile (--security-opt seccomp=FILE)
  <name>-seccomp-k8s.json   the same for Kubernetes: copy it to every node as
                            /var/lib/kubelet/seccomp/profiles/<name>.json
  <name>-seccomp-pod.yaml   a pod using it (seccompProfile type Localhost)
  <name>-seccomp-spo.yaml   a Security Profiles Operator SeccompProfile
  <name>-apparmor           AppArmor profile

Running workloads: with container:ID (containerd, any namespace),
pod:NS/NAME[/CONTAINER], pod:NS/-l KEY=VALUE[,...] (the kubelet's
containers through --cri) or docker-container:NAME, nothing is run: the
tracer attaches to the running containers (never stopped or restarted)
until --continue-after (N, signal, enter, probe), probing the ports they
listen on. Artifacts go to <state-path>/workloads/<owner>-<container>/
artifacts/, replicas merged; creport.json says run.attached and whether
start-up was traced (see also slimtrace record).

With --merge, the arguments are seccomp profiles (Docker/moby JSON, as
<name>-seccomp.json) from runs of the same image with different probes,
and no image is run: the merged profile is written to stdout or --output.

Examples:
  slimtrace profile docker-archive:app.tar
  slimtrace profile --http-probe-cmd /api/info --continue-after probe my/app
  slimtrace profile --cmd 'yq . /data/in.yaml' --mount $PWD:/data:ro --continue-after exit my/yq
  slimtrace profile container:3f9a2c7e --continue-after 60
  slimtrace profile 'pod:default/-l app=web' --continue-after signal
  slimtrace profile --merge run1/app-seccomp.json run2/app-seccomp.json -o app-seccomp.json`
}

func (c *profileCmd) Run(ctx context.Context, g *Globals) error {
	if c.Merge {
		return c.merge()
	}
	if len(c.More) > 0 {
		return fmt.Errorf("profile runs one image, got %d arguments (did you mean --merge?)", 1+len(c.More))
	}
	if c.Output != "" {
		return errors.New("--output is for --merge; a run writes its artifacts to the state path (see --copy-meta-artifacts)")
	}
	if isWorkload(c.Image) {
		return c.attach(ctx, g)
	}
	opts, err := c.sessionOptions(ctx, g, "profile")
	if err != nil {
		return err
	}
	run, err := session.Trace(ctx, opts)
	if err != nil {
		return err
	}
	defer run.Close(context.WithoutCancel(ctx))
	return finish(run, nil, nil, g, &c.runFlags)
}

// merge reads the profiles named by the arguments, merges them, and writes
// the result.
func (c *profileCmd) merge() error {
	files := append([]string{c.Image}, c.More...)
	if len(files) < 2 {
		return errors.New("--merge needs at least two profiles")
	}
	var ps []*seccomp.Seccomp
	for _, f := range files {
		p, err := readSeccomp(f)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	m, err := profile.Merge(ps...)
	if err != nil {
		return fmt.Errorf("merging %s: %w", strings.Join(files, ", "), err)
	}
	if _, err := profile.OCI(m); err != nil {
		return fmt.Errorf("the merged profile: %w", err)
	}
	var b bytes.Buffer
	if err := profile.WriteJSON(&b, m); err != nil {
		return err
	}
	if c.Output == "" {
		_, err := os.Stdout.Write(b.Bytes())
		return err
	}
	return writeFile(c.Output, b.Bytes())
}

// readSeccomp reads one profile in Docker/moby JSON, rejecting unknown
// fields (an AppArmor profile, a report, a typo).
func readSeccomp(path string) (*seccomp.Seccomp, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p seccomp.Seccomp
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s is not a seccomp profile (Docker/moby JSON): %w", path, err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("%s is not a seccomp profile: it has no defaultAction", path)
	}
	return &p, nil
}

// finish makes the profiles of a run, assembles its report, writes the
// artifacts, copies and (if asked) removes them, printing the summary
// between.
func finish(run *session.Run, slim *session.SlimResult, v *creport.Verify, g *Globals, f *runFlags) error {
	prof, err := session.MakeProfiles(run)
	if err != nil {
		return err
	}
	arts := session.Artifacts(session.ArtifactDir(g.StatePath, run.Image.ID().String()), run.Image.Name)
	rep := session.Report(run, slim, prof, v, arts)
	if err := session.WriteArtifacts(rep, prof); err != nil {
		return err
	}
	if f.CopyMetaArtifacts != "" {
		if err := session.CopyArtifacts(arts, f.CopyMetaArtifacts); err != nil {
			return err
		}
	}
	rep.Summary(escapeWriter{os.Stdout})
	if f.RemoveFileArtifacts {
		if err := session.RemoveArtifacts(arts); err != nil {
			return fmt.Errorf("removing the artifacts: %w", err)
		}
	}
	if !rep.Complete {
		return exitError{code: 3}
	}
	if rep.StartupOnly && f.FailOnUnexercised {
		return exitError{code: 4, msg: "the app was never exercised: no request reached it (--fail-on-unexercised)"}
	}
	return nil
}
