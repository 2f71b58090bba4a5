package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/tartest"
)

// archiveConfig reads the image config of a docker-archive's only image.
func archiveConfig(t *testing.T, path string) (cfg struct {
	Config struct {
		Cmd          []string
		ExposedPorts map[string]struct{}
		WorkingDir   string
		Labels       map[string]string
	} `json:"config"`
	History []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}, layers int) {
	t.Helper()
	files := map[string][]byte{}
	tartest.Walk(t, path, func(h *tar.Header, r io.Reader) (err error) {
		if strings.HasSuffix(h.Name, ".json") && !strings.Contains(h.Name, "/") {
			files[h.Name], err = io.ReadAll(r)
		}
		return err
	})
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v (%d images)", err, len(manifest))
	}
	if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg, len(manifest[0].Layers)
}

// TestInfoPythonApp runs info on the python-app fixture: Dockerfile.fat
// holds every history record and the config's CMD, EXPOSE, WORKDIR and
// LABELs, in the state directory and the copy; the JSON form matches.
func TestInfoPythonApp(t *testing.T) {
	privtest.Root(t)
	addr := os.Getenv("CONTAINERD_ADDRESS")
	fixtures := os.Getenv("SLIMTRACE_FIXTURES")
	if fixtures == "" {
		fixtures = "/var/cache/slimtrace/fixtures"
	}
	archive := filepath.Join(fixtures, "python-app.tar")
	if _, err := os.Stat(archive); addr == "" || err != nil {
		privtest.Skip(t, "needs CONTAINERD_ADDRESS and the python-app fixture (make services fixtures)")
	}
	cfg, layers := archiveConfig(t, archive)
	state, copyTo := t.TempDir(), filepath.Join(t.TempDir(), "meta")
	common := []string{"--state-path", state, "info", "--containerd", addr, "--namespace", "slimtrace-info-test"}

	stdout, stderr, code := run(t, nil, append(common, "--copy-meta-artifacts", copyTo, "docker-archive:"+archive)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"Image:", "slimtrace-fixtures/python-app", "ID:", "sha256:", "Platform:", "linux/",
		fmt.Sprintf("Layers (%d):", layers), fmt.Sprintf("History (%d):", len(cfg.History)), "empty", "Dockerfile.fat:"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}
	fats, _ := filepath.Glob(filepath.Join(state, "images", "*", "artifacts", "Dockerfile.fat"))
	if len(fats) != 1 {
		t.Fatalf("Dockerfile.fat in the state directory: %v", fats)
	}
	fat, err := os.ReadFile(fats[0])
	if err != nil {
		t.Fatal(err)
	}
	if copied, err := os.ReadFile(filepath.Join(copyTo, "Dockerfile.fat")); err != nil || string(copied) != string(fat) {
		t.Errorf("--copy-meta-artifacts: %v", err)
	}

	df := string(fat)
	if !strings.Contains(df, "FROM scratch\n") {
		t.Errorf("no FROM scratch:\n%s", df)
	}
	for _, h := range cfg.History {
		if !strings.Contains(df, h.CreatedBy) {
			t.Errorf("history record %q not in Dockerfile.fat:\n%s", h.CreatedBy, df)
		}
	}
	want := []string{"CMD " + argvString(cfg.Config.Cmd), "WORKDIR " + cfg.Config.WorkingDir}
	for p := range cfg.Config.ExposedPorts {
		want = append(want, "EXPOSE "+p)
	}
	for k, v := range cfg.Config.Labels {
		if strings.Contains(v, " ") {
			v = `"` + v + `"`
		}
		want = append(want, "LABEL "+k+"="+v)
	}
	for _, w := range want {
		if !strings.Contains(df, w+"\n") {
			t.Errorf("Dockerfile.fat lacks %q:\n%s", w, df)
		}
	}
	if n := strings.Count(df, "# layer "); n != layers {
		t.Errorf("%d layer comments, want %d:\n%s", n, layers, df)
	}

	stdout, stderr, code = run(t, nil, append(common, "--output", "json", "docker-archive:"+archive)...)
	if code != 0 {
		t.Fatalf("json: exit %d\n%s", code, stderr)
	}
	var info imageInfo
	if err := json.Unmarshal([]byte(stdout), &info); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
	if len(info.Layers) != layers || len(info.History) != len(cfg.History) || info.Dockerfile != fats[0] ||
		!strings.HasPrefix(info.ID, "sha256:") || strings.Join(info.Config.Cmd, " ") != strings.Join(cfg.Config.Cmd, " ") {
		t.Errorf("json: %+v", info)
	}
	for i, h := range info.History {
		if h.CreatedBy != cfg.History[i].CreatedBy || h.EmptyLayer != cfg.History[i].EmptyLayer {
			t.Errorf("json history %d: %+v, want %+v", i, h, cfg.History[i])
		}
	}
}
