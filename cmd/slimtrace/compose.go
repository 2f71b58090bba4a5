package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/rs/zerolog"

	"github.com/slimtrace/slimtrace/internal/compose"
	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/session"
)

// composeFlags are the successor's (mint's) compose flags: the target is a
// service of a Compose file and the services it depends on run beside it.
type composeFlags struct {
	ComposeFile          []string `help:"Compose file to run the target from (repeatable, merged in order). The target service (--target-compose-svc) runs traced with the file's image, command, entrypoint, environment, volumes, ports and user; the services it depends on start first, untraced, in its network namespace, in depends_on order and waited for as their conditions say." type:"existingfile" placeholder:"FILE" group:"Compose"`
	TargetComposeSvc     string   `help:"The Compose service to trace (may be left out when the file has one service)." placeholder:"NAME" group:"Compose"`
	DepIncludeComposeSvc []string `help:"Start only these of the target's dependencies (repeatable)." placeholder:"NAME" group:"Compose"`
	DepExcludeComposeSvc []string `help:"Do not start these dependencies, nor what only they need (repeatable)." placeholder:"NAME" group:"Compose"`
	ComposeEnvFile       []string `help:"Env file for the Compose file's variable interpolation (repeatable); default .env beside it, if any." type:"existingfile" placeholder:"FILE" group:"Compose"`
	ComposeProjectName   string   `help:"Compose project name (default: the file's name: key, else its directory's name)." placeholder:"NAME" group:"Compose"`
	ComposeProfile       []string `help:"Compose profiles to enable (repeatable; default $COMPOSE_PROFILES)." placeholder:"NAME" group:"Compose"`
}

// apply loads the Compose files, if any, and makes their target service
// the run's image and configuration and its dependencies side services.
// What the command line sets explicitly wins over the file.
func (c *composeFlags) apply(ctx context.Context, f *runFlags, o *session.Options) error {
	if len(c.ComposeFile) == 0 {
		if c.TargetComposeSvc != "" || len(c.DepIncludeComposeSvc)+len(c.DepExcludeComposeSvc)+len(c.ComposeEnvFile) > 0 {
			return errors.New("the --target-compose-svc and --dep-*-compose-svc flags need --compose-file")
		}
		return nil
	}
	if f.Image != "" {
		return fmt.Errorf("give either an image (%s) or --compose-file, not both", f.Image)
	}
	p, err := compose.Load(ctx, compose.Options{Files: c.ComposeFile, EnvFiles: c.ComposeEnvFile,
		ProjectName: c.ComposeProjectName, Profiles: c.ComposeProfile, WorkingDir: filepath.Dir(c.ComposeFile[0]),
		Environ: os.Environ()})
	if err != nil {
		return err
	}
	name := c.TargetComposeSvc
	if name == "" {
		if len(p.Services) != 1 {
			return fmt.Errorf("--target-compose-svc: the Compose files have %d services; name the one to trace", len(p.Services))
		}
		name = p.Services[0].Name
	}
	target, deps, err := p.Target(name, c.DepIncludeComposeSvc, c.DepExcludeComposeSvc)
	if err != nil {
		return err
	}
	o.Image = target.Image
	run := serviceRun(ctx, target)
	// The command line wins where it says something.
	if o.Run.Entrypoint == nil {
		o.Run.Entrypoint = run.Entrypoint
	}
	if o.Run.Cmd == nil {
		o.Run.Cmd = run.Cmd
	}
	o.Run.Env = append(run.Env, o.Run.Env...)
	o.Run.Mounts = append(run.Mounts, o.Run.Mounts...)
	o.Run.Expose = append(run.Expose, o.Run.Expose...)
	if o.Run.Workdir == "" {
		o.Run.Workdir = run.Workdir
	}
	if o.Run.User == "" {
		o.Run.User = run.User
	}
	if o.Run.Hostname == "" {
		o.Run.Hostname = run.Hostname
	}
	// Each dependency is waited for as the services that need it say:
	// the strongest condition wins.
	conds := map[string]string{}
	for _, s := range append(slices.Clone(deps), target) {
		for _, d := range s.DependsOn {
			if rank(d.Condition) > rank(conds[d.Service]) {
				conds[d.Service] = d.Condition
			}
		}
	}
	for _, d := range deps {
		side := session.SideService{Name: d.Name, Image: d.Image, Run: serviceRun(ctx, d)}
		switch conds[d.Name] {
		case compose.ServiceHealthy:
			side.Wait = session.Wait{Kind: session.WaitHealth, Health: d.Healthcheck}
		case compose.ServiceCompletedSuccessfully:
			side.Wait = session.Wait{Kind: session.WaitExit0}
		default:
			side.Wait = session.Wait{Kind: session.WaitStarted}
		}
		o.Sidecars = append(o.Sidecars, side)
	}
	return nil
}

func rank(condition string) int {
	return map[string]int{compose.ServiceStarted: 1, compose.ServiceHealthy: 2, compose.ServiceCompletedSuccessfully: 3}[condition]
}

// serviceRun is how a Compose service runs. A named volume becomes an
// empty anonymous one: slimtrace keeps no volumes between runs.
func serviceRun(ctx context.Context, s compose.Service) container.RunConfig {
	r := container.RunConfig{Entrypoint: s.Entrypoint, Cmd: s.Command, Env: s.Environment, Workdir: s.WorkingDir,
		User: s.User, Expose: s.Ports, Hostname: s.Hostname}
	for _, m := range s.Volumes {
		if m.Type == compose.Volume {
			zerolog.Ctx(ctx).Info().Str("service", s.Name).Str("volume", m.Source).Str("target", m.Target).
				Msg("a named volume starts empty: slimtrace keeps no volumes between runs")
			m.Source = ""
		}
		r.Mounts = append(r.Mounts, m.String())
	}
	return r
}
