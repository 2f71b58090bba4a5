package safefs

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slimtrace/slimtrace/internal/privtest"
	"golang.org/x/sys/unix"
)

// TestRefusesDevices: a device node in an image is never opened, so root
// never reads the host's device through it.
func TestRefusesDevices(t *testing.T) {
	privtest.Root(t)
	root := t.TempDir()
	must(t, unix.Mknod(filepath.Join(root, "zero"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))))
	must(t, unix.Mknod(filepath.Join(root, "loop"), unix.S_IFBLK|0o644, int(unix.Mkdev(7, 0))))
	f := openFS(t, root)
	for _, name := range []string{"zero", "loop"} {
		if _, err := f.ReadFile(name); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "device") {
			t.Errorf("ReadFile(%s) = %v; want ErrNotRegular naming a device", name, err)
		}
		if _, err := f.Open(name); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Open(%s) = %v; want ErrNotRegular", name, err)
		}
	}
}
