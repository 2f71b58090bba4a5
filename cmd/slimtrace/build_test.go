package main

import (
	"testing"

	"github.com/alecthomas/kong"

	"github.com/slimtrace/slimtrace/internal/fileset"
)

func TestBuildImportFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		ok    bool
		off   bool
		depth int
		size  int64
	}{
		{"defaults", nil, true, false, fileset.DefaultImportDepth, fileset.DefaultImportMaxBytes},
		{"off", []string{"--no-include-imports"}, true, true, fileset.DefaultImportDepth, fileset.DefaultImportMaxBytes},
		{"off, the other spelling", []string{"--include-imports=false"}, true, true, fileset.DefaultImportDepth, fileset.DefaultImportMaxBytes},
		{"bounds", []string{"--imports-max-depth", "2", "--imports-max-size", "1MB"}, true, false, 2, 1 << 20},
		{"docker spellings", []string{"--imports-max-size", "64m"}, true, false, fileset.DefaultImportDepth, 64 << 20},
		{"a fraction", []string{"--imports-max-size", "1.5GiB"}, true, false, fileset.DefaultImportDepth, 3 << 29},
		{"no bounds", []string{"--imports-max-depth", "0", "--imports-max-size", "0"}, true, false, -1, -1},
		{"negative depth", []string{"--imports-max-depth=-1"}, false, false, 0, 0},
		{"bad size", []string{"--imports-max-size", "lots"}, false, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cl cli
			p, err := kong.New(&cl, kong.Name("slimtrace"), kong.Exit(func(int) {}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Parse(append(append([]string{"build"}, tc.args...), "img")); err != nil {
				t.Fatal(err)
			}
			b, err := cl.Build.buildOptions(&Globals{})
			if (err == nil) != tc.ok {
				t.Fatalf("buildOptions: %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			fo := b.Files
			if fo.NoImports != tc.off || fo.ImportDepth != tc.depth || fo.ImportMaxBytes != tc.size {
				t.Errorf("options: off %v depth %d size %d; want %v %d %d", fo.NoImports, fo.ImportDepth, fo.ImportMaxBytes,
					tc.off, tc.depth, tc.size)
			}
		})
	}
}

// --output's value holds a comma (type=T,dest=FILE): kong must not split it.
func TestBuildOutputFlag(t *testing.T) {
	var cl cli
	p, err := kong.New(&cl, kong.Name("slimtrace"), kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"build", "--output", "type=docker,dest=a.tar", "--output", "type=oci,dest=b.tar", "img"}
	if _, err := p.Parse(args); err != nil {
		t.Fatal(err)
	}
	if got := cl.Build.Output; len(got) != 2 || got[0] != "type=docker,dest=a.tar" || got[1] != "type=oci,dest=b.tar" {
		t.Errorf("--output: %q", got)
	}
}

func TestBuildInsuranceFlag(t *testing.T) {
	cases := []struct {
		name             string
		args             []string
		ok               bool
		noApps, noImport bool
	}{
		{"default full", nil, true, false, false},
		{"none", []string{"--insurance=none"}, true, true, true},
		{"imports", []string{"--insurance", "imports"}, true, true, false},
		{"full", []string{"--insurance=full"}, true, false, false},
		{"old alias: no app dirs", []string{"--keep-app-dirs=false"}, true, true, false},
		{"old alias: no imports", []string{"--no-include-imports"}, true, false, true},
		{"an alias narrows a level", []string{"--insurance=imports", "--no-include-imports"}, true, true, true},
		{"unknown", []string{"--insurance=some"}, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cl cli
			p, err := kong.New(&cl, kong.Name("slimtrace"), kong.Exit(func(int) {}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Parse(append(append([]string{"build"}, tc.args...), "img"))
			if (err == nil) != tc.ok {
				t.Fatalf("parse: %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			b, err := cl.Build.buildOptions(&Globals{})
			if err != nil {
				t.Fatal(err)
			}
			if fo := b.Files; fo.NoAppDirs != tc.noApps || fo.NoImports != tc.noImport {
				t.Errorf("no app dirs %v, no imports %v; want %v %v", fo.NoAppDirs, fo.NoImports, tc.noApps, tc.noImport)
			}
		})
	}
}
