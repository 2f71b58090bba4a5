// Command testcheck reads `go test -json` on stdin, prints the tests' ordinary output, and ends with
// the line "N passed, N failed, N skipped". It exits non-zero when any test failed, a package failed
// outside its tests (build error, panic, timeout), no test ran, or a test skipped where skips are
// not allowed:
//
//   - -mode privileged (the default; make test-privileged): any skip fails. In the privileged CI
//     run a skip means a missing capability.
//
//   - -mode unit (make test, run by CI as an unprivileged user): only tests defined in
//     *_priv_test.go files may skip. A skip anywhere else would hide a test that needs root (or a
//     daemon, or a tool) among the unit tests; such a test belongs in a *_priv_test.go file. This
//     mode streams only each package's closing line and repeats failed tests' output at the end.
//
//     go test -json ./... | go run ./.ci/testcheck -log /var/cache/slimtrace/logs/test.json
//     go test -json ./... | go run ./.ci/testcheck -mode unit
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action      string
	Package     string
	ImportPath  string // set on build-output and build-fail events
	Test        string
	Output      string
	FailedBuild string
}

// result is what one run of the checker saw.
type result struct {
	passed, failed, skipped int
	// failures and skips are the failed or skipped tests (or failed packages), in input order.
	failures, skips []finding
	// output holds each test's output lines, to repeat for failures and skips at the end.
	output map[string][]string

	// unit is set by allowPrivSkips: skips are then judged by where the test is defined.
	unit bool
	// hidden are the skipped tests not defined in a *_priv_test.go file (unit mode only).
	hidden []finding
	// quiet means test output was not streamed, so the report repeats failures in full.
	quiet bool
}

// finding names a test ("pkg.TestName") or a package, with an optional note.
type finding struct {
	key, note string
	pkg, test string // of a skipped test
}

func (f finding) String() string {
	if f.note == "" {
		return f.key
	}
	return f.key + " (" + f.note + ")"
}

func (r *result) ok() bool {
	skipsOK := r.skipped == 0
	if r.unit {
		skipsOK = len(r.hidden) == 0
	}
	return r.failed == 0 && skipsOK && r.passed > 0
}

// summary is the closing line CI reads.
func (r *result) summary() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.passed, r.failed, r.skipped)
}

// check consumes a test2json stream, copying each output line to out as it arrives, and counts
// results. Lines that are not JSON are copied through unchanged. With quiet, tests' own output is
// not copied, only packages' (their closing "ok" or "FAIL" lines, build errors).
func check(in io.Reader, out io.Writer, quiet bool) (*result, error) {
	r := &result{output: map[string][]string{}, quiet: quiet}
	started := map[string]bool{}   // package/test -> run seen, no result yet
	pkgFailed := map[string]bool{} // package -> a test in it failed
	var order []string

	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(out, "%s\n", line)
			continue
		}
		pkg := ev.Package
		if pkg == "" {
			pkg = ev.ImportPath
		}
		key := pkg + "." + ev.Test
		switch ev.Action {
		case "output", "build-output":
			if !quiet || ev.Test == "" && ev.Output != "PASS\n" {
				fmt.Fprint(out, ev.Output)
			}
			if ev.Test != "" {
				r.output[key] = append(r.output[key], ev.Output)
			}
		case "run":
			if !started[key] {
				order = append(order, key)
			}
			started[key] = true
		case "pass", "fail", "skip":
			if ev.Test == "" {
				// Package-level result. "skip" here means no test files. A failed package whose
				// tests all passed (build error, panic, timeout) fails the tests it left running,
				// or counts as one failure itself.
				if ev.Action == "fail" && !pkgFailed[pkg] {
					unfinished := false
					for _, k := range order {
						if started[k] && strings.HasPrefix(k, pkg+".") {
							delete(started, k)
							r.failed++
							r.failures = append(r.failures, finding{key: k, note: "no result"})
							unfinished = true
						}
					}
					if !unfinished {
						r.failed++
						r.failures = append(r.failures, finding{key: pkg, note: "package failed: " + firstNonEmpty(ev.FailedBuild, "see output above")})
					}
				}
				continue
			}
			delete(started, key)
			switch ev.Action {
			case "pass":
				r.passed++
			case "fail":
				r.failed++
				r.failures = append(r.failures, finding{key: key})
				pkgFailed[pkg] = true
			case "skip":
				r.skipped++
				r.skips = append(r.skips, finding{key: key, pkg: pkg, test: ev.Test})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return r, fmt.Errorf("reading test output: %w", err)
	}
	// A test that started and never finished (its binary crashed) is a failure too.
	for _, key := range order {
		if started[key] {
			r.failed++
			r.failures = append(r.failures, finding{key: key, note: "no result"})
		}
	}
	return r, nil
}

