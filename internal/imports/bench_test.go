package imports

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParsePython parses the host's Python standard library, when
// there is one: the closure reads hundreds of such files per image.
func BenchmarkParsePython(b *testing.B) {
	files, _ := filepath.Glob("/usr/lib/python3*/*.py")
	if len(files) == 0 {
		b.Skip("no Python standard library on this host")
	}
	var srcs [][]byte
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		srcs = append(srcs, src)
		n += len(src)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, src := range srcs {
			Parse(Python, src)
		}
	}
}
