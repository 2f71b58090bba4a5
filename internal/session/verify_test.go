package session

import (
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/creport"
)

func TestCompare(t *testing.T) {
	probe := func(res string, status int, sha string) creport.HTTPProbe {
		return creport.HTTPProbe{Port: 80, Proto: "http", Method: "POST", Resource: res, Status: status, SHA256: sha}
	}
	fat := &Run{Exit: &creport.Exit{Reason: "stopped by slimtrace"}, Probes: creport.Probes{
		HTTP: []creport.HTTPProbe{probe("/echo", 200, "a"), probe("/echo", 200, "b"), probe("/x", 200, "c")},
		Exec: []creport.ExecProbe{{Command: []string{"true"}}},
	}}
	same := &Run{Exit: &creport.Exit{Reason: "stopped by slimtrace"}, Probes: fat.Probes}
	if d, _ := Compare(fat, same); len(d) != 0 {
		t.Errorf("identical runs differ: %v", d)
	}
	slim := &Run{Exit: &creport.Exit{Reason: "exited by itself", Code: 1}, Logs: []string{"boom"},
		Probes: creport.Probes{
			HTTP: []creport.HTTPProbe{probe("/echo", 200, "a"), probe("/echo", 200, "z"), probe("/x", 500, "")},
			Exec: []creport.ExecProbe{{Command: []string{"true"}, ExitCode: 127}},
		}}
	diffs, _ := Compare(fat, slim)
	d := strings.Join(diffs, "\n")
	for _, want := range []string{"exited by itself", "boom", "/echo: body differs", "/x: status fat 200, slim 500",
		"exec \"true\": exit fat 0, slim 127"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Count(d, "/echo") != 1 {
		t.Errorf("the first /echo matched its own first answer; want one /echo diff:\n%s", d)
	}
}

func TestCompareBodies(t *testing.T) {
	probe := func(res, body string) creport.HTTPProbe {
		return creport.HTTPProbe{Port: 80, Proto: "http", Method: "GET", Resource: res, Status: 200,
			SHA256: body, Size: int64(len(body)), Body: []byte(body)}
	}
	for _, c := range []struct {
		name, fat, slim string
		accepted        bool
		diff            string
	}{
		{"clock", `{"time":"2026-11-27T18:03:59+09:00","tz":"Asia/Tokyo"}`, `{"time":"2026-11-27T18:04:02+09:00","tz":"Asia/Tokyo"}`, true, ""},
		{"hex id", "request 3f9a2c7e done", "request 8b01d2ee done", true, ""},
		{"word", "status: ok\nmode: fast", "status: ok\nmode: slow", false, `line 2: fat "mode: fast", slim "mode: slow"`},
		{"error page", "<h1>Report</h1>", "Internal Server Error", false, "line 1"},
		{"hex word without digits", "cafe", "face", false, "line 1"},
		{"extra number", "a 1", "a 1 2", false, "line 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fat := &Run{Probes: creport.Probes{HTTP: []creport.HTTPProbe{probe("/", c.fat)}}}
			slim := &Run{Probes: creport.Probes{HTTP: []creport.HTTPProbe{probe("/", c.slim)}}}
			diffs, notes := Compare(fat, slim)
			if c.accepted != (len(diffs) == 0) || c.accepted != (len(notes) == 1) {
				t.Fatalf("diffs %q, notes %q; want accepted=%v", diffs, notes, c.accepted)
			}
			if !c.accepted && !strings.Contains(diffs[0], c.diff) {
				t.Errorf("diff %q lacks %q", diffs[0], c.diff)
			}
		})
	}
	// A body cut at the kept 256 KiB is never accepted on its numbers alone.
	f, s := probe("/", "n=1"), probe("/", "n=2")
	f.Size, s.Size = 5<<20, 5<<20
	if diffs, _ := Compare(&Run{Probes: creport.Probes{HTTP: []creport.HTTPProbe{f}}},
		&Run{Probes: creport.Probes{HTTP: []creport.HTTPProbe{s}}}); len(diffs) != 1 {
		t.Errorf("a partial body was accepted: %q", diffs)
	}
}
