package session

import (
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/report"
)

func TestCompare(t *testing.T) {
	probe := func(res string, status int, sha string) report.HTTPProbe {
		return report.HTTPProbe{Port: 80, Proto: "http", Method: "POST", Resource: res, Status: status, SHA256: sha}
	}
	fat := &report.Container{Exit: &report.Exit{Reason: "stopped by slimtrace"}, Probe: report.Probes{
		HTTP: []report.HTTPProbe{probe("/echo", 200, "a"), probe("/echo", 200, "b"), probe("/x", 200, "c")},
		Exec: []report.ExecProbe{{Command: []string{"true"}}},
	}}
	same := &report.Container{Exit: &report.Exit{Reason: "stopped by slimtrace"}, Probe: fat.Probe}
	if d := Compare(fat, same); len(d) != 0 {
		t.Errorf("identical runs differ: %v", d)
	}
	slim := &report.Container{Exit: &report.Exit{Reason: "exited by itself", Code: 1}, Logs: []string{"boom"},
		Probe: report.Probes{
			HTTP: []report.HTTPProbe{probe("/echo", 200, "a"), probe("/echo", 200, "z"), probe("/x", 500, "")},
			Exec: []report.ExecProbe{{Command: []string{"true"}, ExitCode: 127}},
		}}
	d := strings.Join(Compare(fat, slim), "\n")
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
