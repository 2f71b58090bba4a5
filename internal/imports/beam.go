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

// BEAM files (Erlang, Elixir, Gleam...) are compiled: their references are
// the modules of the remote calls in the import table (the ImpT chunk),
// which the runtime's code server loads by name from its code path the
// first time a call is made (interactive mode), long after start-up.

// maxBEAM bounds what a compressed BEAM file may inflate to.
const maxBEAM = 16 << 20

// parseBEAM returns the modules a BEAM file calls (Kind "call", Name the
// module's name), each once, in the order of its import table.
func parseBEAM(src []byte) []Ref {
	if bytes.HasPrefix(src, []byte{0x1f, 0x8b}) { // compressed (compile option compressed)
		z, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil
		}
		b, err := io.ReadAll(io.LimitReader(z, maxBEAM))
		if err != nil {
			return nil
		}
		src = b
	}
	if len(src) < 12 || string(src[:4]) != "FOR1" || string(src[8:12]) != "BEAM" {
		return nil
	}
	var atoms []string
	var imports []byte
	for b := src[12:]; len(b) >= 8; {
		id, size := string(b[:4]), int(binary.BigEndian.Uint32(b[4:8]))
		b = b[8:]
		if size > len(b) {
			return nil
		}
		switch id {
		case "AtU8", "Atom":
			atoms = beamAtoms(b[:size])
		case "ImpT":
			imports = b[:size]
		}
		b = b[min(len(b), (size+3)&^3):]
	}
	if len(imports) < 4 {
		return nil
	}
	n := int(binary.BigEndian.Uint32(imports))
	imports = imports[4:]
	var refs []Ref
	seen := map[string]bool{}
	for i := 0; i < n && len(imports) >= 12; i, imports = i+1, imports[12:] {
		m := int(binary.BigEndian.Uint32(imports)) // 1-based atom index
		if m < 1 || m > len(atoms) || seen[atoms[m-1]] {
			continue
		}
		seen[atoms[m-1]] = true
		refs = append(refs, Ref{Kind: "call", Name: atoms[m-1]})
	}
	return refs
}

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
