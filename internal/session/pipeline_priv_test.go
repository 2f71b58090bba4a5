package session

import (
	"context"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// result is a whole profile or build run, its stages in the order the CLI
// runs them, for tests to look at every stage's output.
type result struct {
	Run      *Run
	Slim     *SlimResult
	Profiles *Profiles
	Report   *creport.Container
	Image    *image.Image
	Trace    *trace.Report
}

// profileRun does what `slimtrace profile` does, short of writing files.
func profileRun(ctx context.Context, o Options) (*result, error) { return pipeline(ctx, o, nil) }

// buildRun does what `slimtrace build` does, short of writing files.
func buildRun(ctx context.Context, o Options, b BuildOptions) (*result, error) {
	return pipeline(ctx, o, &b)
}

func pipeline(ctx context.Context, o Options, b *BuildOptions) (*result, error) {
	run, err := Trace(ctx, o)
	if err != nil {
		return nil, err
	}
	defer run.Close(context.WithoutCancel(ctx))
	res := &result{Run: run, Image: run.Image, Trace: run.Trace}
	if b != nil {
		if res.Slim, err = Slim(ctx, run, *b); err != nil {
			return nil, err
		}
		if err := Deliver(ctx, run, res.Slim); err != nil {
			return nil, err
		}
	}
	if res.Profiles, err = MakeProfiles(run); err != nil {
		return nil, err
	}
	res.Report = Report(run, res.Slim, res.Profiles, nil, creport.Artifacts{})
	return res, nil
}

// writeArtifacts writes res's artifacts into dir, as the CLI does.
func writeArtifacts(res *result, dir string) error {
	res.Report.Artifacts = Artifacts(dir, res.Image.Name)
	return WriteArtifacts(res.Report, res.Profiles)
}
