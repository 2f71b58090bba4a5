package fileset

import (
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

func link(target string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
}

func TestResolve(t *testing.T) {
	img := fstest.MapFS{
		"usr/lib/x86_64-linux-gnu/libc.so.6": {Data: []byte("elf")},
		"usr/bin/python3.11":                 {Data: []byte("py"), Mode: 0o755},
		"usr/bin/python3":                    link("python3.11"),
		"lib":                                link("usr/lib"),
		"etc/alternatives/py":                link("/usr/bin/python3"),
		"usr/local/bin/py":                   link("/etc/alternatives/py"),
		"loop/a":                             link("b"),
		"loop/b":                             link("a"),
		"escape":                             link("../../../../etc/shadow-host"),
		"etc/passwd":                         {Data: []byte("root")},
	}
	cases := []struct {
		path, resolved string
		exists         bool
		links          []string
	}{
		{"/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", true, []string{"/lib"}},
		{"/usr/local/bin/py", "/usr/bin/python3.11", true,
			[]string{"/usr/local/bin/py", "/etc/alternatives/py", "/usr/bin/python3"}},
		{"/usr/bin/../bin/./python3.11", "/usr/bin/python3.11", true, nil},
		{"/../../etc/passwd", "/etc/passwd", true, nil},
		{"/escape", "", false, []string{"/escape"}}, // ".." stops at the image root: /etc/shadow-host is not in the image
		{"/loop/a", "", false, nil},
		{"/etc/passwd/x", "", false, nil},
		{"/nope", "", false, nil},
		{"/", "/", true, nil},
	}
	for _, c := range cases {
		l := Resolve(img, c.path)
		if l.Exists != c.exists || l.Resolved != c.resolved {
			t.Errorf("%s: exists=%v resolved=%q err=%v; want %v %q", c.path, l.Exists, l.Resolved, l.Err, c.exists, c.resolved)
		}
		if c.links != nil && !slices.Equal(l.Links, c.links) {
			t.Errorf("%s: links %v, want %v", c.path, l.Links, c.links)
		}
	}
	if l := Resolve(img, "/loop/a"); l.Err != ErrLoop {
		t.Errorf("loop: %v", l.Err)
	}
}