// allowPrivSkips switches r to unit mode: a skipped test is a failure only when it is not defined
// in a *_priv_test.go file. locate names the file that defines a package's top-level test.
func (r *result) allowPrivSkips(locate func(pkg, test string) (string, error)) {
	r.unit = true
	for _, s := range r.skips {
		top, _, _ := strings.Cut(s.test, "/")
		file, err := locate(s.pkg, top)
		switch {
		case err != nil:
			r.hidden = append(r.hidden, finding{key: s.key, note: err.Error()})
		case !strings.HasSuffix(file, "_priv_test.go"):
			r.hidden = append(r.hidden, finding{key: s.key, note: "defined in " + file})
		}
	}
}

// testLocator finds where tests are defined by parsing the packages' *_test.go files; the
// package's directory comes from `go list`. It remembers each package it has read.
type testLocator struct {
	dir   func(pkg string) (string, error)
	files map[string]map[string]string // package -> top-level function -> file name
}

func newTestLocator(dir func(pkg string) (string, error)) *testLocator {
	return &testLocator{dir: dir, files: map[string]map[string]string{}}
}

func (l *testLocator) locate(pkg, test string) (string, error) {
	funcs, ok := l.files[pkg]
	if !ok {
		dir, err := l.dir(pkg)
		if err != nil {
			return "", fmt.Errorf("finding package %s: %w", pkg, err)
		}
		if funcs, err = testFuncs(dir); err != nil {
			return "", err
		}
		l.files[pkg] = funcs
	}
	file, ok := funcs[test]
	if !ok {
		return "", fmt.Errorf("no func %s in the package's test files", test)
	}
	return file, nil
}

// testFuncs maps the top-level functions of dir's *_test.go files to their file names.
func testFuncs(dir string) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	funcs := map[string]string{}
	fset := token.NewFileSet()
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing test file: %w", err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = filepath.Base(p)
			}
		}
	}
	return funcs, nil
}

// goListDir returns the directory of package pkg, as `go list` finds it from the current directory.
func goListDir(pkg string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "list", "-f", "{{.Dir}}", pkg)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxRepeat bounds how many output lines of one test the closing report repeats.
const maxRepeat = 20

// report prints the failed and skipped tests with their own output, then the summary line last.
func report(w io.Writer, r *result) {
	section := func(title string, found []finding) {
		if len(found) == 0 {
			return
		}
		fmt.Fprintf(w, "\n=== %s (%d)\n", title, len(found))
		for _, f := range found {
			fmt.Fprintf(w, "--- %s\n", f)
			n := 0
			for _, l := range r.output[f.key] {
				if t := strings.TrimSpace(l); t == "" || strings.HasPrefix(t, "=== ") {
					continue
				}
				if n++; n > maxRepeat && !r.quiet {
					fmt.Fprintf(w, "    ... (full output above)\n")
					break
				}
				fmt.Fprintf(w, "    %s\n", strings.TrimRight(l, "\n"))
			}
		}
	}
	section("FAILED", r.failures)
	if r.unit {
		section("SKIPPED outside *_priv_test.go (a test that can skip belongs in a *_priv_test.go file)", r.hidden)
		if n := r.skipped - len(r.hidden); n > 0 {
			fmt.Fprintf(w, "\n%d tests in *_priv_test.go files skipped (as root: make test-privileged)\n", n)
		}
	} else {
		section("SKIPPED (a skip is a failure here)", r.skips)
	}
	switch {
	case r.passed+r.failed+r.skipped == 0:
		fmt.Fprintln(w, "\nno test ran")
	case !r.ok():
		fmt.Fprintln(w, "\nFAIL")
	}
	fmt.Fprintln(w, r.summary())
}

// run reports whether every test passed.
func run() (bool, error) {
	logPath := flag.String("log", "", "also write the raw JSON stream to this file")
	mode := flag.String("mode", "privileged", "privileged: every skip fails; unit: only tests in *_priv_test.go files may skip")
	flag.Parse()
	if *mode != "privileged" && *mode != "unit" {
		return false, fmt.Errorf("-mode %q: want privileged or unit", *mode)
	}

	var in io.Reader = os.Stdin
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			return false, fmt.Errorf("creating log: %w", err)
		}
		defer f.Close()
		in = io.TeeReader(os.Stdin, f)
	}
	out := bufio.NewWriter(os.Stdout)
	r, err := check(in, lineFlusher{out}, *mode == "unit")
	if err != nil {
		return false, err
	}
	if *mode == "unit" {
		r.allowPrivSkips(newTestLocator(goListDir).locate)
	}
	report(out, r)
	return r.ok(), out.Flush()
}

// lineFlusher flushes after each write, so output keeps pace with slow tests.
type lineFlusher struct{ w *bufio.Writer }

func (l lineFlusher) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err == nil {
		err = l.w.Flush()
	}
	return n, err
}

func main() {
	ok, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcheck:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}
