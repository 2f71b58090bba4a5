package tracer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/slimtrace/slimtrace/internal/trace"
)

func encode(t *testing.T, fixed any, payload ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := binary.Write(&b, binary.NativeEndian, fixed); err != nil {
		t.Fatal(err)
	}
	for _, p := range payload {
		b.WriteString(p)
	}
	return b.Bytes()
}

func TestDecode(t *testing.T) {
	native, compat := mustABI(trace.ABIX86_64), mustABI(trace.ABII386)
	read := uint8(slimtraceAccessACCESS_READ)
	hdr := func(typ slimtraceEventType) slimtraceEventHdr {
		return slimtraceEventHdr{Ts: 1, CgroupId: 2, Type: uint32(typ), Pid: 10, Tid: 11, Lineage: 10}
	}
	cases := []struct {
		name  string
		raw   []byte
		check func(t *testing.T, ev trace.Event, err error)
	}{
		{"file", encode(t, slimtraceFileEvent{Hdr: hdr(slimtraceEventTypeEVENT_FILE), Ret: -2, Syscall: 257, Access: read,
			Flags: uint16(slimtraceFileFlagsFILE_ON_MOUNT), NameLen: 4, OpenedLen: 0}, "/x/y"),
			func(t *testing.T, ev trace.Event, err error) {
				f, ok := ev.(*trace.FileEvent)
				if err != nil || !ok || f.Path != "/x/y" || f.Syscall != "openat" || f.Errno != 2 ||
					!f.OnMount || f.Access != trace.AccessRead || f.Pid != 10 {
					t.Errorf("got %+v, %v", ev, err)
				}
			}},
		{"compat file", encode(t, slimtraceFileEvent{Hdr: hdr(slimtraceEventTypeEVENT_FILE), Syscall: 5, Access: read,
			Flags: uint16(slimtraceFileFlagsFILE_COMPAT), NameLen: 2, OpenedLen: 2}, "/a", "/b"),
			func(t *testing.T, ev trace.Event, err error) {
				f, _ := ev.(*trace.FileEvent)
				if err != nil || f.Syscall != "open" || !f.Compat || f.Opened != "/b" {
					t.Errorf("got %+v, %v", ev, err)
				}
			}},
		{"exec", encode(t, slimtraceExecEvent{Hdr: hdr(slimtraceEventTypeEVENT_EXEC), Ppid: 1, FilenameLen: 7, BinaryLen: 12,
			ArgvLen: 8}, "/bin/sh", "/usr/bin/sh2", "sh\x00-c\x00x\x00"),
			func(t *testing.T, ev trace.Event, err error) {
				e, _ := ev.(*trace.ExecEvent)
				if err != nil || e.Filename != "/bin/sh" || e.Binary != "/usr/bin/sh2" || len(e.Argv) != 3 || e.Argv[2] != "x" {
					t.Errorf("got %+v, %v", ev, err)
				}
			}},
		{"exit by signal", encode(t, slimtraceExitEvent{Hdr: hdr(slimtraceEventTypeEVENT_EXIT), ExitCode: 9}),
			func(t *testing.T, ev trace.Event, err error) {
				e, _ := ev.(*trace.ExitEvent)
				if err != nil || e.Code != -1 || e.Signal != 9 {
					t.Errorf("got %+v, %v", ev, err)
				}
			}},
		{"exit status", encode(t, slimtraceExitEvent{Hdr: hdr(slimtraceEventTypeEVENT_EXIT), ExitCode: 3 << 8}),
			func(t *testing.T, ev trace.Event, err error) {
				if e, _ := ev.(*trace.ExitEvent); err != nil || e.Code != 3 || e.Signal != 0 {
					t.Errorf("got %+v, %v", ev, err)
				}
			}},
		{"fork", encode(t, slimtraceForkEvent{Hdr: hdr(slimtraceEventTypeEVENT_FORK), Child: 12}),
			func(t *testing.T, ev trace.Event, err error) {
				if e, _ := ev.(*trace.ForkEvent); err != nil || e.Child != 12 || e.Pid != 10 {
					t.Errorf("got %+v, %v", ev, err)
				}
			}},
		{"payload shorter than its lengths", encode(t, slimtraceFileEvent{Hdr: hdr(slimtraceEventTypeEVENT_FILE), Access: read,
			NameLen: 10}, "/ab"),
			func(t *testing.T, ev trace.Event, err error) {
				if !errors.Is(err, ErrShortSample) {
					t.Errorf("got %v, want ErrShortSample", err)
				}
			}},
		{"unknown access kind", encode(t, slimtraceFileEvent{Hdr: hdr(slimtraceEventTypeEVENT_FILE), Access: 99}),
			func(t *testing.T, ev trace.Event, err error) {
				var u *UnknownAccessError
				if !errors.As(err, &u) || u.Access != 99 {
					t.Errorf("got %v, want UnknownAccessError", err)
				}
			}},
		{"short header", []byte{1, 2, 3},
			func(t *testing.T, ev trace.Event, err error) {
				if !errors.Is(err, ErrShortSample) {
					t.Errorf("got %v, want ErrShortSample", err)
				}
			}},
		{"unknown type", encode(t, slimtraceForkEvent{Hdr: hdr(99)}),
			func(t *testing.T, ev trace.Event, err error) {
				var u *UnknownTypeError
				if !errors.As(err, &u) || u.Type != 99 {
					t.Errorf("got %v, want UnknownTypeError", err)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := decode(c.raw, native, compat, trace.NewPaths(0))
			c.check(t, ev, err)
		})
	}
}

// A path the ring buffer carries again is the table's string: not allocated
// again, and not tied to the record's buffer, which the reader reuses.
func TestDecodeInternsPaths(t *testing.T) {
	native, compat := mustABI(trace.ABIX86_64), mustABI(trace.ABII386)
	paths := trace.NewPaths(0)
	rec := func(path string) []byte {
		return encode(t, slimtraceFileEvent{Hdr: slimtraceEventHdr{Type: uint32(slimtraceEventTypeEVENT_FILE)},
			Syscall: 257, Access: uint8(slimtraceAccessACCESS_READ), NameLen: uint16(len(path)),
			OpenedLen: uint16(len(path))}, path, path)
	}
	buf := rec("/srv/www/index.html")
	first, err := decode(buf, native, compat, paths)
	if err != nil {
		t.Fatal(err)
	}
	f := first.(*trace.FileEvent)
	copy(buf, rec("/srv/www/other.html")) // the reader's buffer, reused for the next record
	if f.Path != "/srv/www/index.html" || f.Opened != f.Path {
		t.Fatalf("after the buffer was reused: %+v", f)
	}
	again, err := decode(rec("/srv/www/index.html"), native, compat, paths)
	if err != nil {
		t.Fatal(err)
	}
	g := again.(*trace.FileEvent)
	if unsafe.StringData(g.Path) != unsafe.StringData(f.Path) || unsafe.StringData(g.Opened) != unsafe.StringData(f.Path) {
		t.Error("the same path decoded twice is two strings")
	}
	if n, _ := paths.Len(); n != 1 {
		t.Errorf("table holds %d paths, want 1", n)
	}
	raw := rec("/srv/www/index.html")
	// The event itself is the only allocation: one *FileEvent.
	if a := testing.AllocsPerRun(100, func() { _, _ = decode(raw, native, compat, paths) }); a > 1 {
		t.Errorf("decoding a known path: %.0f allocations, want 1", a)
	}
}
