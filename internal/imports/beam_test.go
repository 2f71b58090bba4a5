package imports

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"slices"
	"testing"
	"testing/fstest"
)

// beamFile builds a BEAM file whose atom table is atoms (compact: OTP 28's
// encoding) and whose import table calls module atoms[i] for each i in calls.
func beamFile(atoms []string, calls []int, compact bool) []byte {
	chunk := func(id string, data []byte) []byte {
		var b bytes.Buffer
		b.WriteString(id)
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.Write(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		return b.Bytes()
	}
	var at bytes.Buffer
	n := int32(len(atoms))
	if compact {
		n = -n
	}
	binary.Write(&at, binary.BigEndian, n)
	for _, a := range atoms {
		switch l := len(a); {
		case !compact:
			at.WriteByte(byte(l))
		case l < 16:
			at.WriteByte(byte(l << 4))
		default:
			at.Write([]byte{byte((l>>3)&0xe0 | 0x08), byte(l)})
		}
		at.WriteString(a)
	}
	var imp bytes.Buffer
	binary.Write(&imp, binary.BigEndian, uint32(len(calls)))
	for _, c := range calls {
		binary.Write(&imp, binary.BigEndian, []uint32{uint32(c + 1), 1, 0})
	}
	body := append(append([]byte("BEAM"), chunk("AtU8", at.Bytes())...), chunk("ImpT", imp.Bytes())...)
	var out bytes.Buffer
	out.WriteString("FOR1")
	binary.Write(&out, binary.BigEndian, uint32(len(body)))
	out.Write(body)
	return out.Bytes()
}

func TestParseBEAM(t *testing.T) {
	long := "Elixir.A.Module.Name.Longer.Than.Sixteen"
	atoms := []string{"Elixir.App", "erlang", "Elixir.Base", "encode16", long}
	for _, compact := range []bool{false, true} {
		b := beamFile(atoms, []int{1, 2, 1, 4}, compact)
		var names []string
		for _, r := range Parse(BEAM, b) {
			if r.Kind != "call" {
				t.Errorf("kind %q", r.Kind)
			}
			names = append(names, r.Name)
		}
		if want := []string{"erlang", "Elixir.Base", long}; !slices.Equal(names, want) {
			t.Errorf("compact %v: %v, want %v", compact, names, want)
		}
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(beamFile(atoms, []int{2}, false))
	w.Close()
	if refs := Parse(BEAM, z.Bytes()); len(refs) != 1 || refs[0].Name != "Elixir.Base" {
		t.Errorf("compressed: %v", refs)
	}
	for _, bad := range [][]byte{nil, []byte("FOR1\x00\x00\x00\x04BEAM"), []byte("FOR1\x00\x00\x00\x10BEAMImpT\xff\xff\xff\xff")} {
		if refs := Parse(BEAM, bad); len(refs) != 0 {
			t.Errorf("%q: %v", bad, refs)
		}
	}
}

// Modules are found in the code path: the directories of the BEAM files
// seen (-pa) and the ebin directories beside theirs.
func TestResolveBEAM(t *testing.T) {
	fsys := fstest.MapFS{
		"app/ebin/Elixir.App.beam":                          {},
		"usr/lib/elixir/lib/elixir/ebin/Elixir.Kernel.beam": {},
		"usr/lib/elixir/lib/elixir/ebin/Elixir.Base.beam":   {},
		"usr/lib/elixir/lib/logger/ebin/Elixir.Logger.beam": {},
		"usr/lib/erlang/lib/crypto-5.1/ebin/crypto.beam":    {},
		"usr/lib/erlang/lib/kernel-8.5/ebin/gen_tcp.beam":   {},
	}
	r := NewResolver(fsys, Env{Seen: []string{"/app/ebin/Elixir.App.beam",
		"/usr/lib/elixir/lib/elixir/ebin/Elixir.Kernel.beam", "/usr/lib/erlang/lib/kernel-8.5/ebin/gen_tcp.beam"}})
	for name, want := range map[string]string{
		"Elixir.Base":   "/usr/lib/elixir/lib/elixir/ebin/Elixir.Base.beam",
		"Elixir.Logger": "/usr/lib/elixir/lib/logger/ebin/Elixir.Logger.beam",
		"crypto":        "/usr/lib/erlang/lib/crypto-5.1/ebin/crypto.beam",
		"erlang":        "", // preloaded: in no ebin
	} {
		files, found := r.Resolve(BEAM, "/app/ebin/Elixir.App.beam", Ref{Kind: "call", Name: name})
		if found != (want != "") || (found && !slices.Equal(files, []string{want})) {
			t.Errorf("%s: %v %v, want %q", name, files, found, want)
		}
	}
}
