package privtest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/tartest"
)

// DockerManifest is one entry of a docker-archive's manifest.json.
type DockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// RewriteArchive copies the docker-archive src to a new file, letting edit
// change the manifest entries and the image config (by config file name);
// changed configs are stored under their new digest.
func RewriteArchive(t testing.TB, src string, edit func(m *[]DockerManifest, cfg map[string]map[string]any)) string {
	t.Helper()
	return rewrite(t, src, nil, edit)
}

// LayerEntry is one entry of a layer AddLayer writes: a header (Name
// relative, no leading slash; Typeflag and Linkname for links, FIFOs and
// device nodes) and, for a regular file, its bytes.
type LayerEntry struct {
	tar.Header
	Data string
}

// AddLayer copies the docker-archive src with one more layer on top of
// every image in it, holding entries: shapes a test needs (FIFOs, device
// nodes, setuid files, symlinks to host paths) that no Dockerfile writes.
func AddLayer(t testing.TB, src string, entries ...LayerEntry) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.Data))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	name := hex.EncodeToString(sum[:]) + "/layer.tar"
	return rewrite(t, src, map[string][]byte{name: buf.Bytes()}, func(ms *[]DockerManifest, cfgs map[string]map[string]any) {
		for i := range *ms {
			m := &(*ms)[i]
			m.Layers = append(m.Layers, name)
			// A name of its own: the fixture's stays the fixture's.
			for j, tag := range m.RepoTags {
				repo, _, _ := strings.Cut(tag, ":")
				m.RepoTags[j] = repo + ":layer-" + hex.EncodeToString(sum[:6])
			}
			rootfs, _ := cfgs[m.Config]["rootfs"].(map[string]any)
			if rootfs == nil {
				t.Fatalf("%s: no rootfs in the config", m.Config)
			}
			ids, _ := rootfs["diff_ids"].([]any)
			rootfs["diff_ids"] = append(ids, "sha256:"+hex.EncodeToString(sum[:]))
		}
	})
}

func rewrite(t testing.TB, src string, extra map[string][]byte, edit func(m *[]DockerManifest, cfg map[string]map[string]any)) string {
	t.Helper()
	files, order := tartest.Files(t, src)
	for n, b := range extra {
		if _, ok := files[n]; !ok {
			order = append(order, n)
		}
		files[n] = b
	}
	var ms []DockerManifest
	if err := json.Unmarshal(files["manifest.json"], &ms); err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]map[string]any{}
	orig := map[string]string{} // config file -> its decoded form, re-encoded
	for _, m := range ms {
		var c map[string]any
		if err := json.Unmarshal(files[m.Config], &c); err != nil {
			t.Fatal(err)
		}
		cfgs[m.Config] = c
		b, _ := json.Marshal(c)
		orig[m.Config] = string(b)
	}
	edit(&ms, cfgs)
	for i, m := range ms {
		b, err := json.Marshal(cfgs[m.Config])
		if err != nil {
			t.Fatal(err)
		}
		if orig[m.Config] == string(b) {
			continue // unchanged: keep the original bytes and digest
		}
		sum := sha256.Sum256(b)
		name := hex.EncodeToString(sum[:]) + ".json"
		if _, ok := files[name]; !ok {
			files[name] = b
			order = append(order, name)
		}
		ms[i].Config = name
	}
	mb, _ := json.Marshal(ms)
	files["manifest.json"] = mb

	out := filepath.Join(t.TempDir(), "rewritten.tar")
	w, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(w)
	for _, n := range order {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return out
}
