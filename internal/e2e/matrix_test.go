package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/creport"
)

func TestLoadApps(t *testing.T) {
	apps, err := LoadApps("../../testdata/apps/matrix.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range apps {
		if seen[a.Name] {
			t.Errorf("%s twice", a.Name)
		}
		seen[a.Name] = true
	}
	// Every sample app is in the matrix.
	for _, name := range []string{"busybox-httpd", "python-app", "go-static", "flask-static", "express", "nginx-static",
		"ruby-app", "php-app", "java-app", "elixir-app", "cli-yq", "nonroot-app", "django-app"} {
		if !seen[name] {
			t.Errorf("%s is not in the matrix", name)
		}
	}
}

func TestResults(t *testing.T) {
	files := []creport.KeptFile{{Path: "/a", Type: "file", Size: 5e6}, {Path: "/d", Type: "dir"},
		{Path: "/b", Type: "file", Size: 20e6}, {Path: "/c", Type: "file", Size: 1e6}}
	rep := func(size, unpacked int64, passed bool) *creport.Container {
		v := &creport.Verify{Passed: passed}
		if !passed {
			v.Diffs = []string{"GET /x: status fat 200, slim 500"}
		}
		return &creport.Container{
			Slim:    &creport.Slim{FatSize: 120e6, Size: size, UnpackedSize: unpacked, Files: files},
			Verify:  v,
			Timings: creport.Timings{TotalMS: 12300},
		}
	}
	py := App{Name: "py", Base: "minbase + python3", Language: "python"}
	node := App{Name: "node", Base: "minbase + nodejs", Language: "node"}
	for _, c := range []struct {
		name string
		r    Result
		want []string
	}{
		{"ok", FromReport(py, rep(26e6, 27e6, true), nil), nil},
		{"too big", FromReport(py, rep(36e6, 37e6, true), nil), []string{"target for python <= 35 MB"}},
		{"bloat", FromReport(py, rep(10e6, 12e6, true), nil), []string{"1.200x its files' bytes"}},
		{"verify", FromReport(py, rep(10e6, 10.5e6, false), nil), []string{"verification failed: GET /x"}},
		{"no report", FromReport(py, nil, errors.New("exit status 1")), []string{"exit status 1", "no slim image"}},
		{"no target", FromReport(node, rep(90e6, 91e6, true), nil), nil},
		{"default probe", withDefault(FromReport(py, rep(26e6, 27e6, true), nil), "GET /about: status fat 200, slim 500"),
			[]string{"default probe: GET /about"}},
		{"insurance", withInsurance(FromReport(py, rep(26e6, 27e6, true), nil), 3e6), []string{"insurance is 12% of the slim image's files (target <= 10%)"}},
		{"insurance within", withInsurance(FromReport(py, rep(26e6, 27e6, true), nil), 2e6), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := strings.Join(c.r.Problems(), "\n")
			if len(c.want) == 0 && p != "" {
				t.Errorf("problems: %s", p)
			}
			for _, w := range c.want {
				if !strings.Contains(p, w) {
					t.Errorf("problems lack %q:\n%s", w, p)
				}
			}
		})
	}
	r := FromReport(node, rep(90e6, 91e6, true), nil)
	if r.Largest[0].Path != "/b" || r.Largest[2].Path != "/c" || len(r.Largest) != 3 || r.BuildSeconds != 12.3 {
		t.Errorf("largest %+v, build %v", r.Largest, r.BuildSeconds)
	}
	off := withInsurance(withDefault(FromReport(py, rep(26e6, 27e6, true), nil), ""), 1.3e6)
	off.OffBytes = 25.2e6 // built: shown as measured
	table := Table([]Result{off, FromReport(py, rep(36e6, 37e6, false), nil), r}, "hdr")
	for _, want := range []string{"hdr\n\n| app |",
		"| `py` | minbase + python3 | 120.0 | 27.0 | 4.4x | 4 | 12.3 | pass | pass | 1.30 (5.0%) | 25.2 | met (<= 35 MB) |",
		"| **FAIL** | = full (no probe file) | 0.00 (0.0%) | ~37.0 | **missed**: verification failed", "- `node` (91.0 MB): `/b` 20.0, `/a` 5.0, `/c` 1.0 — 29% of the files' bytes"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestSplice(t *testing.T) {
	doc := "# T\n\n" + BeginMarker + "\nold\n" + EndMarker + "\nafter\n"
	got, err := Splice(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# T\n\n" + BeginMarker + "\nnew table\n" + EndMarker + "\nafter\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := Splice("no markers", "x"); err == nil {
		t.Error("a document without markers was spliced")
	}
	if _, err := Splice(EndMarker+BeginMarker, "x"); err == nil {
		t.Error("markers out of order were accepted")
	}
}

func withDefault(r Result, failure string) Result {
	r.Default = &DefaultPass{Failure: failure}
	return r
}

func withInsurance(r Result, n int64) Result {
	r.InsuranceBytes = n
	return r
}
