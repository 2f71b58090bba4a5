package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/slimtrace/slimtrace/internal/report"
)

// Verify runs image (the slim one) with the same settings and probes as the
// fat run, and compares: every HTTP probe must answer with the same status
// and body, every exec probe and the healthcheck must end the same, and the
// slim container must not exit where the fat one kept running. It returns
// the comparison; an error only when the slim run could not be compared at
// all.
func Verify(ctx context.Context, opts Options, fat *report.Container, image string) (*report.Verify, error) {
	opts.Image = image
	opts.inspect = nil
	step := progressFunc(opts)
	step("verifying %s against the fat image's probes", image)
	v := &report.Verify{Image: image}
	res, err := Profile(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		v.Diffs = append(v.Diffs, "the slim image failed: "+err.Error())
		return v, nil
	}
	v.Diffs = Compare(fat, res.Report)
	v.Passed = len(v.Diffs) == 0
	return v, nil
}

// Compare lists how the slim run's probes differ from the fat run's.
func Compare(fat, slim *report.Container) []string {
	var diffs []string
	if fat.Exit != nil && slim.Exit != nil && fat.Exit.Reason != slim.Exit.Reason {
		d := fmt.Sprintf("exit: fat %s (%d), slim %s (%d)", fat.Exit.Reason, fat.Exit.Code, slim.Exit.Reason, slim.Exit.Code)
		if len(slim.Logs) > 0 {
			d += "; slim's last output:\n    " + strings.Join(lastN(slim.Logs, 10), "\n    ")
		}
		diffs = append(diffs, d)
	} else if fat.Exit != nil && slim.Exit != nil && fat.Exit.Reason == "exited by itself" && fat.Exit.Code != slim.Exit.Code {
		diffs = append(diffs, fmt.Sprintf("exit code: fat %d, slim %d", fat.Exit.Code, slim.Exit.Code))
	}
	key := func(p report.HTTPProbe) string {
		return fmt.Sprintf("%s %s://:%d%s", p.Method, p.Proto, p.Port, p.Resource)
	}
	// The same request may be sent several times with other bodies or
	// headers: the n-th of a key in one run matches the n-th in the other.
	got := map[string][]report.HTTPProbe{}
	for _, p := range slim.Probe.HTTP {
		got[key(p)] = append(got[key(p)], p)
	}
	seen := map[string]int{}
	for _, f := range fat.Probe.HTTP {
		k := key(f)
		var s report.HTTPProbe
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
			diffs = append(diffs, fmt.Sprintf("%s: body differs (fat %d bytes, slim %d bytes)", key(f), f.Size, s.Size))
		}
	}
	for i, f := range fat.Probe.Exec {
		if i >= len(slim.Probe.Exec) {
			diffs = append(diffs, fmt.Sprintf("exec %q: not run in the slim image", strings.Join(f.Command, " ")))
			continue
		}
		if s := slim.Probe.Exec[i]; s.ExitCode != f.ExitCode {
			diffs = append(diffs, fmt.Sprintf("exec %q: exit fat %d, slim %d%s", strings.Join(f.Command, " "),
				f.ExitCode, s.ExitCode, errSuffix(strings.Join(lastN(s.Output, 5), " | "))))
		}
	}
	if f, s := fat.Probe.Healthcheck, slim.Probe.Healthcheck; f != nil && (s == nil || s.ExitCode != f.ExitCode) {
		code := -1
		if s != nil {
			code = s.ExitCode
		}
		diffs = append(diffs, fmt.Sprintf("healthcheck: exit fat %d, slim %d", f.ExitCode, code))
	}
	return diffs
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
