package session

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slimtrace/slimtrace/internal/creport"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/safefs"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// TestReport assembles creport.json from stage results made by hand: an
// image view in a temporary directory, a trace, a slim image, profiles and
// a verification. Each stage's result lands where it belongs.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "main.py"), []byte("print(1)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("main.py", filepath.Join(dir, "app", "link.py")); err != nil {
		t.Fatal(err)
	}
	root, err := safefs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	img := &image.Image{Name: "docker.io/library/app:1", Size: 42, Origin: image.Origin{Kind: image.FromDocker, Where: "Docker Engine at unix:///d.sock"}}
	img.Config.OS, img.Config.Architecture = "linux", "amd64"
	img.Config.Config.Cmd = []string{"python3", "/app/main.py"}
	img.Config.Config.Env = []string{"PATH=/bin", "API_TOKEN=s3cret"}
	ok := []trace.FileAccess{{Kind: trace.AccessRead, Syscall: "openat", Result: "ok"}}
	run := &Run{
		Options: Options{Tool: "slimtrace test", Command: "build"}, StartedAt: time.Now().Add(-time.Second),
		Image: img, Exit: &creport.Exit{Code: 0, Reason: "stopped by slimtrace"},
		Probes: creport.Probes{Passed: 1}, Logs: []string{"serving"}, AppLineage: 7,
		Trace: &trace.Report{Files: []trace.File{
			{Path: "/app/link.py", Accesses: ok, Lineages: []uint32{7}},
			{Path: "/app", Accesses: ok, Lineages: []uint32{9}},
			{Path: "/etc/ld.so.cache", Accesses: ok, Lineages: []uint32{0}},
		}},
		Timings: creport.Timings{ProbeMS: 5},
		root:    root,
	}
	slim := &SlimResult{Report: creport.Slim{Name: "docker.io/library/app.slim:1", DeliveredTo: []string{"Docker Engine at unix:///d.sock"}},
		FilesetMS: 3, SolveMS: 2, ExportMS: 1}
	prof := &Profiles{Tightness: creport.Seccomp{Allowed: 50, DockerDefault: 300}}
	v := &creport.Verify{Image: slim.Report.Name, Passed: true}
	arts := Artifacts("/state/artifacts", img.Name)

	rep := Report(run, slim, prof, v, arts)
	if rep.Version != creport.Version || rep.Command != "build" || rep.Image.FoundIn != img.Origin.Where ||
		!slices.Equal(rep.Image.Config.Cmd, img.Config.Config.Cmd) || rep.Image.Platform != "linux/amd64" {
		t.Errorf("image part: %+v", rep.Image)
	}
	if len(rep.Files) != 1 || rep.Files[0].Resolved != "/app/main.py" || rep.Files[0].Type != "file" || rep.Files[0].Size != 9 {
		t.Errorf("application files: %+v", rep.Files)
	}
	if len(rep.ExecFiles) != 1 || rep.ExecFiles[0].Type != "dir" || !slices.Equal(rep.SetupFiles, []string{"/etc/ld.so.cache"}) {
		t.Errorf("exec files %+v, setup files %q", rep.ExecFiles, rep.SetupFiles)
	}
	if rep.Slim != &slim.Report || rep.Seccomp != &prof.Tightness || rep.Verify != v || rep.Artifacts.Seccomp != "/state/artifacts/app-seccomp.json" {
		t.Errorf("stage results not assembled: slim %p seccomp %p verify %p artifacts %+v", rep.Slim, rep.Seccomp, rep.Verify, rep.Artifacts)
	}
	if tm := rep.Timings; tm.ProbeMS != 5 || tm.FilesetMS != 3 || tm.SolveMS != 2 || tm.ExportMS != 1 || tm.TotalMS < 1000 {
		t.Errorf("timings %+v", tm)
	}
	if rep.Exit.Reason != "stopped by slimtrace" || rep.Probe.Passed != 1 || !slices.Equal(rep.Logs, run.Logs) {
		t.Errorf("run part: exit %+v probes %+v logs %q", rep.Exit, rep.Probe, rep.Logs)
	}
	// Secret-looking values are redacted unless asked for; the image's own
	// config keeps them.
	run.Container.Env = []string{"DB_PASSWORD=hunter2", "HOME=/root"}
	rep = Report(run, nil, nil, nil, creport.Artifacts{})
	if !slices.Equal(rep.Image.Config.Env, []string{"PATH=/bin", "API_TOKEN=<redacted>"}) ||
		!slices.Equal(rep.Run.Env, []string{"DB_PASSWORD=<redacted>", "HOME=/root"}) || img.Config.Config.Env[1] != "API_TOKEN=s3cret" {
		t.Errorf("redaction: image env %q, run env %q, the image's own %q", rep.Image.Config.Env, rep.Run.Env, img.Config.Config.Env)
	}
	run.Options.ReportEnvValues = true
	if rep = Report(run, nil, nil, nil, creport.Artifacts{}); rep.Run.Env[0] != "DB_PASSWORD=hunter2" || rep.Image.Config.Env[1] != "API_TOKEN=s3cret" {
		t.Errorf("--report-env-values: %q %q", rep.Image.Config.Env, rep.Run.Env)
	}
	run.Options.ReportEnvValues = false

	// A profile run has no slim image, profiles made, no verification.
	if p := Report(run, nil, nil, nil, creport.Artifacts{}); p.Slim != nil || p.Seccomp != nil || p.Verify != nil {
		t.Errorf("profile report: %+v", p)
	}
}
