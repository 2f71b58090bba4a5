package main

import (
	"fmt"
	"io"
	"path/filepath"
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
			r, err := check(strings.NewReader(tt.in), &out, false)
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
	r, err := check(strings.NewReader(passOK+skipBTF), io.Discard, false)
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

// Skips of the package in testdata/skippy: TestPriv is defined in plain_priv_test.go, TestPlain in
// plain_test.go; TestGone in neither.
const (
	skipPriv = `{"Action":"run","Package":"example.com/skippy","Test":"TestPriv"}
{"Action":"output","Package":"example.com/skippy","Test":"TestPriv","Output":"    plain_priv_test.go:5: needs root\n"}
{"Action":"skip","Package":"example.com/skippy","Test":"TestPriv"}
`
	passPlain = `{"Action":"run","Package":"example.com/skippy","Test":"TestPlainPasses"}
{"Action":"output","Package":"example.com/skippy","Test":"TestPlainPasses","Output":"=== RUN   TestPlainPasses\n"}
{"Action":"pass","Package":"example.com/skippy","Test":"TestPlainPasses"}
`
	skipPlainSub = `{"Action":"run","Package":"example.com/skippy","Test":"TestPlain"}
{"Action":"run","Package":"example.com/skippy","Test":"TestPlain/sub"}
{"Action":"output","Package":"example.com/skippy","Test":"TestPlain/sub","Output":"    plain_test.go:6: needs root\n"}
{"Action":"skip","Package":"example.com/skippy","Test":"TestPlain/sub"}
{"Action":"pass","Package":"example.com/skippy","Test":"TestPlain"}
`
	skipGone = `{"Action":"run","Package":"example.com/skippy","Test":"TestGone"}
{"Action":"skip","Package":"example.com/skippy","Test":"TestGone"}
`
	skippyDone = `{"Action":"output","Package":"example.com/skippy","Output":"PASS\n"}
{"Action":"output","Package":"example.com/skippy","Output":"ok  \texample.com/skippy\t0.01s\n"}
{"Action":"pass","Package":"example.com/skippy"}
`
)

// TestUnitMode: in the unprivileged run only tests defined in *_priv_test.go files may skip.
func TestUnitMode(t *testing.T) {
	dir := func(pkg string) (string, error) {
		if pkg != "example.com/skippy" {
			t.Fatalf("looked up package %q", pkg)
		}
		return filepath.Join("testdata", "skippy"), nil
	}
	tests := []struct {
		name        string
		in          string
		wantOK      bool
		wantHidden  []string
		wantSummary string
		wantReport  []string
	}{
		{
			name: "skip in a priv file passes", in: passPlain + skipPriv + skippyDone, wantOK: true,
			wantSummary: "1 passed, 0 failed, 1 skipped",
			wantReport:  []string{"1 tests in *_priv_test.go files skipped"},
		},
		{
			name: "skip in a plain file fails", in: passPlain + skipPriv + skipPlainSub + skippyDone,
			wantHidden:  []string{"example.com/skippy.TestPlain/sub (defined in plain_test.go)"},
			wantSummary: "2 passed, 0 failed, 2 skipped",
			wantReport:  []string{"SKIPPED outside *_priv_test.go", "TestPlain/sub (defined in plain_test.go)", "plain_test.go:6: needs root", "FAIL"},
		},
		{
			name: "skip of a test found nowhere fails", in: passPlain + skipGone + skippyDone,
			wantHidden:  []string{"example.com/skippy.TestGone (no func TestGone in the package's test files)"},
			wantSummary: "1 passed, 0 failed, 1 skipped",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			r, err := check(strings.NewReader(tt.in), &out, true)
			if err != nil {
				t.Fatal(err)
			}
			r.allowPrivSkips(newTestLocator(dir).locate)
			if r.ok() != tt.wantOK {
				t.Errorf("ok = %v, want %v", r.ok(), tt.wantOK)
			}
			var hidden []string
			for _, f := range r.hidden {
				hidden = append(hidden, f.String())
			}
			if strings.Join(hidden, "|") != strings.Join(tt.wantHidden, "|") {
				t.Errorf("hidden skips = %q, want %q", hidden, tt.wantHidden)
			}
			if got := r.summary(); got != tt.wantSummary {
				t.Errorf("summary = %q, want %q", got, tt.wantSummary)
			}
			// Quiet: the package's closing line streams, the tests' output does not.
			if s := out.String(); !strings.Contains(s, "ok  \texample.com/skippy") || strings.Contains(s, "=== RUN") || strings.Contains(s, "PASS\n") {
				t.Errorf("streamed output:\n%s", s)
			}
			var rep strings.Builder
			report(&rep, r)
			for _, w := range tt.wantReport {
				if !strings.Contains(rep.String(), w) {
					t.Errorf("report lacks %q:\n%s", w, rep.String())
				}
			}
		})
	}
}

// TestTestFuncs reads where the testdata package defines its tests, as the unit mode does.
func TestTestFuncs(t *testing.T) {
	funcs, err := testFuncs(filepath.Join("testdata", "skippy"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"TestPlain": "plain_test.go", "TestPlainPasses": "plain_test.go", "TestPriv": "plain_priv_test.go"}
	if fmt.Sprint(funcs) != fmt.Sprint(want) {
		t.Errorf("testFuncs = %v, want %v", funcs, want)
	}
}
