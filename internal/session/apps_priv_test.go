package session

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/slimtrace/slimtrace/internal/probe"
)

// appDir is a sample app's directory under testdata/apps.
func appDir(name string) string { return filepath.Join("..", "..", "testdata", "apps", name) }

// expectations reads an app's expect.json: the routes whose body varies
// (checked by substring there) are compared by status only.
func varyingRoutes(t *testing.T, app string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(appDir(app), "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Responses []struct {
			Method, Resource, Contains string
		}
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	v := map[string]bool{}
	for _, r := range exp.Responses {
		if r.Contains != "" {
			v[r.Method+" "+r.Resource] = true
		}
	}
	return v
}

func blankVarying(run *Run, varying map[string]bool) {
	for i, p := range run.Probes.HTTP {
		if varying[p.Method+" "+p.Resource] {
			run.Probes.HTTP[i].SHA256, run.Probes.HTTP[i].Size = "", 0
		}
	}
}

// TestBuildAppsDefaultProbe: slim images built with only the default probe
// (GET / on the exposed ports) still pass every route of the app, the lazy
// ones included: the Flask app's static folder and its handler's import
// of sqlite3 (the import closure), Express's lazily loaded
// body encodings, nginx's unlinked JSON file. The Go server on a Debian base
// and an image running as a non-root USER are built with their own probes.
func TestBuildAppsDefaultProbe(t *testing.T) {
	for _, c := range []struct {
		app          string
		defaultProbe bool
		// skip are routes not to check.
		skip map[string]bool
	}{
		{"flask-static", true, nil}, // /api/items's import sqlite3: the import closure
		{"express", true, nil},
		{"nginx-static", true, nil},
		{"go-static", false, nil},
		{"nonroot-app", false, nil},
	} {
		t.Run(c.app, func(t *testing.T) {
			addr, tar := env(t, c.app)
			defer assertClean(t, addr)
			ctx := testContext(t)
			cmds, err := probe.ParseFile(filepath.Join(appDir(c.app), "probes.json"))
			if err != nil {
				t.Fatal(err)
			}
			o := options(t, addr, "docker-archive:"+tar)
			if !c.defaultProbe {
				o.Probe.Cmds = cmds
			}
			res, err := buildRun(ctx, o, buildOptions(t))
			if err != nil {
				t.Fatal(err)
			}
			slim := res.Report.Slim
			t.Logf("%s: %.1f MB -> %.1f MB (%.1fx), %d paths", c.app, float64(slim.FatSize)/1e6,
				float64(slim.Size)/1e6, slim.Ratio, len(slim.Files))

			var checked []probe.Cmd
			for _, cmd := range cmds {
				if !c.skip[cmd.Method+" "+cmd.Resource] {
					checked = append(checked, cmd)
				}
			}
			o.Probe.Cmds = checked
			fat, err := profileRun(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if fat.Report.Probe.Failed != 0 {
				t.Fatalf("the fat image fails its own probes: %+v", fat.Report.Probe.HTTP)
			}
			o.Image = slim.Name
			thin, err := profileRun(ctx, o)
			if err != nil {
				t.Fatalf("the slim image: %v", err)
			}
			varying := varyingRoutes(t, c.app)
			blankVarying(fat.Run, varying)
			blankVarying(thin.Run, varying)
			if diffs, _ := Compare(fat.Run, thin.Run); len(diffs) > 0 {
				t.Errorf("the slim image differs: %v", diffs)
			}
		})
	}
}
