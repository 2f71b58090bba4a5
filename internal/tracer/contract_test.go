package tracer

import (
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// enumValues returns the values of a C enum of bpf/slimtrace.h, read from
// the BTF of the compiled object (the same the generated constants come
// from), so a value added in C fails the checks below until Go handles it.
func enumValues(t *testing.T, name string) []btf.EnumValue {
	t.Helper()
	spec, err := loadSlimtrace()
	if err != nil {
		t.Fatal(err)
	}
	var e *btf.Enum
	if err := spec.Types.TypeByName(name, &e); err != nil {
		t.Fatalf("enum %s: %v", name, err)
	}
	return e.Values
}

// Every wire value the Go side translates has a translation.
func TestContractEnumsMapped(t *testing.T) {
	for _, v := range enumValues(t, "event_type") {
		if _, ok := decoders[slimtraceEventType(v.Value)]; !ok {
			t.Errorf("event_type %s (%d) has no decoder", v.Name, v.Value)
		}
	}
	kinds := map[trace.Access]bool{}
	for _, v := range enumValues(t, "access") {
		k, ok := accessKinds[slimtraceAccess(v.Value)]
		if !ok {
			t.Errorf("access %s (%d) has no trace.Access", v.Name, v.Value)
		}
		if kinds[k] {
			t.Errorf("access %s (%d): trace.Access %s is mapped twice", v.Name, v.Value, k)
		}
		kinds[k] = true
	}
	if len(accessKinds) != len(kinds) {
		t.Errorf("accessKinds has %d entries, enum access %d values", len(accessKinds), len(kinds))
	}
	for _, v := range enumValues(t, "cap_who") {
		if _, ok := capWho[slimtraceCapWho(v.Value)]; !ok && slimtraceCapWho(v.Value) != slimtraceCapWhoCAP_WHO {
			t.Errorf("cap_who %s (%d) is not in capWho", v.Name, v.Value)
		}
	}
	if len(capWho) != int(slimtraceCapWhoCAP_WHO) {
		t.Errorf("capWho has %d rows, the map CAP_WHO", len(capWho))
	}
}

// The event flags the decoder reads are the enum's, and every one of them is
// read.
func TestContractFileFlags(t *testing.T) {
	var all uint16
	for _, v := range enumValues(t, "file_flags") {
		all |= uint16(v.Value)
	}
	ev, err := decodeFile(encode(t, slimtraceFileEvent{Hdr: slimtraceEventHdr{Type: uint32(slimtraceEventTypeEVENT_FILE)},
		Access: uint8(slimtraceAccessACCESS_READ), Flags: all}), abi{}, abi{}, trace.NewPaths(0))
	if err != nil {
		t.Fatal(err)
	}
	f := ev.(*trace.FileEvent)
	if !f.Compat || !f.OnMount || !f.Upper || !f.Truncated || !f.Unreachable {
		t.Errorf("all flags set, decoded %+v", f)
	}
}
