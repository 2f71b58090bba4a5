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
	Slim string `arg:"" optional:"" help:"The slim image to check against the fat one (same sources as IMAGE); with --compose-file, the only argument."`
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
	if len(c.ComposeFile) > 0 && c.Slim == "" {
		c.Image, c.Slim = "", c.Image // the fat image is the compose file's
	}
	if c.Slim == "" {
		return errors.New("verify takes the fat image and the slim one (with --compose-file, the slim one)")
	}
	opts, err := c.sessionOptions(ctx, g, "verify")
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
	session.Report(fat, nil, nil, v, creport.Artifacts{}).Summary(escapeWriter{os.Stdout})
	if !v.Passed {
		return errors.New("verification failed: the slim image does not behave as the fat one")
	}
	return nil
}
