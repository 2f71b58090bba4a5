package builder

import (
	"archive/tar"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
)

// BenchmarkBuilder builds slim images of 5,000 and more paths and prints the
// phase times and the slim size against the kept files' bytes (target: at
// most 1.05), each case once whatever b.N. As root, with the services up:
//
//	go test -run '^$' -bench BenchmarkBuilder -benchtime 1x ./internal/builder
func BenchmarkBuilder(b *testing.B) {
	e := testEnv(b)

	b.Run("python-app", func(t *testing.B) {
		fatImg, src := e.source(t, "docker-archive:"+fixture(t, "python-app"))
		fat := e.view(t, fatImg.Name)
		// Everything but /var: over 5,000 paths, most of them small files
		// of /usr/lib/python3.11 and /usr/share.
		var paths []string
		for p := range fat {
			if p != "/var" && !strings.HasPrefix(p, "/var/") {
				paths = append(paths, p)
			}
		}
		if len(paths) < 5000 {
			t.Fatalf("python-app has %d paths outside /var, want 5,000 or more", len(paths))
		}
		e.bench(t, "python-app", src, paths, fatImg.Config.OS, fatImg.Config.Architecture)
	})

	b.Run("synthetic", func(t *testing.B) {
		// 40,000 files of incompressible data in 2,000 directories; keep
		// one in eight.
		const dirs, perDir = 2000, 20
		rng := rand.New(rand.NewPCG(1, 2))
		var entries []*tar.Header
		contents := map[string][]byte{}
		var keep []string
		for d := range dirs {
			dir := fmt.Sprintf("srv/d%02d/e%04d", d%40, d)
			if d%40 == d {
				entries = append(entries, &tar.Header{Name: filepath.Dir(dir) + "/", Typeflag: tar.TypeDir, Mode: 0o755})
			}
			entries = append(entries, &tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755})
			for f := range perDir {
				name := fmt.Sprintf("%s/f%02d.bin", dir, f)
				b := make([]byte, 1024+rng.IntN(16*1024))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				contents[name] = b
				entries = append(entries, &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644})
				if (d*perDir+f)%8 == 0 {
					keep = append(keep, "/"+name)
				}
			}
		}
		entries = append([]*tar.Header{{Name: "srv/", Typeflag: tar.TypeDir, Mode: 0o755}}, entries...)
		archive := filepath.Join(t.TempDir(), "synthetic.tar")
		writeOCIArchive(t, archive, "docker.io/slimtrace-test/synthetic:latest", entries, contents)
		_, src := e.source(t, "oci-archive:"+archive)
		t.Cleanup(func() { e.ctr("images", "rm", "docker.io/slimtrace-test/synthetic:latest") })
		e.bench(t, "synthetic 40k files", src, withParents(keep), "linux", runtime.GOARCH)
	})
}

// bench builds twice and prints the numbers: without cache, then with the
// source image cached in buildkitd and one path less (a new copy).
func (e *env) bench(t *testing.B, what string, src Source, paths []string, goos, arch string) {
	t.Helper()
	slices.Sort(paths)
	e.benchOnce(t, what+" (cold)", src, paths, goos, arch, true, "")
	defer func() { copyPaths = copyByDir }()
	strategies := map[string]func(llb.State, fileSet) *llb.FileAction{"by directory": copyByDir, "single": copyTree}
	for _, s := range []string{"by directory", "single", "by directory", "single"} {
		copyPaths = strategies[s]
		e.benchOnce(t, fmt.Sprintf("%s (source cached, copy %s)", what, s), src, dropOne(paths), goos, arch, false, "")
	}
	copyPaths = copyByDir
	for _, c := range []string{"zstd", "gzip"} {
		e.benchOnce(t, fmt.Sprintf("%s (source cached, %s layer)", what, c), src, dropOne(paths), goos, arch, false, c)
	}
}

func (e *env) benchOnce(t *testing.B, what string, src Source, paths []string, goos, arch string, noCache bool, compression string) {
	t.Helper()
	name := "docker.io/slimtrace-test/bench:slim"
	e.removeImage(t, name)
	opts := e.options(name)
	opts.NoCache = noCache
	opts.Compression = compression
	start := time.Now()
	res, err := Build(e.ctx, Spec{Source: src, Paths: paths, Config: platformConfig(goos, arch)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tm := res.Timings
	fmt.Printf("bench-builder: %s: %d paths, %d entries, %.1f MB in files: resolve %.2fs copy %.2fs export %.2fs (total %.2fs, wall %.2fs); slim %.1f MB compressed = %.3f of the files, %.1f MB unpacked = %.3f\n",
		what, len(paths), res.Entries, mb(res.FileBytes), tm.Resolve.Seconds(), tm.Copy.Seconds(), tm.Export.Seconds(), tm.Total.Seconds(), time.Since(start).Seconds(),
		mb(res.Size), float64(res.Size)/float64(res.FileBytes), mb(res.UnpackedSize), float64(res.UnpackedSize)/float64(res.FileBytes))
	for _, s := range res.Steps {
		fmt.Printf("bench-builder:   step %-40.40q %6.2fs cached=%v\n", s.Name, s.Duration.Seconds(), s.Cached)
	}
	if noCache {
		t.ReportMetric(tm.Resolve.Seconds(), "resolve-s")
		t.ReportMetric(tm.Copy.Seconds(), "copy-s")
		t.ReportMetric(tm.Export.Seconds(), "export-s")
		t.ReportMetric(float64(res.Size)/float64(res.FileBytes), "size/files")
	}
	if r := float64(res.Size) / float64(res.FileBytes); r > 1.05 {
		t.Errorf("slim image is %.3f times the kept files' bytes, want at most 1.05", r)
	}
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// dropOne returns paths less a random file: a copy buildkitd has not
// cached, whose source it has.
func dropOne(paths []string) []string {
	for {
		i := rand.IntN(len(paths))
		if i+1 < len(paths) && strings.HasPrefix(paths[i+1], paths[i]+"/") {
			continue // a directory
		}
		return slices.Delete(slices.Clone(paths), i, i+1)
	}
}

// withParents adds every parent directory of paths.
func withParents(paths []string) []string {
	set := map[string]bool{}
	for _, p := range paths {
		for ; p != "/"; p = filepath.Dir(p) {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// copyTree is the copy strategy the builder does not use, kept to compare:
// one copy of the whole tree with an include pattern per kept leaf. It
// keeps every hardlink but costs (entries of the fat image) x (patterns) in
// BuildKit's pattern matcher, in the cache key's checksum and in the copy,
// 3-4 times slower at 5,000 paths.
func copyTree(fat llb.State, set fileSet) *llb.FileAction {
	include := make([]string, len(set.leaves))
	exclude := make([]string, len(set.leaves))
	for i, p := range set.leaves {
		rel := escapePattern(strings.TrimPrefix(p, "/"))
		include[i] = rel
		exclude[i] = rel + "/**"
	}
	return llb.Copy(fat, "/", "/", &llb.CopyInfo{
		CopyDirContentsOnly: true,
		IncludePatterns:     include,
		ExcludePatterns:     exclude,
		RequiredPaths:       set.leaves,
	})
}
