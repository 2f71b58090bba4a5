package privtest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
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
	files, order := tartest.Files(t, src)
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
