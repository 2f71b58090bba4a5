// Command testcheck reads `go test -json` on stdin, prints the tests' ordinary output, and ends with
// the line "N passed, N failed, N skipped". It exits non-zero when any test failed, any test was
// skipped, a package failed outside its tests (build error, panic, timeout) or no test ran: in the
// privileged CI run a skip means a missing capability, and that is a failure.
//
//	go test -json ./... | go run ./.ci/testcheck -log /var/cache/slimtrace/logs/test.json
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
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
}

// finding names a test ("pkg.TestName") or a package, with an optional note.
type finding struct{ key, note string }

func (f finding) String() string {
	if f.note == "" {
		return f.key
	}
	return f.key + " (" + f.note + ")"
}

func (r *result) ok() bool { return r.failed == 0 && r.skipped == 0 && r.passed > 0 }

// summary is the closing line CI reads.
func (r *result) summary() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", r.passed, r.failed, r.skipped)
}

// check consumes a test2json stream, copying each output line to out as it arrives, and counts
// results. Lines that are not JSON are copied through unchanged.
func check(in io.Reader, out io.Writer) (*result, error) {
	r := &result{output: map[string][]string{}}
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
			fmt.Fprint(out, ev.Output)
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
							r.failures = append(r.failures, finding{k, "no result"})
							unfinished = true
						}
					}
					if !unfinished {
						r.failed++
						r.failures = append(r.failures, finding{pkg, "package failed: " + firstNonEmpty(ev.FailedBuild, "see output above")})
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
				r.skips = append(r.skips, finding{key: key})
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
			r.failures = append(r.failures, finding{key, "no result"})
		}
	}
	return r, nil
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
				if n++; n > maxRepeat {
					fmt.Fprintf(w, "    ... (full output above)\n")
					break
				}
				fmt.Fprintf(w, "    %s\n", strings.TrimRight(l, "\n"))
			}
		}
	}
	section("FAILED", r.failures)
	section("SKIPPED (a skip is a failure here)", r.skips)
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
	flag.Parse()

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
	r, err := check(in, lineFlusher{out})
	if err != nil {
		return false, err
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
