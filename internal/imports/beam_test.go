package imports

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"slices"
	"testing"
	"testing/fstest"
)

// asmModule is a BEAM module for tests: atoms (the first is its name),
// imports and exports as rows of the ImpT and ExpT tables (atom indexes are
// 1-based), funs (FunT: labels), and code, whose operands are written in
// the compact format, one byte each (values below 16).
type asmModule struct {
	atoms   []string
	imports [][3]uint32 // module, function, arity
	exports [][3]uint32 // function, arity, label
	funs    []uint32    // labels
	code    []byte
	compact bool // OTP 28's atom table
}

// op assembles one instruction: opcode, then (tag, value) pairs.
func op(code byte, operands ...[2]byte) []byte {
	b := []byte{code}
	for _, o := range operands {
		b = append(b, o[1]<<4|o[0])
	}
	return b
}

func u(v byte) [2]byte { return [2]byte{tagU, v} }
func a(v byte) [2]byte { return [2]byte{tagA, v} }
func f(v byte) [2]byte { return [2]byte{tagF, v} }
func x(v byte) [2]byte { return [2]byte{tagX, v} }

// fn assembles a function: label L, func_info, label L+1, body.
func fn(l, module, name, arity byte, body ...[]byte) []byte {
	b := append(op(opLabel, u(l)), op(opFuncInfo, a(module), a(name), u(arity))...)
	b = append(b, op(opLabel, u(l+1))...)
	for _, i := range body {
		b = append(b, i...)
	}
	return b
}

func (m asmModule) bytes() []byte {
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
	n := int32(len(m.atoms))
	if m.compact {
		n = -n
	}
	binary.Write(&at, binary.BigEndian, n)
	for _, s := range m.atoms {
		switch l := len(s); {
		case !m.compact:
			at.WriteByte(byte(l))
		case l < 16:
			at.WriteByte(byte(l << 4))
		default:
			at.Write([]byte{byte((l>>3)&0xe0 | 0x08), byte(l)})
		}
		at.WriteString(s)
	}
	rows := func(rs [][3]uint32) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(rs)))
		for _, r := range rs {
			binary.Write(&b, binary.BigEndian, r)
		}
		return b.Bytes()
	}
	var funt bytes.Buffer
	binary.Write(&funt, binary.BigEndian, uint32(len(m.funs)))
	for _, l := range m.funs {
		binary.Write(&funt, binary.BigEndian, []uint32{1, 0, l, 0, 0, 0})
	}
	var code bytes.Buffer
	binary.Write(&code, binary.BigEndian, []uint32{16, 0, 184, 10, 2})
	code.Write(m.code)
	code.WriteByte(opIntCodeEnd)
	body := []byte("BEAM")
	for _, c := range [][]byte{chunk("AtU8", at.Bytes()), chunk("ImpT", rows(m.imports)), chunk("ExpT", rows(m.exports)),
		chunk("FunT", funt.Bytes()), chunk("Code", code.Bytes())} {
		body = append(body, c...)
	}
	var out bytes.Buffer
	out.WriteString("FOR1")
	binary.Write(&out, binary.BigEndian, uint32(len(body)))
	out.Write(body)
	return out.Bytes()
}

