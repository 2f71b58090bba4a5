package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
)

func TestCreateOpenRemove(t *testing.T) {
	privtest.Root(t)
	root, err := Mountpoint()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("slimtrace-cgroup-test-%d", os.Getpid())
	g, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	if g.Level != 1 || g.ID == 0 || g.Path != filepath.Join(root, name) {
		t.Errorf("group %+v", g)
	}
	child := filepath.Join(g.Path, "child")
	if err := os.Mkdir(child, 0o755); err != nil {
		t.Fatal(err)
	}
	// The same cgroup, named relative to the v2 root.
	c, err := Open("/" + name + "/child")
	if err != nil {
		t.Fatal(err)
	}
	if c.Level != 2 || c.Path != child {
		t.Errorf("child %+v", c)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Path); !os.IsNotExist(err) {
		t.Errorf("cgroup still there after Remove: %v", err)
	}
	if _, err := Open(g.Path); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Open of a removed cgroup: %v", err)
	}
}
