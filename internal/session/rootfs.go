package session

import (
	"io/fs"
	"os"
	"strings"
)

// rootFS reads the image view through an os.Root, so no lookup can leave
// the image's directory.
type rootFS struct{ root *os.Root }

func rel(name string) string {
	name = strings.TrimLeft(name, "/")
	if name == "" {
		return "."
	}
	return name
}

func (r rootFS) Lstat(name string) (os.FileInfo, error) { return r.root.Lstat(rel(name)) }
func (r rootFS) Readlink(name string) (string, error)   { return r.root.Readlink(rel(name)) }
func (r rootFS) Open(name string) (fs.File, error)      { return r.root.Open(rel(name)) }

func (r rootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := r.root.Open(rel(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}
