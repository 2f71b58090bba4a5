package session

import (
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
)

// TestFileBytes: the fat image's size is its regular files' bytes, every
// directory read in batches (over one batch here), links and directories
// not counted.
func TestFileBytes(t *testing.T) {
	img := fstest.MapFS{
		"bin/sh":      {Data: []byte("12345")},
		"bin/ls":      {Data: []byte("1"), Mode: 0o755},
		"bin/link":    {Data: []byte("sh"), Mode: fs.ModeSymlink | 0o777},
		"etc/passwd":  {Data: []byte("root")},
		"empty/.keep": {},
	}
	want := int64(5 + 1 + 4)
	for i := range 2500 {
		img[fmt.Sprintf("data/deep/f%d", i)] = &fstest.MapFile{Data: []byte("xy")}
		want += 2
	}
	got, err := fileBytes(img)
	if err != nil || got != want {
		t.Errorf("fileBytes = %d, %v; want %d", got, err, want)
	}
}