// The graph is per function: web:handle/1 calls lib:used/0 (and, through a
// fun, lib:by_fun/0); lib:used/0 calls a local helper that calls
// deep:call/0; lib:unused/0, which calls nowhere:x/0, is never reached.
// The protocol proto dispatches to proto.Impl by name.
func testModules(compact bool) fstest.MapFS {
	web := asmModule{
		atoms:   []string{"web", "handle", "lib", "used", "by_fun", "proto", "show", "anon"},
		imports: [][3]uint32{{3, 4, 0}, {3, 5, 0}, {6, 7, 1}},
		exports: [][3]uint32{{2, 1, 2}},
		funs:    []uint32{4},
		code: slices.Concat(fn(1, 1, 2, 1, op(opCallExt, u(0), u(0)), op(opMakeFun3, u(0), x(0), u(0)),
			op(opCallExtOnly, u(1), u(2))), fn(3, 1, 8, 0, op(opCallExtOnly, u(0), u(1)))),
		compact: compact,
	}
	lib := asmModule{
		atoms:   []string{"lib", "used", "helper", "unused", "deep", "call", "nowhere", "x", "by_fun"},
		imports: [][3]uint32{{5, 6, 0}, {7, 8, 0}},
		exports: [][3]uint32{{2, 0, 2}, {4, 0, 6}, {9, 0, 8}},
		code: slices.Concat(fn(1, 1, 2, 0, op(opCallOnly, u(0), f(4))), fn(3, 1, 3, 0, op(opCallExtOnly, u(0), u(0))),
			fn(5, 1, 4, 0, op(opCallExtOnly, u(0), u(1))), fn(7, 1, 9, 0, op(19))),
	}
	deep := asmModule{atoms: []string{"deep", "call"}, exports: [][3]uint32{{2, 0, 2}}, code: fn(1, 1, 2, 0, op(19))}
	nowhere := asmModule{atoms: []string{"nowhere", "x"}, exports: [][3]uint32{{2, 0, 2}}, code: fn(1, 1, 2, 0, op(19))}
	// proto:show/1 returns proto.Impl (an atom), as a consolidated protocol's impl_for does.
	proto := asmModule{atoms: []string{"proto", "show", "__protocol__", "proto.Impl"},
		exports: [][3]uint32{{2, 1, 2}, {3, 1, 4}},
		code:    slices.Concat(fn(1, 1, 2, 1, op(64, a(4), x(0)), op(19)), fn(3, 1, 3, 1, op(19)))}
	impl := asmModule{atoms: []string{"proto.Impl", "show", "nif", "erlang", "load_nif"},
		imports: [][3]uint32{{4, 5, 2}},
		exports: [][3]uint32{{2, 1, 2}}, code: fn(1, 1, 2, 1, op(19))}
	return fstest.MapFS{
		"app/ebin/web.beam":                     {Data: web.bytes()},
		"otp/lib/lib-1.0/ebin/lib.beam":         {Data: lib.bytes()},
		"otp/lib/lib-1.0/ebin/nowhere.beam":     {Data: nowhere.bytes()},
		"otp/lib/deep-2.0/ebin/deep.beam":       {Data: deep.bytes()},
		"otp/lib/deep-2.0/ebin/proto.beam":      {Data: proto.bytes()},
		"otp/lib/deep-2.0/ebin/proto.Impl.beam": {Data: impl.bytes()},
		"otp/lib/deep-2.0/priv/lib/impl_nif.so": {Data: []byte("ELF")},
		"otp/lib/erts-13/ebin/erlang.beam":      {Data: nowhere.bytes()},
	}
}

func TestBEAMClosure(t *testing.T) {
	for _, compact := range []bool{false, true} {
		fsys := testModules(compact)
		r := NewResolver(fsys, Env{Seen: []string{"/app/ebin/web.beam", "/otp/lib/lib-1.0/ebin/lib.beam"}})
		reached, capped := r.BEAMClosure([]string{"/app/ebin/web.beam"}, 0)
		got := map[string]BEAMReached{}
		for _, x := range reached {
			got[x.Path] = x
		}
		for _, p := range []string{"/otp/lib/deep-2.0/ebin/deep.beam", "/otp/lib/deep-2.0/ebin/proto.beam",
			"/otp/lib/deep-2.0/ebin/proto.Impl.beam"} {
			if _, ok := got[p]; !ok {
				t.Errorf("compact %v: %s not reached: %v", compact, p, reached)
			}
		}
		if _, ok := got["/otp/lib/lib-1.0/ebin/nowhere.beam"]; ok {
			t.Errorf("nowhere.beam reached: only lib:unused/0, never called, calls it")
		}
		if len(reached) != 3 || capped {
			t.Errorf("reached %v capped %v", reached, capped)
		}
		if nifs := got["/otp/lib/deep-2.0/ebin/proto.Impl.beam"].NIFs; !slices.Equal(nifs, []string{"/otp/lib/deep-2.0/priv/lib/impl_nif.so"}) {
			t.Errorf("NIFs of proto.Impl: %v", nifs)
		}
		if reached, capped := r.BEAMClosure([]string{"/app/ebin/web.beam"}, 1); len(reached) > 1 || !capped {
			t.Errorf("max 1: %v %v", reached, capped)
		}
	}
}

func TestParseBEAMModuleBad(t *testing.T) {
	good := testModules(false)["app/ebin/web.beam"].Data
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(good)
	w.Close()
	if m, err := ParseBEAMModule(z.Bytes()); err != nil || m.Name != "web" {
		t.Errorf("compressed: %v %v", m, err)
	}
	for _, bad := range [][]byte{nil, []byte("FOR1\x00\x00\x00\x04BEAM"), good[:len(good)-9],
		[]byte("FOR1\x00\x00\x00\x10BEAMImpT\xff\xff\xff\xff")} {
		if _, err := ParseBEAMModule(bad); err == nil {
			t.Errorf("%q: no error", bad)
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
		files, found := r.Resolve(BEAM, "/app/ebin/Elixir.App.beam", Ref{Name: name})
		if found != (want != "") || (found && !slices.Equal(files, []string{want})) {
			t.Errorf("%s: %v %v, want %q", name, files, found, want)
		}
	}
}
