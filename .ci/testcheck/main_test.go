package main

import (
	"io"
	"strings"
	"testing"
)

// Streams below are trimmed from real `go test -json` output (Time and Elapsed dropped).
const (
	passOK = `{"Action":"run","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"p","Test":"TestOK"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.01s\n"}
{"Action":"pass","Package":"p"}
`
	noTestFiles = `{"Action":"start","Package":"n"}
{"Action":"output","Package":"n","Output":"?   \tn\t[no test files]\n"}
{"Action":"skip","Package":"n"}
`
	skipBTF = `{"Action":"run","Package":"s","Test":"TestNeedsBTF"}
{"Action":"output","Package":"s","Test":"TestNeedsBTF","Output":"    s_test.go:4: kernel lacks BTF\n"}
{"Action":"skip","Package":"s","Test":"TestNeedsBTF"}
{"Action":"pass","Package":"s"}
`
	failBad = `{"Action":"run","Package":"f","Test":"TestBad"}
{"Action":"output","Package":"f","Test":"TestBad","Output":"    f_test.go:3: boom\n"}
{"Action":"fail","Package":"f","Test":"TestBad"}
{"Action":"output","Package":"f","Output":"FAIL\tf\t0.01s\n"}
{"Action":"fail","Package":"f"}
`
	buildFail = `{"ImportPath":"b [b.test]","Action":"build-output","Output":"b_test.go:3:28: undefined: undefined\n"}
{"ImportPath":"b [b.test]","Action":"build-fail"}
{"Action":"start","Package":"b"}
{"Action":"fail","Package":"b","FailedBuild":"b [b.test]"}
`
	timedOut = `{"Action":"run","Package":"t","Test":"TestSlow"}
{"Action":"output","Package":"t","Test":"TestSlow","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"t","Output":"FAIL\tt\t1.065s\n"}
{"Action":"fail","Package":"t"}
`
	subtests = `{"Action":"run","Package":"p","Test":"TestSub"}
{"Action":"run","Package":"p","Test":"TestSub/a"}
{"Action":"pass","Package":"p","Test":"TestSub/a"}
{"Action":"run","Package":"p","Test":"TestSub/b"}
{"Action":"fail","Package":"p","Test":"TestSub/b"}
{"Action":"fail","Package":"p","Test":"TestSub"}
{"Action":"fail","Package":"p"}
`
	crashedStream = `{"Action":"run","Package":"c","Test":"TestCrash"}
{"Action":"output","Package":"c","Test":"TestCrash","Output":"=== RUN   TestCrash\n"}
`
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		wantSummary  string
		wantOK       bool
		wantFailures []string
		wantInOutput string
	}{
		{name: "pass", in: passOK + noTestFiles, wantSummary: "1 passed, 0 failed, 0 skipped", wantOK: true},
		{name: "no test ran", in: noTestFiles, wantSummary: "0 passed, 0 failed, 0 skipped"},
		{name: "skip fails", in: passOK + skipBTF, wantSummary: "1 passed, 0 failed, 1 skipped"},
		{
			name: "test failure", in: passOK + failBad, wantSummary: "1 passed, 1 failed, 0 skipped",
			wantFailures: []string{"f.TestBad"}, wantInOutput: "boom",
		},
		{
			name: "build failure", in: passOK + buildFail, wantSummary: "1 passed, 1 failed, 0 skipped",
			wantFailures: []string{"b (package failed: b [b.test])"}, wantInOutput: "undefined: undefined",
		},
		{
			name: "timeout fails the running test", in: timedOut, wantSummary: "0 passed, 1 failed, 0 skipped",
			wantFailures: []string{"t.TestSlow (no result)"}, wantInOutput: "timed out",
		},
		{
			name: "subtests count, package not counted twice", in: subtests,
			wantSummary: "1 passed, 2 failed, 0 skipped", wantFailures: []string{"p.TestSub/b", "p.TestSub"},
		},
		{
			name: "truncated stream", in: passOK + crashedStream, wantSummary: "1 passed, 1 failed, 0 skipped",
			wantFailures: []string{"c.TestCrash (no result)"},
		},
		{
			name: "non-JSON lines pass through", in: "go: downloading x v1\n" + passOK,
			wantSummary: "1 passed, 0 failed, 0 skipped", wantOK: true, wantInOutput: "go: downloading x v1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			r, err := check(strings.NewReader(tt.in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.summary(); got != tt.wantSummary {
				t.Errorf("summary = %q, want %q", got, tt.wantSummary)
			}
			if r.ok() != tt.wantOK {
				t.Errorf("ok = %v, want %v", r.ok(), tt.wantOK)
			}
			var failures []string
			for _, f := range r.failures {
				failures = append(failures, f.String())
			}
			if strings.Join(failures, "|") != strings.Join(tt.wantFailures, "|") {
				t.Errorf("failures = %q, want %q", failures, tt.wantFailures)
			}
			if !strings.Contains(out.String(), tt.wantInOutput) {
				t.Errorf("output lacks %q:\n%s", tt.wantInOutput, out.String())
			}
		})
	}
}

func TestReportEndsWithSummary(t *testing.T) {
	r, err := check(strings.NewReader(passOK+skipBTF), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	report(&out, r)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 0 failed, 1 skipped" {
		t.Errorf("last line = %q", last)
	}
	if !strings.Contains(out.String(), "kernel lacks BTF") {
		t.Errorf("report does not repeat the skip reason:\n%s", out.String())
	}
}
