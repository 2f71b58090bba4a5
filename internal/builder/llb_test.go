package builder

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/patternmatcher"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var testDigest = digest.FromString("fat image manifest")

// ops decodes a marshalled definition: the source ops and the file ops.
func ops(t *testing.T, def *llb.Definition) (sources []*pb.SourceOp, files []*pb.FileOp) {
	t.Helper()
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		switch o := op.Op.(type) {
		case *pb.Op_Source:
			sources = append(sources, o.Source)
		case *pb.Op_File:
			files = append(files, o.File)
		case nil: // the definition's final (return) op
		default:
			t.Fatalf("unexpected op %T", o)
		}
	}
	return sources, files
}

func copies(f *pb.FileOp) []*pb.FileActionCopy {
	var out []*pb.FileActionCopy
	for _, a := range f.Actions {
		c := a.GetCopy()
		if c == nil {
			continue
		}
		out = append(out, c)
	}
	return out
}

func TestDefinition(t *testing.T) {
	mode := os.FileMode(0o755) | os.ModeSetuid
	spec := Spec{
		Source: Source{Name: "docker.io/library/app:latest", Digest: testDigest},
		Paths: []string{
			"/bin", "/bin/busybox", "/bin/sh", // a file and a symlink
			"/www", "/www/index.html",
			"/tmp",                  // an empty directory: kept without contents
			"/usr/lib/x/y.so",       // parents not listed: added
			"/etc/./passwd", "/etc", // unclean and duplicate
			"/data/a*b[1]",
		},
		Overrides: map[string]Override{
			"/bin/busybox": {Mode: &mode, Owner: &Owner{UID: 0, GID: 0}},
			"/tmp":         {Owner: &Owner{UID: 1000, GID: 1000}},
		},
	}
	def, err := Definition(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	sources, files := ops(t, def)

	if len(sources) != 1 {
		t.Fatalf("%d source ops, want 1", len(sources))
	}
	src := sources[0]
	if want := "local://" + localName; src.Identifier != want {
		t.Errorf("source %q, want %q", src.Identifier, want)
	}
	if got := src.Attrs[pb.AttrSharedKeyHint]; got != testDigest.String() {
		t.Errorf("source shared key %q, want the image digest", got)
	}
	for _, a := range []string{pb.AttrLocalSessionID, pb.AttrIncludePatterns, pb.AttrExcludePatterns, pb.AttrFollowPaths} {
		if got, ok := src.Attrs[a]; ok {
			t.Errorf("source has %s=%q: what is sent is keptFS's business, in the build's own session", a, got)
		}
	}
	for _, dt := range def.Def {
		for _, bad := range []string{"docker-image://", "docker.io/library/app"} {
			if strings.Contains(string(dt), bad) {
				t.Errorf("definition refers to %q: a registry or store lookup", bad)
			}
		}
	}

	if len(files) != 1 {
		t.Fatalf("%d file ops, want 1 (one layer)", len(files))
	}
	cs := copies(files[0])
	if len(cs) != len(files[0].Actions) {
		t.Errorf("file op has actions other than copies")
	}
	dirs := []string{"/", "/bin", "/data", "/etc", "/usr", "/usr/lib", "/usr/lib/x", "/www"}
	overridden := []string{"/bin", "/"} // parents of the overridden paths
	if want := len(dirs) + len(overridden) + len(dirs) - 1; len(cs) != want {
		t.Fatalf("%d copies, want %d (one per directory, one per override, one per directory's times)", len(cs), want)
	}

	type copyWant struct {
		dir      string
		include  []string
		required []string
	}
	for i, w := range []copyWant{
		{"/", []string{"bin", "data", "etc", "tmp", "usr", "www"}, []string{"/bin", "/data", "/etc", "/tmp", "/usr", "/www"}},
		{"/bin", []string{"busybox", "sh"}, []string{"/bin/busybox", "/bin/sh"}},
		{"/data", []string{`a\*b\[1\]`}, []string{"/data/a*b[1]"}},
		{"/etc", []string{"passwd"}, []string{"/etc/passwd"}},
		{"/usr", []string{"lib"}, []string{"/usr/lib"}},
		{"/usr/lib", []string{"x"}, []string{"/usr/lib/x"}},
		{"/usr/lib/x", []string{"y.so"}, []string{"/usr/lib/x/y.so"}},
		{"/www", []string{"index.html"}, []string{"/www/index.html"}},
	} {
		c := cs[i]
		if c.Src != w.dir || c.Dest != w.dir || !c.DirCopyContents {
			t.Errorf("copy %d: %s -> %s (contents %v), want %s's contents", i, c.Src, c.Dest, c.DirCopyContents, w.dir)
		}
		if !slices.Equal(c.IncludePatterns, w.include) || !slices.Equal(c.RequiredPaths, w.required) {
			t.Errorf("copy %d of %s: include %q required %q, want %q %q", i, w.dir, c.IncludePatterns, c.RequiredPaths, w.include, w.required)
		}
		if !slices.Equal(c.ExcludePatterns, []string{"*/*"}) {
			t.Errorf("copy %d of %s: exclude %q, want */*", i, w.dir, c.ExcludePatterns)
		}
		if c.FollowSymlink || c.AllowWildcard || c.Owner != nil || c.Mode != -1 || c.Timestamp != -1 {
			t.Errorf("copy %d of %s changes what it copies: %+v", i, w.dir, c)
		}
	}

	// Overrides, by path.
	o1, o2 := cs[len(dirs)], cs[len(dirs)+1]
	if o1.Src != "/bin" || !slices.Equal(o1.IncludePatterns, []string{"busybox"}) || o1.Mode != 0o4755 ||
		o1.Owner.GetUser().GetUser() == nil || o1.Owner.GetUser().GetByID() != 0 {
		t.Errorf("busybox override: %+v", o1)
	}
	if o2.Src != "/" || !slices.Equal(o2.IncludePatterns, []string{"tmp"}) || o2.Mode != -1 ||
		o2.Owner.GetUser().GetByID() != 1000 || o2.Owner.GetGroup().GetByID() != 1000 {
		t.Errorf("/tmp override: %+v", o2)
	}
	if !slices.Equal(o1.ExcludePatterns, []string{"busybox/**"}) {
		t.Errorf("override walks below the path: exclude %q", o1.ExcludePatterns)
	}

	// Directory times, last.
	for i, d := range dirs[1:] {
		c := cs[len(dirs)+len(overridden)+i]
		if c.Src != d || c.Dest != d || !slices.Equal(c.ExcludePatterns, []string{"*"}) || len(c.IncludePatterns) != 0 {
			t.Errorf("times of %s: %+v", d, c)
		}
	}
}

func TestDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"relative path", Spec{Source: Source{Digest: testDigest}, Paths: []string{"bin/sh"}}, "not absolute"},
		{"no paths", Spec{Source: Source{Digest: testDigest}, Paths: []string{"/"}}, "no paths"},
		{"no digest", Spec{Paths: []string{"/bin/sh"}}, "no digest"},
		{"bad digest", Spec{Source: Source{Digest: "sha256:nope"}, Paths: []string{"/bin/sh"}}, "digest"},
		{"root override", Spec{Source: Source{Digest: testDigest}, Paths: []string{"/a"}, Overrides: map[string]Override{"/": {}}}, "root"},
		{"half an owner", Spec{Source: Source{Digest: testDigest}, Paths: []string{"/a"}, Overrides: map[string]Override{"/a": {Owner: &Owner{UID: -1, GID: 5}}}}, "both IDs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Definition(context.Background(), tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestDefinitionLarge checks that the graph of many paths marshals quickly
// and with one file op.
func TestDefinitionLarge(t *testing.T) {
	var paths []string
	for d := range 500 {
		for f := range 20 {
			paths = append(paths, "/srv/"+strings.Repeat("d", 1+d%5)+"/"+string(rune('a'+d%26))+"/"+strconv.Itoa(d)+"/f"+strconv.Itoa(f))
		}
	}
	start := time.Now()
	def, err := Definition(context.Background(), Spec{Source: Source{Digest: testDigest}, Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	_, files := ops(t, def)
	if len(files) != 1 {
		t.Fatalf("%d file ops, want 1", len(files))
	}
	t.Logf("%d paths: %d actions, %d bytes, %v", len(paths), len(files[0].Actions), len(def.Def[len(def.Def)-2]), time.Since(start))
}

func TestEscapePattern(t *testing.T) {
	names := []string{
		"plain.txt", "a*b", "q?", "[x]", "!bang", "mid!dle", " lead", "trail ", "tab\t", `back\slash`,
		"x^y", "a+b(c){d}|$", "dollar$", "ümlaut", "sp ace",
	}
	for _, name := range names {
		pat := escapePattern(name)
		pm, err := patternmatcher.New([]string{pat})
		if err != nil {
			t.Errorf("%q -> %q: %v", name, pat, err)
			continue
		}
		for _, other := range names {
			m, err := pm.MatchesOrParentMatches(other)
			if err != nil {
				t.Errorf("%q -> %q: %v", name, pat, err)
			}
			if m != (other == name) {
				t.Errorf("pattern %q (for %q) matches %q: %v", pat, name, other, m)
			}
		}
		if m, _ := pm.MatchesOrParentMatches(name + "x"); m {
			t.Errorf("pattern %q matches %q", pat, name+"x")
		}
	}
}

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Output
		err  bool
	}{
		{"type=docker,dest=/tmp/a.tar", Output{Type: "docker", Dest: "/tmp/a.tar"}, false},
		{"dest=a.tar,type=oci", Output{Type: "oci", Dest: "a.tar"}, false},
		{"type=image", Output{}, true},
		{"type=oci", Output{}, true},
		{"type=oci,dest=-", Output{}, true},
		{"type=oci,dest=a,push=true", Output{}, true},
		{"oci", Output{}, true},
	} {
		got, err := ParseOutput(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestImageConfig(t *testing.T) {
	created := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := dockerspec.DockerOCIImage{Config: dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			Entrypoint:   []string{"/bin/app"},
			Cmd:          []string{"--serve"},
			Env:          []string{"PATH=/bin"},
			WorkingDir:   "/srv",
			User:         "1000:1000",
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Volumes:      map[string]struct{}{"/data": {}},
			Labels:       map[string]string{"a": "b"},
			StopSignal:   "SIGINT",
		},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{
			Healthcheck: &dockerspec.HealthcheckConfig{Test: []string{"CMD", "/bin/app", "check"}, Interval: 5 * time.Second, Retries: 3}},
	}}
	cfg.Platform = ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	cfg.Created = &created
	dt, err := imageConfig(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Created      time.Time `json:"created"`
		OS           string    `json:"os"`
		Architecture string    `json:"architecture"`
		Variant      string    `json:"variant"`
		Config       struct {
			ocispec.ImageConfig
			Healthcheck struct {
				Test     []string
				Interval int64
				Retries  int
			}
		} `json:"config"`
		History []ocispec.History `json:"history"`
	}
	if err := json.Unmarshal(dt, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(created) || got.OS != "linux" || got.Architecture != "arm64" || got.Variant != "v8" {
		t.Errorf("config header: %s", dt)
	}
	c := got.Config
	if !slices.Equal(c.Entrypoint, cfg.Config.Entrypoint) || !slices.Equal(c.Cmd, cfg.Config.Cmd) || c.WorkingDir != "/srv" || c.User != "1000:1000" ||
		c.StopSignal != "SIGINT" || len(c.ExposedPorts) != 1 || len(c.Volumes) != 1 || c.Labels["a"] != "b" {
		t.Errorf("config: %s", dt)
	}
	if !slices.Equal(c.Healthcheck.Test, cfg.Config.Healthcheck.Test) || c.Healthcheck.Interval != int64(5*time.Second) || c.Healthcheck.Retries != 3 {
		t.Errorf("healthcheck lost: %s", dt)
	}
	if len(got.History) != 1 || got.History[0].CreatedBy != DefaultHistory {
		t.Errorf("history: %s", dt)
	}
	if _, err := imageConfig(dockerspec.DockerOCIImage{}, time.Now()); err == nil {
		t.Error("a config without platform was accepted")
	}
}
