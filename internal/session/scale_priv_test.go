package session

import (
	"archive/tar"
	"fmt"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/probe"
	"github.com/slimtrace/slimtrace/internal/trace"
)

// TestBuildManyFiles is issue 17's short big-image run: busybox-httpd with
// 20,000 more files in the directory it serves, of which it reads one. The
// build keeps what the app used, not the 20,000 files (the application
// directory rule stops at its file cap and says so), and loses nothing.
func TestBuildManyFiles(t *testing.T) {
	addr, fixture := env(t, "busybox-httpd")
	defer assertClean(t, addr)
	const n = 20_000
	entries := []privtest.LayerEntry{{Header: tar.Header{Name: "www/data/", Typeflag: tar.TypeDir, Mode: 0o755}}}
	for i := range n {
		entries = append(entries, privtest.LayerEntry{Header: tar.Header{Name: fmt.Sprintf("www/data/f%05d.txt", i)},
			Data: fmt.Sprintf("file %d\n", i)})
	}
	archive := privtest.AddLayer(t, fixture, entries...)
	o := options(t, addr, "docker-archive:"+archive)
	o.Probe.Cmds = []probe.Cmd{{Resource: "/"}, {Resource: "/data/f12345.txt"}}
	ctx := testContext(t)
	res, err := buildRun(ctx, o, buildOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImages(t, addr, res.Image.Name, res.Report.Slim.Name) })
	rep := res.Report
	if rep.Lost != (trace.Lost{}) {
		t.Errorf("lost: %+v", rep.Lost)
	}
	slim := listImage(t, addr, rep.Slim.Name)
	if _, ok := slim["/www/data/f12345.txt"]; !ok {
		t.Errorf("the file the app served is not kept")
	}
	data := 0
	for p := range slim {
		if strings.HasPrefix(p, "/www/data/") {
			data++
		}
	}
	if data != 1 || len(slim) > 100 {
		t.Errorf("%d paths kept, %d of them under /www/data: want the one served", len(slim), data)
	}
	capped := false
	for _, d := range rep.Slim.CappedDirs {
		capped = capped || (d.Dir == "/www" && d.Files >= n)
	}
	if !capped {
		t.Errorf("no capped application directory /www with %d+ files in the report: %+v", n, rep.Slim.CappedDirs)
	}
}
