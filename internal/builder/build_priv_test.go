package builder

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/slimtrace/slimtrace/internal/container"
	"github.com/slimtrace/slimtrace/internal/image"
	"github.com/slimtrace/slimtrace/internal/privtest"
	"github.com/slimtrace/slimtrace/internal/tartest"
)

// Privileged tests: a real containerd (CONTAINERD_ADDRESS) and buildkitd
// (BUILDKIT_HOST, as .ci/services.sh starts them), as root. Images live in
// a namespace of their own, not the one buildkitd's worker uses: the source
// is a read-only view of the image, sent through the session.

const imageNamespace = "slimtrace-builder-test"

type env struct {
	ctx      context.Context
	rt       *image.Store
	buildkit string
	state    string
}

func testEnv(t testing.TB) *env {
	t.Helper()
	addr := privtest.ContainerdAddress(t)
	bk := os.Getenv("BUILDKIT_HOST")
	if bk == "" {
		privtest.Skip(t, "BUILDKIT_HOST is not set (start one with .ci/services.sh start)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	ctx = zerolog.New(zerolog.NewTestWriter(t)).Level(testLogLevel()).WithContext(ctx)
	state := t.TempDir()
	rt, err := image.Connect(ctx, image.Options{Address: addr, Namespace: imageNamespace, StatePath: filepath.Join(state, "target")})
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

func fixture(t testing.TB, name string) string { return privtest.Fixture(t, name) }

// source resolves an image for building from and mounts a view of it,
// unmounted when the test ends.
func (e *env) source(t testing.TB, ref string) (*image.Image, Source) {
	t.Helper()
	img, err := e.rt.Resolve(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.rt.View(e.ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close(e.ctx) })
	return img, Source{Name: img.Name, Digest: img.Digest(), Dir: v.Dir}
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
			_, err := e.rt.Load(ctx, archive, name)
			return err
		},
	}
}

// removeImage deletes name from the test namespace when the test ends.
func (e *env) removeImage(t testing.TB, name string) {
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
func scan(t testing.TB, root string) map[string]entry {
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
		e.Xattrs = fileCaps(p)
		out["/"+rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// capXattr holds file capabilities, the only xattr image layers carry
// (containerd's and BuildKit's tar writers drop the others, as docker's do).
const capXattr = "security.capability"

// capNetRaw is a vfs_cap_data v2 value: effective, cap_net_raw permitted.
const capNetRaw = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

// fileCaps returns p's file capabilities xattr, if any.
func fileCaps(p string) map[string]string {
	v := make([]byte, 256)
	n, err := unix.Lgetxattr(p, capXattr, v)
	if err != nil {
		return nil
	}
	return map[string]string{capXattr: string(v[:n])}
}

// view mounts an image of the test namespace and scans it.
func (e *env) view(t testing.TB, name string) map[string]entry {
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

// TestBuildBusybox builds a slim busybox-httpd of the files the brief names,
// from a namespace buildkitd does not use: the result is in the namespace,
// unpacked, with the fat image's metadata, its config, and it serves.
func TestBuildBusybox(t *testing.T) {
	e := testEnv(t)
	fatImg, src := e.source(t, "docker-archive:"+fixture(t, "busybox-httpd"))
	name := "docker.io/slimtrace-fixtures/busybox-httpd:latest.slim"
	e.removeImage(t, name)

	// /bin/sh is an applet symlink; /tmp is kept empty (sticky, 1777).
	paths := []string{"/bin", "/bin/busybox", "/bin/sh", "/www", "/www/index.html", "/etc", "/etc/passwd", "/tmp"}
	opts := e.options(name)
	dockerTar := filepath.Join(e.state, "slim.docker.tar")
	ociTar := filepath.Join(e.state, "slim.oci.tar")
	opts.Outputs = []Output{{Type: "docker", Dest: dockerTar}, {Type: "oci", Dest: ociTar}}
	hc := &dockerspec.HealthcheckConfig{Test: []string{"CMD", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/"}, Interval: 5 * time.Second, Retries: 3}
	cfg := dockerspec.DockerOCIImage{Config: dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			Entrypoint:   fatImg.Config.Config.Entrypoint,
			Env:          []string{"PATH=/bin"},
			WorkingDir:   fatImg.Config.Config.WorkingDir,
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Labels:       map[string]string{"io.slimtrace.slim": "true"},
			StopSignal:   "SIGKILL",
		},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{Healthcheck: hc},
	}}
	cfg.Platform = fatImg.Config.Platform
	res, err := Build(e.ctx, Spec{Source: src, Paths: paths, Config: cfg}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %+v", res)
	if res.Name != name || res.Digest == "" || res.ConfigDigest == "" || res.Size <= 0 || res.UnpackedSize < res.FileBytes || res.Entries != len(paths) {
		t.Errorf("result %+v", res)
	}
	if res.FileBytes != 1982256+259+72 {
		t.Errorf("file bytes %d, want busybox + index.html + passwd", res.FileBytes)
	}

	// In the namespace, unpacked for overlayfs, under the manifest digest
	// Build reported. (Checked before Resolve, which would unpack it.)
	out, err := e.ctr("images", "check", "name=="+name)
	if err != nil {
		t.Fatalf("ctr images check: %v: %s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[1], res.Digest.String()) || !strings.HasSuffix(strings.TrimSpace(lines[1]), "true") {
		t.Errorf("ctr images check: want %s complete and unpacked:\n%s", res.Digest, out)
	}
	slimImg, err := e.rt.Resolve(e.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if slimImg.Digest() != res.Digest || slimImg.ID() != res.ConfigDigest {
		t.Errorf("store has %s (config %s), build reported %s (%s)", slimImg.Digest(), slimImg.ID(), res.Digest, res.ConfigDigest)
	}
	c := slimImg.Config.Config
	_, exposed := c.ExposedPorts["8080/tcp"]
	if !slices.Equal(c.Entrypoint, cfg.Config.Entrypoint) || c.WorkingDir != cfg.Config.WorkingDir || c.Labels["io.slimtrace.slim"] != "true" ||
		len(c.ExposedPorts) != 1 || !exposed || c.StopSignal != "SIGKILL" || !slices.Equal(c.Env, cfg.Config.Env) {
		t.Errorf("slim config %+v", c)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, hc.Test) || c.Healthcheck.Interval != hc.Interval || c.Healthcheck.Retries != 3 {
		t.Errorf("healthcheck %+v, want %+v", c.Healthcheck, hc)
	}

	fat := e.view(t, fatImg.Name)
	slim := e.view(t, name)
	checkSame(t, fat, slim, paths, nil)
	if slim["/bin/sh"].Link != "busybox" {
		t.Errorf("/bin/sh is %+v, want the symlink to busybox", slim["/bin/sh"])
	}
	if m := slim["/tmp"].Mode; m != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("/tmp mode %v", m)
	}

	t.Run("serves", func(t *testing.T) {
		tg, err := container.NewRuntime(e.rt).Create(e.ctx, slimImg, container.RunConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close(e.ctx)
		if err := tg.Start(e.ctx); err != nil {
			t.Fatal(err)
		}
		body := httpGet(t, e.ctx, tg, "http://slim:8080/index.html")
		want, err := os.ReadFile(filepath.Join(testdataApps(), "busybox-httpd/www/index.html"))
		if err != nil {
			t.Fatal(err)
		}
		if body != string(want) {
			t.Errorf("index.html: %q", body)
		}
		if _, err := tg.Stop(e.ctx, time.Second); err != nil {
			t.Error(err)
		}
	})

	t.Run("docker output", func(t *testing.T) {
		ns := imageNamespace + "-docker"
		out, err := exec.Command("ctr", "-a", e.rt.Address(), "-n", ns, "images", "import", dockerTar).CombinedOutput()
		if err != nil {
			t.Fatalf("ctr images import: %v: %s", err, out)
		}
		defer exec.Command("ctr", "-a", e.rt.Address(), "-n", ns, "images", "rm", name).Run()
		out, err = exec.Command("ctr", "-a", e.rt.Address(), "-n", ns, "images", "ls", "-q").CombinedOutput()
		if err != nil || !strings.Contains(string(out), name) {
			t.Errorf("after import: %v %s", err, out)
		}
		checkDockerArchive(t, dockerTar, name)
	})

	t.Run("oci output", func(t *testing.T) {
		var got Result
		if err := got.readArchive(ociTar); err != nil {
			t.Fatal(err)
		}
		if got.Digest != res.Digest {
			t.Errorf("oci output holds %s, built %s", got.Digest, res.Digest)
		}
	})
}

// httpGet fetches url from inside tg's network namespace, retrying until
// the server answers.
func httpGet(t *testing.T, ctx context.Context, tg *container.Container, url string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return tg.DialContext(ctx, "tcp", "127.0.0.1:8080")
	}}, Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
			}
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func testdataApps() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..", "testdata", "apps")
}

// checkDockerArchive checks that file is a docker-archive of name, which
// docker load reads: manifest.json with RepoTags, config and layers.
func checkDockerArchive(t *testing.T, file, name string) {
	t.Helper()
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	files := map[string]bool{}
	tartest.Walk(t, file, func(h *tar.Header, rd io.Reader) error {
		files[h.Name] = true
		if h.Name == "manifest.json" {
			return json.NewDecoder(rd).Decode(&manifest)
		}
		return nil
	})
	// docker save writes familiar names (no docker.io/).
	if len(manifest) != 1 || !slices.Contains(manifest[0].RepoTags, strings.TrimPrefix(name, "docker.io/")) || len(manifest[0].Layers) != 1 {
		t.Fatalf("docker manifest.json: %+v", manifest)
	}
	for _, f := range append([]string{manifest[0].Config}, manifest[0].Layers...) {
		if !files[f] {
			t.Errorf("docker archive lacks %s", f)
		}
	}
}

// TestBuildMetadata builds from an image made for the test: owners, modes,
// setuid and sticky bits, xattrs, hardlinks, symlinks (to a file, to a
// directory, dangling), names that are pattern syntax, a directory kept
// without its contents, and overrides of a file and a directory.
func TestBuildMetadata(t *testing.T) {
	e := testEnv(t)
	fatName := "docker.io/slimtrace-test/metadata:latest"
	name := fatName + ".slim"
	e.removeImage(t, fatName)
	e.removeImage(t, name)
	old := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	entries := []*tar.Header{
		{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000, ModTime: old},
		{Name: "app/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "app/bin/tool", Typeflag: tar.TypeReg, Mode: 0o4755},
		{Name: "app/bin/ping", Typeflag: tar.TypeReg, Mode: 0o755, PAXRecords: map[string]string{
			"SCHILY.xattr.security.capability": capNetRaw, "SCHILY.xattr.user.origin": "fat"}},
		// A hardlink's header carries the inode's mode, as docker and
		// BuildKit write it (containerd applies it to the inode).
		{Name: "app/bin/tool-link", Typeflag: tar.TypeLink, Linkname: "app/bin/tool", Mode: 0o4755},
		{Name: "app/bin/other", Typeflag: tar.TypeReg, Mode: 0o755},
		{Name: "app/lib/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000},
		{Name: "app/lib/tool-elsewhere", Typeflag: tar.TypeLink, Linkname: "app/bin/tool", Mode: 0o4755},
		{Name: "app/lib/current", Typeflag: tar.TypeSymlink, Linkname: "../bin"},
		{Name: "app/lib/dangling", Typeflag: tar.TypeSymlink, Linkname: "/nowhere"},
		{Name: "app/lib/a*b", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/lib/a_b", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/lib/[x]", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 33, Gid: 44},
		{Name: "app/lib/ spaced ", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/lib/!bang", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/cache/", Typeflag: tar.TypeDir, Mode: 0o1777, Uid: 1000, Gid: 1000, ModTime: old},
		{Name: "app/cache/junk", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/cache/sub/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "app/cache/sub/more", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/data/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "app/data/f", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "app/data/g", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 33, Gid: 44},
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "unused/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "unused/big", Typeflag: tar.TypeReg, Mode: 0o644},
	}
	contents := map[string][]byte{
		"app/bin/tool": []byte("#!/bin/tool\n"), "app/bin/ping": []byte("ping\n"), "app/bin/other": []byte("other\n"), "app/lib/a*b": []byte("star\n"),
		"app/lib/a_b": []byte("underscore\n"), "app/lib/[x]": []byte("bracket\n"), "app/lib/ spaced ": []byte("space\n"),
		"app/lib/!bang": []byte("bang\n"), "app/cache/junk": []byte("junk\n"), "app/cache/sub/more": []byte("more\n"),
		"app/data/f": []byte("data\n"), "app/data/g": []byte("g\n"), "etc/passwd": []byte("root:x:0:0::/:/bin/tool\n"), "unused/big": bytes.Repeat([]byte("x"), 1<<20),
	}
	archive := filepath.Join(e.state, "metadata.oci.tar")
	writeOCIArchive(t, archive, fatName, entries, contents)
	fatImg, src := e.source(t, "oci-archive:"+archive)

	paths := []string{
		"/app", "/app/bin", "/app/bin/tool", "/app/bin/tool-link", "/app/bin/ping",
		"/app/lib", "/app/lib/tool-elsewhere", "/app/lib/current", "/app/lib/dangling", "/app/lib/a*b", "/app/lib/[x]",
		"/app/lib/ spaced ", "/app/lib/!bang",
		"/app/cache", // kept empty
		"/app/data", "/app/data/f", "/app/data/g",
		"/etc/passwd", // parent /etc not listed: still copied with its metadata
	}
	fileMode := os.FileMode(0o700)
	dirMode := os.FileMode(0o711) | os.ModeSetgid
	overrides := map[string]Override{
		"/app/data/f": {Mode: &fileMode, Owner: &Owner{UID: 4242, GID: 4343}},
		"/app/data":   {Mode: &dirMode, Owner: &Owner{UID: 5000, GID: 5001}},
		"/app/data/g": {Owner: &Owner{UID: 33, GID: 77}}, // a new group only
	}
	opts := e.options(name)
	var progress bytes.Buffer
	opts.Progress = &progress
	res, err := Build(e.ctx, Spec{Source: src, Paths: paths, Overrides: overrides, Config: platformConfig("linux", fatImg.Config.Architecture)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// BuildKit's own display, plain when not on a terminal.
	for _, want := range []string{"send the kept paths of " + fatName, "copy 19 paths", "exporting to oci image format", "DONE"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	t.Logf("result: %+v", res)

	fat := e.view(t, fatName)
	slim := e.view(t, name)
	checkSame(t, fat, slim, append(paths, "/etc"), map[string]entry{
		"/app/data/f": {Mode: 0o700, UID: 4242, GID: 4343},
		"/app/data":   {Mode: fs.ModeDir | fs.ModeSetgid | 0o711, UID: 5000, GID: 5001},
		"/app/data/g": {Mode: 0o644, UID: 33, GID: 77},
	})
	if slim["/app/bin/tool"].Ino != slim["/app/bin/tool-link"].Ino {
		t.Errorf("hardlink in one directory lost: %d != %d", slim["/app/bin/tool"].Ino, slim["/app/bin/tool-link"].Ino)
	}
	if x := slim["/app/bin/ping"].Xattrs[capXattr]; x != capNetRaw {
		t.Errorf("file capabilities %q, want %q", x, capNetRaw)
	}
	if slim["/app/lib/current"].Link != "../bin" || slim["/app/lib/dangling"].Link != "/nowhere" {
		t.Errorf("symlinks: %+v %+v", slim["/app/lib/current"], slim["/app/lib/dangling"])
	}
	for _, p := range []string{"/app/lib/a_b", "/app/cache/junk", "/app/cache/sub", "/unused"} {
		if _, ok := slim[p]; ok {
			t.Errorf("%s was not asked for but is in the slim image", p)
		}
	}
	if !slim["/app"].Mtime.Equal(old) || !slim["/app/cache"].Mtime.Equal(old) || !slim["/etc"].Mtime.Equal(fixtureTime) {
		t.Errorf("directory times: /app %v, /app/cache %v, /etc %v", slim["/app"].Mtime, slim["/app/cache"].Mtime, slim["/etc"].Mtime)
	}
}

// TestBuildFailures: a failed build tags nothing and leaves none of our
// state behind.
func TestBuildFailures(t *testing.T) {
	e := testEnv(t)
	_, src := e.source(t, "docker-archive:"+fixture(t, "busybox-httpd"))
	cfg := platformConfig("linux", runtimeArch(t, e))

	t.Run("missing path", func(t *testing.T) {
		name := "docker.io/slimtrace-test/missing:slim"
		e.removeImage(t, name)
		opts := e.options(name)
		opts.Outputs = []Output{{Type: "docker", Dest: filepath.Join(e.state, "missing.tar")}}
		_, err := Build(e.ctx, Spec{Source: src, Paths: []string{"/bin/busybox", "/www/nope.html"}, Config: cfg}, opts)
		if err == nil || !strings.Contains(err.Error(), "/www/nope.html") {
			t.Fatalf("error %v, want one naming /www/nope.html", err)
		}
		t.Log(err)
		e.checkNoImage(t, name)
		if _, err := os.Stat(opts.Outputs[0].Dest); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("output of a failed build: %v", err)
		}
		checkEmptyDir(t, opts.StateDir)
	})

	t.Run("path through a symlink", func(t *testing.T) {
		// The kernel would follow /www/link; a copy cannot. The caller must
		// list the real path.
		name := "docker.io/slimtrace-test/symlinked:slim"
		e.removeImage(t, name)
		_, err := Build(e.ctx, Spec{Source: src, Paths: []string{"/bin/sh/x"}, Config: cfg}, e.options(name))
		if err == nil || !strings.Contains(err.Error(), "lies below /bin/sh") || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("error %v, want one naming the symlink /bin/sh", err)
		}
		t.Log(err)
		e.checkNoImage(t, name)
	})

	t.Run("load fails", func(t *testing.T) {
		name := "docker.io/slimtrace-test/loadfail:slim"
		opts := e.options(name)
		opts.Load = func(context.Context, string) error { return errors.New("no space left") }
		_, err := Build(e.ctx, Spec{Source: src, Paths: []string{"/bin/busybox"}, Config: cfg}, opts)
		if err == nil || !strings.Contains(err.Error(), "no space left") {
			t.Fatalf("error %v", err)
		}
		e.checkNoImage(t, name)
		checkEmptyDir(t, opts.StateDir)
	})
}

func runtimeArch(t *testing.T, e *env) string {
	img, err := e.rt.Resolve(e.ctx, "docker.io/slimtrace-fixtures/busybox-httpd:latest")
	if err != nil {
		t.Fatal(err)
	}
	return img.Config.Architecture
}

func (e *env) checkNoImage(t *testing.T, name string) {
	t.Helper()
	if _, err := e.rt.Resolve(e.ctx, name); !errors.Is(err, image.ErrImageNotFound) {
		t.Errorf("%s after a failed build: %v", name, err)
	}
}

// checkEmptyDir checks that dir holds nothing (or does not exist).
func checkEmptyDir(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, d := range des {
		t.Errorf("left behind in %s: %s", dir, d.Name())
	}
	checkNoMounts(t, dir)
}

func checkNoMounts(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			t.Errorf("mount left under %s: %s", dir, fields[4])
		}
	}
}

// daemons lists the buildkitd processes whose command line names dir.
func daemons(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	des, _ := os.ReadDir("/proc")
	for _, d := range des {
		var pid int
		if _, err := fmt.Sscanf(d.Name(), "%d", &pid); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmd, []byte("buildkitd")) && bytes.Contains(cmd, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestBuildAutoStart: with nothing listening at the address, Build starts a
// buildkitd of its own (containerd worker), builds, and stops it: no
// process, mount or directory is left. A killed daemon fails the build
// cleanly, and so does a cancelled context.
func TestBuildAutoStart(t *testing.T) {
	e := testEnv(t)
	if _, err := findBuildkitd(); err != nil {
		privtest.Skip(t, err.Error())
	}
	fatImg, src := e.source(t, "docker-archive:"+fixture(t, "busybox-httpd"))
	cfg := platformConfig("linux", fatImg.Config.Architecture)
	nowhere := "unix://" + filepath.Join(e.state, "nothing-here.sock")
	auto := func(name string) Options {
		opts := e.options(name)
		opts.Address = nowhere
		opts.NoStart = false
		opts.ContainerdAddress = e.rt.Address()
		opts.StateDir = filepath.Join(e.state, "auto")
		return opts
	}

	t.Run("no start", func(t *testing.T) {
		opts := auto("docker.io/slimtrace-test/nostart:slim")
		opts.NoStart = true
		_, err := Build(e.ctx, Spec{Source: src, Paths: []string{"/bin/busybox"}, Config: cfg}, opts)
		if err == nil || !strings.Contains(err.Error(), "no buildkitd answers at "+nowhere) || !strings.Contains(err.Error(), "BUILDKIT_HOST") {
			t.Errorf("error %v", err)
		}
	})

	t.Run("builds and stops", func(t *testing.T) {
		name := "docker.io/slimtrace-test/auto:slim"
		e.removeImage(t, name)
		opts := auto(name)
		res, err := Build(e.ctx, Spec{Source: src, Paths: []string{"/bin/busybox", "/www/index.html"}, Config: cfg}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.rt.Resolve(e.ctx, name); err != nil {
			t.Error(err)
		}
		t.Logf("built %s in %v", res.Digest, res.Timings.Total)
		if pids := daemons(t, opts.StateDir); len(pids) > 0 {
			t.Errorf("buildkitd still runs: %v", pids)
		}
		checkEmptyDir(t, opts.StateDir)
	})

	t.Run("daemon killed", func(t *testing.T) {
		name := "docker.io/slimtrace-test/killed:slim"
		e.removeImage(t, name)
		opts := auto(name)
		opts.NoCache = true
		// The first progress line means the solve runs: kill the daemon.
		killed := false
		opts.Progress = writerFunc(func(p []byte) (int, error) {
			if !killed {
				killed = true
				for _, pid := range daemons(t, opts.StateDir) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return len(p), nil
		})
		_, err := Build(e.ctx, Spec{Source: src, Paths: []string{"/bin/busybox"}, Config: cfg}, opts)
		if err == nil {
			t.Fatal("build succeeded with its daemon killed")
		}
		if !killed {
			t.Error("no progress was shown")
		}
		t.Log(err)
		e.checkNoImage(t, name)
		if pids := daemons(t, opts.StateDir); len(pids) > 0 {
			t.Errorf("buildkitd still runs: %v", pids)
		}
		checkEmptyDir(t, opts.StateDir)
	})

	t.Run("cancelled", func(t *testing.T) {
		name := "docker.io/slimtrace-test/cancelled:slim"
		e.removeImage(t, name)
		opts := auto(name)
		ctx, cancel := context.WithCancel(e.ctx)
		go func() {
			for range 600 {
				if sessionStarted(opts.StateDir) {
					cancel()
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		_, err := Build(ctx, Spec{Source: src, Paths: []string{"/bin/busybox"}, Config: cfg}, opts)
		cancel()
		if err == nil {
			t.Fatal("cancelled build succeeded")
		}
		t.Log(err)
		e.checkNoImage(t, name)
		if pids := daemons(t, opts.StateDir); len(pids) > 0 {
			t.Errorf("buildkitd still runs: %v", pids)
		}
		checkEmptyDir(t, opts.StateDir)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// sessionStarted reports whether a build under stateDir has begun: its
// build directory exists.
func sessionStarted(stateDir string) bool {
	m, _ := filepath.Glob(filepath.Join(stateDir, "build-*"))
	return len(m) > 0
}

// platformConfig is a config with only a platform.
func platformConfig(os, arch string) dockerspec.DockerOCIImage {
	var c dockerspec.DockerOCIImage
	c.OS, c.Architecture = os, arch
	return c
}
