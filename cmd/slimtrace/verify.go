package main

import (
	"context"
	"errors"
	"os"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/session"
)

type verifyCmd struct {
	runFlags
	Slim string `arg:"" help:"The slim image to check against the fat one (same sources as IMAGE)."`
}

func (c *verifyCmd) Help() string {
	return `Runs the fat image, then the slim one, with the same settings and probes,
and compares each probe's status and body, each exec's and the healthcheck's
exit status, and whether the container stays up. Prints the differences and
fails if there is any.

Example:
  slimtrace verify --http-probe-cmd /api/info my/app my/app.slim`
}

func (c *verifyCmd) Run(ctx context.Context, g *Globals) error {
	opts, err := c.sessionOptions(g, "verify")
	if err != nil {
		return err
	}
	fat, err := session.Trace(ctx, opts)
	if err != nil {
		return err
	}
	defer fat.Close(context.WithoutCancel(ctx))
	v, err := session.Verify(ctx, fat, c.Slim)
	if err != nil {
		return err
	}
	session.Report(fat, nil, nil, v, creport.Artifacts{}).Summary(os.Stdout)
	if !v.Passed {
		return errors.New("verification failed: the slim image does not behave as the fat one")
	}
	return nil
}
