package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/slimtrace/slimtrace/internal/creport"
)

// App is one sample app of the matrix (testdata/apps/matrix.json).
type App struct {
	Name     string   `json:"name"`
	Base     string   `json:"base"`     // what the fat image is made of
	Language string   `json:"language"` // picks the size target
	Args     []string `json:"args"`     // build flags beyond the defaults; "{app}" is the app's directory
}

// LoadApps reads the matrix file.
func LoadApps(path string) ([]App, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m struct {
		Apps []App `json:"apps"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Apps) == 0 {
		return nil, fmt.Errorf("%s: no apps", path)
	}
	for _, a := range m.Apps {
		if a.Name == "" || a.Base == "" || a.Language == "" {
			return nil, fmt.Errorf("%s: an app needs name, base and language: %+v", path, a)
		}
	}
	return m.Apps, nil
}

// SizeTargets are the most bytes (unpacked layers) a slim image of an app
// in a language may take. Node.js and Java have none: their runtimes
// alone are 50–190 MB in Debian; the table says where their bytes go.
var SizeTargets = map[string]int64{
	"python": 35e6,
	"ruby":   35e6,
	"php":    35e6,
	"go":     10e6,
	"nginx":  15e6,
}

// MaxFormatOverhead bounds a slim image's unpacked layers against the
// summed sizes of the files it keeps: no format bloat.
const MaxFormatOverhead = 1.1

// Result is one app's build.
type Result struct {
	App App
	// FatBytes and FileBytes are the regular files' bytes in the fat and
	// the slim image; SlimBytes the slim image's unpacked layers.
	FatBytes, FileBytes, SlimBytes int64
	Paths                          int     // paths kept
	BuildSeconds                   float64 // the build, verification excluded
	Verified                       bool
	Notes                          []string           // differences verification accepted
	Largest                        []creport.KeptFile // the largest kept files, largest first
	// Failure is why the build or its verification failed, if it did.
	Failure string
	// InsuranceBytes are the bytes kept for code no probe reached
	// (creport.json's slim.insurance_bytes, summed).
	InsuranceBytes int64
	// OffBytes is the unpacked layers of the slim image built with every
	// probe and --insurance=none (0: not built).
	OffBytes int64
	// Default is the second pass: a build with only the default probe,
	// checked with every route; nil when the app has no probe file (its
	// one run is its only probe).
	Default *DefaultPass
}

// DefaultPass is a build with only the default probe, verified with the
// app's every probe.
type DefaultPass struct {
	Failure string // "" when it passed
}

// MaxInsurance bounds the insurance bytes against the slim image's files.
const MaxInsurance = 0.10

// FromReport fills a Result from a build's creport.json (nil when the
// build wrote none).
func FromReport(app App, c *creport.Container, buildErr error) Result {
	r := Result{App: app}
	if buildErr != nil {
		r.Failure = buildErr.Error()
	}
	if c == nil {
		if r.Failure == "" {
			r.Failure = "no creport.json"
		}
		return r
	}
	r.BuildSeconds = float64(c.Timings.TotalMS) / 1000
	if s := c.Slim; s != nil {
		r.FatBytes, r.FileBytes, r.SlimBytes, r.Paths = s.FatSize, s.Size, s.UnpackedSize, len(s.Files)
		r.InsuranceBytes = s.InsuranceTotal()
		files := slices.DeleteFunc(slices.Clone(s.Files), func(f creport.KeptFile) bool { return f.Type != "file" })
		slices.SortStableFunc(files, func(a, b creport.KeptFile) int { return int(b.Size - a.Size) })
		r.Largest = files[:min(5, len(files))]
	}
	if v := c.Verify; v != nil {
		r.Verified, r.Notes = v.Passed, v.Notes
		if !v.Passed && r.Failure == "" {
			r.Failure = "verification failed: " + strings.Join(v.Diffs, "; ")
		}
	} else if r.Failure == "" {
		r.Failure = "not verified"
	}
	return r
}

// Ratio is the fat image's files over the slim image's unpacked layers.
func (r Result) Ratio() float64 {
	if r.SlimBytes == 0 {
		return 0
	}
	return float64(r.FatBytes) / float64(r.SlimBytes)
}

// Overhead is the slim image's unpacked layers over its files' bytes.
func (r Result) Overhead() float64 {
	if r.FileBytes == 0 {
		return 0
	}
	return float64(r.SlimBytes) / float64(r.FileBytes)
}

// InsuranceShare is the insurance bytes over the slim image's files.
func (r Result) InsuranceShare() float64 {
	return float64(r.InsuranceBytes) / float64(max(r.FileBytes, 1))
}

// Problems are the targets r misses: a failed build or verification
// (with every probe, or with the default probe checked with every probe),
// format bloat, a slim image above its language's size target, insurance
// above MaxInsurance of its files.
func (r Result) Problems() []string {
	var p []string
	if r.Failure != "" {
		p = append(p, r.Failure)
	}
	if r.Default != nil && r.Default.Failure != "" {
		p = append(p, "default probe: "+r.Default.Failure)
	}
	if r.FileBytes > 0 && r.InsuranceShare() > MaxInsurance {
		p = append(p, fmt.Sprintf("insurance is %.0f%% of the slim image's files (target <= %.0f%%)", 100*r.InsuranceShare(), 100*MaxInsurance))
	}
	if r.SlimBytes == 0 {
		return append(p, "no slim image")
	}
	if o := r.Overhead(); o > MaxFormatOverhead {
		p = append(p, fmt.Sprintf("slim image is %.3fx its files' bytes (target <= %.2fx)", o, MaxFormatOverhead))
	}
	if t, ok := SizeTargets[r.App.Language]; ok && r.SlimBytes > t {
		p = append(p, fmt.Sprintf("slim image is %s (target for %s <= %s)", mb(r.SlimBytes), r.App.Language, mb(t)))
	}
	return p
}

// Table renders the results as the README's Markdown: one row per app,
// then where the bytes go for apps without a size target.
func Table(results []Result, header string) string {
	var b strings.Builder
	if header != "" {
		fmt.Fprintf(&b, "%s\n\n", header)
	}
	b.WriteString("| app | base | fat MB | slim MB | ratio | files kept | build s | full-probe pass | default-probe pass | insurance MB (% of slim) | slim MB, --insurance=none | targets |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |\n")
	for _, r := range results {
		verify := "pass"
		switch {
		case !r.Verified:
			verify = "**FAIL**"
		case len(r.Notes) > 0:
			verify = fmt.Sprintf("pass (%d accepted: numbers differ)", len(r.Notes))
		}
		def := "= full (no probe file)"
		if d := r.Default; d != nil {
			def = "pass"
			if d.Failure != "" {
				def = "**FAIL**"
			}
		}
		targets := "met"
		if p := r.Problems(); len(p) > 0 {
			targets = "**missed**: " + strings.ReplaceAll(strings.Join(p, "; "), "|", `\|`)
		}
		if t, ok := SizeTargets[r.App.Language]; ok && targets == "met" {
			targets = fmt.Sprintf("met (<= %s)", mb(t))
		}
		off := "~" + fmt.Sprintf("%.1f", float64(r.SlimBytes-r.InsuranceBytes)/1e6) // not built: estimated
		if r.OffBytes > 0 {
			off = fmt.Sprintf("%.1f", float64(r.OffBytes)/1e6)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %.1f | %.1f | %.1fx | %d | %.1f | %s | %s | %.2f (%.1f%%) | %s | %s |\n", r.App.Name, r.App.Base,
			float64(r.FatBytes)/1e6, float64(r.SlimBytes)/1e6, r.Ratio(), r.Paths, r.BuildSeconds, verify, def,
			float64(r.InsuranceBytes)/1e6, 100*r.InsuranceShare(), off, targets)
	}
	var heavy []Result
	for _, r := range results {
		if _, ok := SizeTargets[r.App.Language]; !ok && r.App.Language != "busybox" && len(r.Largest) > 0 {
			heavy = append(heavy, r)
		}
	}
	if len(heavy) > 0 {
		b.WriteString("\nWhere the bytes go in the apps without a size target (their largest kept files):\n\n")
		for _, r := range heavy {
			var top int64
			var parts []string
			for _, f := range r.Largest {
				top += f.Size
				parts = append(parts, fmt.Sprintf("`%s` %.1f", f.Path, float64(f.Size)/1e6))
			}
			fmt.Fprintf(&b, "- `%s` (%.1f MB): %s — %.0f%% of the files' bytes\n", r.App.Name, float64(r.SlimBytes)/1e6,
				strings.Join(parts, ", "), 100*float64(top)/float64(max(r.FileBytes, 1)))
		}
	}
	return b.String()
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// Markers delimit the generated table in the README.
const (
	BeginMarker = "<!-- e2e-results:begin (generated by make e2e; do not edit) -->"
	EndMarker   = "<!-- e2e-results:end -->"
)

// Splice replaces what lies between the markers of doc with block.
func Splice(doc, block string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", errors.New("the document lacks the e2e-results markers, in order")
	}
	return doc[:i+len(BeginMarker)] + "\n" + strings.TrimRight(block, "\n") + "\n" + doc[j:], nil
}
