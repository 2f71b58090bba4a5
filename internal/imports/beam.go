package imports

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"path"
	"slices"
	"strings"
)

// BEAM files (Erlang, Elixir, Gleam...) are compiled: the modules they
// call are loaded by name from the code path at the first call
// (interactive mode), long after start-up. BEAMClosure (beamcode.go) walks
// their call graph; this file finds modules and NIF libraries.

// maxBEAM bounds what a compressed BEAM file may inflate to.
const maxBEAM = 16 << 20

// beamAtoms reads an atom table: a count, then each atom's length and
// bytes. A negative count (OTP 28 and later) means lengths in the
// compact encoding of unsigned integers.
func beamAtoms(b []byte) []string {
	if len(b) < 4 {
		return nil
	}
	count := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	compact := count < 0
	if compact {
		count = -count
	}
	var atoms []string
	for i := int32(0); i < count && len(b) > 0; i++ {
		n := int(b[0])
		b = b[1:]
		if compact {
			switch {
			case n&0x08 == 0: // 4 bits
				n >>= 4
			case n&0x10 == 0 && len(b) > 0: // 11 bits
				n = (n&0xe0)<<3 | int(b[0])
				b = b[1:]
			default:
				return atoms // no atom is that long
			}
		}
		if n > len(b) {
			return atoms
		}
		atoms = append(atoms, string(b[:n]))
		b = b[n:]
	}
	return atoms
}

// resolveBEAM finds a module's file in the code path: the directories of
// the BEAM files the application loaded (-pa DIR), and the ebin
// directories of the applications beside theirs (ROOT/APP-VSN/ebin: an OTP
// install's lib/, Elixir's, a release's or a Mix build's).
func (r *Resolver) resolveBEAM(from string, ref Ref) ([]string, bool) {
	file := ref.Name + ".beam"
	for _, dir := range r.beamPath(from) {
		if p := dir + "/" + file; r.isFile(p) {
			return []string{p}, true
		}
	}
	return nil, false
}

// beamPath returns the code path: the directories of the BEAM files seen
// and from's, then their siblings' ebin directories.
func (r *Resolver) beamPath(from string) []string {
	add := func(f string) {
		if !strings.HasSuffix(f, ".beam") {
			return
		}
		dir := path.Dir(f)
		if slices.Contains(r.beam, dir) {
			return
		}
		r.beam = append(r.beam, dir)
		if root := path.Dir(path.Dir(dir)); path.Base(dir) == "ebin" && root != "/" {
			for _, app := range r.list(root) {
				if ebin := root + "/" + app + "/ebin"; r.isDir(ebin) {
					r.beam = appendUniq(r.beam, ebin)
				}
			}
		}
	}
	if r.beam == nil {
		r.beam = []string{}
		for _, f := range r.env.Seen {
			add(f)
		}
	}
	add(from)
	return r.beam
}

// beamNIFs returns the shared objects in the priv directory of from's
// application (APP/priv/lib/*.so, APP/priv/*.so): the NIF libraries its
// modules load.
func (r *Resolver) beamNIFs(from string) ([]string, bool) {
	ebin := path.Dir(from)
	if path.Base(ebin) != "ebin" {
		return nil, false
	}
	var out []string
	for _, dir := range []string{path.Dir(ebin) + "/priv/lib", path.Dir(ebin) + "/priv"} {
		for _, name := range r.list(dir) {
			if p := dir + "/" + name; strings.HasSuffix(name, ".so") && r.isFile(p) {
				out = append(out, p)
			}
		}
	}
	return out, len(out) > 0
}

// beamInflate returns a compressed BEAM file (compile option compressed)
// inflated, up to maxBEAM bytes; others as they are.
func beamInflate(src []byte) []byte {
	if !bytes.HasPrefix(src, []byte{0x1f, 0x8b}) {
		return src
	}
	z, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(z, maxBEAM))
	if err != nil {
		return nil
	}
	return b
}
