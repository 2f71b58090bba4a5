package fileset

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// largeImage is a 100k-file image: 90k files of 300 dpkg packages under
// /usr, 10k application files in /app, and what the app touched: 300 OS
// files and 1000 application files.
func largeImage() (indexedFS, []Used) {
	files := map[string]*fstest.MapFile{
		"lib": link("usr/lib"), "bin": link("usr/bin"),
	}
	var status strings.Builder
	var used []Used
	for p := range 300 {
		name := fmt.Sprintf("pkg%d", p)
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nArchitecture: amd64\n\n", name)
		var list strings.Builder
		for f := range 300 {
			rel := fmt.Sprintf("usr/lib/%s/d%d/f%d.so", name, f%10, f)
			files[rel] = file("x")
			fmt.Fprintf(&list, "/lib/%s/d%d/f%d.so\n", name, f%10, f) // through the /lib link
			if f == 0 {
				used = append(used, read("/"+rel)...)
			}
		}
		files["var/lib/dpkg/info/"+name+".list"] = file(list.String())
	}
	for d := range 100 {
		for f := range 100 {
			rel := fmt.Sprintf("app/m%d/f%d.js", d, f)
			files[rel] = file("js")
			if f < 10 {
				used = append(used, read("/"+rel)...)
			}
		}
	}
	files["var/lib/dpkg/status"] = file(status.String())
	return indexFS(newImage(files)), used
}

// indexedFS is a MapFS whose directories are listed once: MapFS.ReadDir
// scans every entry of the map for each directory, which on 100k files
// would time the fake filesystem rather than Compute.
type indexedFS struct {
	fstest.MapFS
	dirs map[string][]fs.DirEntry
}

func indexFS(m fstest.MapFS) indexedFS {
	x := indexedFS{MapFS: m, dirs: map[string][]fs.DirEntry{}}
	for name := range m {
		if name == "." {
			continue
		}
		info, err := fs.Lstat(m, name)
		if err != nil {
			panic(err)
		}
		d := path.Dir(name)
		x.dirs[d] = append(x.dirs[d], fs.FileInfoToDirEntry(info))
	}
	for _, es := range x.dirs {
		slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	return x
}

func (x indexedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if es, ok := x.dirs[name]; ok {
		return slices.Clone(es), nil
	}
	return x.MapFS.ReadDir(name)
}

func TestComputeLargeImage(t *testing.T) {
	img, used := largeImage()
	start := time.Now()
	s, err := Compute(Input{FS: img, Files: used, Config: dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{WorkingDir: "/app"}}})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d entries from %d files in %s", len(s.Entries), len(img.MapFS), took)
	if s.Find("/app/m7/f99.js") == nil || s.Find("/usr/lib/pkg3/d1/f1.so") != nil {
		t.Error("wrong set")
	}
	if n := len(s.Entries); n < 10000 || n > 12000 {
		t.Errorf("%d entries", n)
	}
	if took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

func BenchmarkComputeLargeImage(b *testing.B) {
	img, used := largeImage()
	for b.Loop() {
		if _, err := Compute(Input{FS: img, Files: used}); err != nil {
			b.Fatal(err)
		}
	}
}
