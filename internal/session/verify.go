package session

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/slimtrace/slimtrace/internal/creport"
)

// Verify runs image (the slim one) with the same settings and probes as the
// fat run, and compares: every HTTP probe must answer with the same status
// and body, every exec probe and the healthcheck must end the same, and the
// slim container must not exit where the fat one kept running. It returns
// the comparison; an error only when the slim run could not be compared at
// all.
func Verify(ctx context.Context, fat *Run, image string) (*creport.Verify, error) {
	opts := fat.Options
	opts.Image = image
	step := progressFunc(opts)
	step("verifying %s against the fat image's probes", image)
	v := &creport.Verify{Image: image}
	slim, err := Trace(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		v.Diffs = append(v.Diffs, "the slim image failed: "+err.Error())
		return v, nil
	}
	if err := slim.Close(ctx); err != nil {
		return nil, err
	}
	v.Diffs, v.Notes = Compare(fat, slim)
	v.Passed = len(v.Diffs) == 0
	return v, nil
}

// Compare lists how the slim run's probes differ from the fat run's, and
// the differences it accepts (notes): a body that differs only in its
// numbers, as a clock, a counter or an id do from one run to the next.
func Compare(fat, slim *Run) (diffs, notes []string) {
	if fat.Exit != nil && slim.Exit != nil && fat.Exit.Reason != slim.Exit.Reason {
		d := fmt.Sprintf("exit: fat %s (%d), slim %s (%d)", fat.Exit.Reason, fat.Exit.Code, slim.Exit.Reason, slim.Exit.Code)
		if len(slim.Logs) > 0 {
			d += "; slim's last output:\n    " + strings.Join(lastN(slim.Logs, 10), "\n    ")
		}
		diffs = append(diffs, d)
	} else if fat.Exit != nil && slim.Exit != nil && fat.Exit.Reason == "exited by itself" && fat.Exit.Code != slim.Exit.Code {
		diffs = append(diffs, fmt.Sprintf("exit code: fat %d, slim %d", fat.Exit.Code, slim.Exit.Code))
	}
	key := func(p creport.HTTPProbe) string {
		return fmt.Sprintf("%s %s://:%d%s", p.Method, p.Proto, p.Port, p.Resource)
	}
	// The same request may be sent several times with other bodies or
	// headers: the n-th of a key in one run matches the n-th in the other.
	got := map[string][]creport.HTTPProbe{}
	for _, p := range slim.Probes.HTTP {
		got[key(p)] = append(got[key(p)], p)
	}
	seen := map[string]int{}
	for _, f := range fat.Probes.HTTP {
		k := key(f)
		var s creport.HTTPProbe
		ok := seen[k] < len(got[k])
		if ok {
			s = got[k][seen[k]]
		}
		seen[k]++
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: answered %d in the fat image, not probed in the slim one", key(f), f.Status))
		case f.Status != s.Status:
			diffs = append(diffs, fmt.Sprintf("%s: status fat %d, slim %d%s", key(f), f.Status, s.Status, errSuffix(s.Error)))
		case f.SHA256 != s.SHA256:
			if sameBesideNumbers(f, s) {
				notes = append(notes, fmt.Sprintf("%s: body differs only in numbers (%s): accepted", key(f),
					firstDiff(f.Body, s.Body)))
				continue
			}
			d := fmt.Sprintf("%s: body differs (fat %d bytes, slim %d bytes)", key(f), f.Size, s.Size)
			if f.Body != nil || s.Body != nil {
				d += ": " + firstDiff(f.Body, s.Body)
			}
			diffs = append(diffs, d)
		}
	}
	for i, f := range fat.Probes.Exec {
		if i >= len(slim.Probes.Exec) {
			diffs = append(diffs, fmt.Sprintf("exec %q: not run in the slim image", strings.Join(f.Command, " ")))
			continue
		}
		if s := slim.Probes.Exec[i]; s.ExitCode != f.ExitCode {
			diffs = append(diffs, fmt.Sprintf("exec %q: exit fat %d, slim %d%s", strings.Join(f.Command, " "),
				f.ExitCode, s.ExitCode, errSuffix(strings.Join(lastN(s.Output, 5), " | "))))
		}
	}
	if f, s := fat.Probes.Healthcheck, slim.Probes.Healthcheck; f != nil && (s == nil || s.ExitCode != f.ExitCode) {
		code := -1
		if s != nil {
			code = s.ExitCode
		}
		diffs = append(diffs, fmt.Sprintf("healthcheck: exit fat %d, slim %d", f.ExitCode, code))
	}
	return diffs, notes
}

// sameBesideNumbers reports whether two whole bodies are equal once every
// run of hex digits holding a decimal digit is masked: "12:03:59",
// "pid 4711", "3f9a2c7e" vary between runs; words do not.
func sameBesideNumbers(f, s creport.HTTPProbe) bool {
	if int64(len(f.Body)) != f.Size || int64(len(s.Body)) != s.Size || f.Size == 0 {
		return false // not all of a body is at hand
	}
	return bytes.Equal(maskNumbers(f.Body), maskNumbers(s.Body))
}

func maskNumbers(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		j, digit := i, false
		for j < len(b) && isHex(b[j]) {
			digit = digit || (b[j] >= '0' && b[j] <= '9')
			j++
		}
		switch {
		case j == i:
			out = append(out, b[i])
			j++
		case digit:
			out = append(out, '#')
		default:
			out = append(out, b[i:j]...)
		}
		i = j
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// firstDiff shows where two bodies first differ: the line of each, cut to
// a readable length.
func firstDiff(f, s []byte) string {
	fl, sl := bytes.Split(f, []byte("\n")), bytes.Split(s, []byte("\n"))
	for i := 0; i < max(len(fl), len(sl)); i++ {
		var a, b []byte
		if i < len(fl) {
			a = fl[i]
		}
		if i < len(sl) {
			b = sl[i]
		}
		if !bytes.Equal(a, b) {
			return fmt.Sprintf("line %d: fat %s, slim %s", i+1, excerpt(a), excerpt(b))
		}
	}
	return "same first 256 KiB"
}

func excerpt(b []byte) string {
	const n = 120
	if len(b) > n {
		return fmt.Sprintf("%q...", b[:n])
	}
	return fmt.Sprintf("%q", b)
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
