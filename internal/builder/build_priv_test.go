package builder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/target"
)

// Privileged tests: a real containerd (CONTAINERD_ADDRESS) and buildkitd
// (BUILDKIT_HOST, as .ci/services.sh starts them), as root. Images live in
// a namespace of their own, not the one buildkitd's worker uses, to show
// that the source is read through the session.

const imageNamespace = "slimtrace-builder-test"

type env struct {
	ctx      context.Context
	rt       *target.Runtime
	buildkit string
	state    string
}

func testEnv(t *testing.T) *env {
	t.Helper()
	privtest.Root(t)
	addr := os.Getenv("CONTAINERD_ADDRESS")
	if addr == "" {
		privtest.Skip(t, "CONTAINERD_ADDRESS is not set (start one with .ci/services.sh start)")
	}
	bk := os.Getenv("BUILDKIT_HOST")
	if bk == "" {
		privtest.Skip(t, "BUILDKIT_HOST is not set (start one with .ci/services.sh start)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	ctx = zerolog.New(zerolog.NewTestWriter(t)).Level(testLogLevel()).WithContext(ctx)
	state := t.TempDir()
	rt, err := target.Connect(ctx, target.Options{Address: addr, Namespace: imageNamespace, StatePath: filepath.Join(state, "target")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return &env{ctx: ctx, rt: rt, buildkit: bk, state: state}
}

func testLogLevel() zerolog.Level {
	if os.Getenv("SLIMTRACE_TEST_TRACE") == "1" {
		return zerolog.TraceLevel
	}
	return zerolog.DebugLevel
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("SLIMTRACE_FIXTURES")
	if dir == "" {
		cache := os.Getenv("SLIMTRACE_CACHE")
		if cache == "" {
			cache = "/var/cache/slimtrace"
		}
		dir = filepath.Join(cache, "fixtures")
	}
	p := filepath.Join(dir, name+".tar")
	if _, err := os.Stat(p); err != nil {
		privtest.Skip(t, fmt.Sprintf("fixture %s missing (make fixtures): %v", p, err))
	}
	return p
}

// source resolves an image for building from.
func (e *env) source(t *testing.T, ref string) (*target.Image, Source) {
	t.Helper()
	img, err := e.rt.Resolve(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return img, Source{Name: img.Name, Digest: digest.Digest(img.Digest), Store: e.rt.ContentStore()}
}

// options builds through the buildkitd under test and loads the result
// into the test namespace under name.
func (e *env) options(name string) Options {
	return Options{
		Address:  e.buildkit,
		NoStart:  true,
		StateDir: filepath.Join(e.state, "builder"),
		Name:     name,
		Load: func(ctx context.Context, archive string) error {
			_, err := e.rt.ImportSlim(ctx, archive, name)
			return err
		},
	}
}

// removeImage deletes name from the test namespace when the test ends.
func (e *env) removeImage(t *testing.T, name string) {
	t.Cleanup(func() {
		if out, err := e.ctr("images", "rm", name); err != nil {
			t.Logf("removing %s: %v: %s", name, err, out)
		}
	})
}

// ctr runs containerd's CLI in the test namespace.
func (e *env) ctr(args ...string) ([]byte, error) {
	args = append([]string{"-a", e.rt.Address(), "-n", imageNamespace}, args...)
	return exec.Command("ctr", args...).CombinedOutput()
}

// entry is what a test compares of a file.
type entry struct {
	Mode     fs.FileMode
	UID, GID uint32
	Size     int64
	Mtime    time.Time
	Link     string
	Ino      uint64
	Xattrs   map[string]string
}

// scan lists the tree under root (a mounted image).
func scan(t *testing.T, root string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid, Mtime: fi.ModTime(), Ino: st.Ino}
		if fi.Mode().IsRegular() {
			e.Size = fi.Size()
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			e.Link, _ = os.Readlink(p)
		}
		e.Xattrs = userXattrs(p)
		out["/"+rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func userXattrs(p string) map[string]string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return nil
	}
	out := map[string]string{}
	for name := range strings.SplitSeq(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !strings.HasPrefix(name, "user.") {
			continue
		}
		v := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, name, v)
		if err == nil {
			out[name] = string(v[:m])
		}
	}
	return out
}

// view mounts an image of the test namespace and scans it.
func (e *env) view(t *testing.T, name string) map[string]entry {
	t.Helper()
	img, err := e.rt.Resolve(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.rt.View(e.ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(e.ctx)
	return scan(t, v.Dir)
}

// checkSame compares the slim tree with the fat one: exactly the paths
// want, each with the fat image's metadata (but for overrides).
func checkSame(t *testing.T, fat, slim map[string]entry, want []string, overrides map[string]entry) {
	t.Helper()
	var got []string
	for p := range slim {
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("slim image holds\n\t%v\nwant\n\t%v", got, want)
	}
	for _, p := range want {
		f, s := fat[p], slim[p]
		if o, ok := overrides[p]; ok {
			f.Mode, f.UID, f.GID = o.Mode, o.UID, o.GID
		}
		f.Ino, s.Ino = 0, 0
		if f.Mode.IsDir() {
			f.Size, s.Size = 0, 0
		}
		if !equalEntry(f, s) {
			t.Errorf("%s: slim %+v, fat %+v", p, s, f)
		}
	}
}

func equalEntry(a, b entry) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestBuildBusybox(t *testing.T) {
	e := testEnv(t)
	fatImg, src := e.source(t, "docker-archive:"+fixture(t, "busybox-httpd"))
	name := "docker.io/slimtrace-fixtures/busybox-httpd:latest.slim"
	e.removeImage(t, name)

	paths := []string{"/bin", "/bin/busybox", "/bin/sh", "/www", "/www/index.html", "/etc", "/etc/passwd", "/tmp"}
	opts := e.options(name)
	opts.Outputs = []Output{{Type: "docker", Dest: filepath.Join(e.state, "slim.docker.tar")}}
	cfg := Config{ImageConfig: ocispec.ImageConfig{
		Entrypoint:   fatImg.Config.Entrypoint,
		WorkingDir:   fatImg.Config.WorkingDir,
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels:       map[string]string{"io.slimtrace.slim": "true"},
	}, Platform: ocispec.Platform{OS: fatImg.Config.OS, Architecture: fatImg.Config.Architecture},
		Healthcheck: &Healthcheck{Test: []string{"CMD", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: 5 * time.Second, Retries: 3}}
	res, err := Build(e.ctx, Spec{Source: src, Paths: paths, Config: cfg}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %+v", res)

	fat := e.view(t, fatImg.Name)
	slim := e.view(t, name)
	checkSame(t, fat, slim, paths, nil)
}

var (
	_ = gzip.NewWriter
	_ = tar.NewWriter
	_ = errors.New
	_ = io.EOF
	_ = http.Get
	_ specs.Versioned
)
