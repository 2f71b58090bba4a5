package imports

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// The BEAM code server loads a module at its first call: a route no probe
// reached may call modules start-up never loaded. Every remote call a
// module can make is in its import table, error paths included, so the
// closure walks the call graph function by function: from the
// application's own modules (all their functions) to the functions they
// call in other modules, and on. A module named by an atom in a function
// reached (a protocol's dispatch returns its implementations by name;
// apply/3) counts as called only in one case: an Elixir protocol naming
// its implementations (PROTOCOL.TYPE), whose functions of the protocol's
// API are followed. Error paths make the graph reach the compiler and
// more: following every atom that names a module kept 138 modules (4.8
// MB) for an app needing 40 (0.6 MB).

// beamArity is the number of operands of each generic BEAM instruction, by
// opcode (lib/compiler/src/genop.tab, OTP R5 to 29); -1: not an opcode.
var beamArity = [...]int8{
	-1, 1, 3, 0, 2, 3, 2, 2, 3, 2, 4, 5, 2, 3, 2, 3, 2, 1, 1, 0, // 0-19
	0, 0, 0, 2, 1, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, // 20-39
	3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, // 40-59
	3, 1, 2, 1, 2, 3, 3, 3, 3, 3, 2, 1, 1, 0, 1, 1, 3, 2, 2, 2, // 60-79
	5, 5, 5, 4, 2, 1, 1, 2, 2, 5, 5, 5, 2, 1, 0, 1, 2, 2, 4, 4, // 80-99
	4, 4, 3, 1, 2, 1, 1, 1, 2, 6, 3, 5, 1, 2, 2, 3, 5, 7, 7, 7, // 100-119
	5, 3, 2, 2, 5, 6, 2, 2, 2, 2, 1, 3, 4, 0, 8, 6, 2, 6, 5, 4, // 120-139
	5, 4, 5, 4, 3, 3, 3, 3, 3, 0, 1, 1, 7, 1, 5, 5, 2, 3, 3, 4, // 140-159
	0, 0, 2, 2, 2, 3, 4, 3, 2, 2, 4, 3, 1, 2, 1, 1, 1, 6, 3, 0, // 160-179
	1, 5, 3, 2, 4, 6, 2, 4, 3, 6, 3, 5, 4, 6, // 180-193
}

// Opcodes the walk reads.
const (
	opLabel       = 1
	opFuncInfo    = 2
	opIntCodeEnd  = 3
	opCall        = 4
	opCallLast    = 5
	opCallOnly    = 6
	opCallExt     = 7
	opCallExtLast = 8
	opCallExtOnly = 78
	opMakeFun2    = 103
	opMakeFun3    = 171
)

// Operand tags of the compact term format.
const (
	tagU = iota // unsigned integer
	tagI        // integer
	tagA        // atom (index; 0 is [])
	tagX        // x register
	tagY        // y register
	tagF        // label
	tagH        // character
	tagZ        // extended
)

// beamOperand is one decoded operand (lists flattened into the walk).
type beamOperand struct {
	tag int
	val uint64
}

// beamCodeReader decodes a Code chunk's instructions.
type beamCodeReader struct {
	b   []byte
	err error
}

func (r *beamCodeReader) byte() byte {
	if len(r.b) == 0 {
		if r.err == nil {
			r.err = errors.New("code ends inside an instruction")
		}
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// value decodes the number of an operand whose first byte is c.
func (r *beamCodeReader) value(c byte) uint64 {
	switch {
	case c&0x08 == 0:
		return uint64(c >> 4)
	case c&0x10 == 0:
		return uint64(c&0xe0)<<3 | uint64(r.byte())
	}
	n := int(c>>5) + 2
	if n == 9 {
		m := r.operand(nil)
		if m.tag != tagU || m.val > 1<<16 {
			r.err = errors.New("bad integer length")
			return 0
		}
		n = int(m.val) + 9
	}
	if n > len(r.b) {
		r.err = errors.New("code ends inside an integer")
		r.b = nil
		return 0
	}
	var v uint64
	for _, d := range r.b[:n] {
		v = v<<8 | uint64(d)
	}
	r.b = r.b[n:]
	return v
}

// operand decodes one operand; the operands inside lists go to visit.
func (r *beamCodeReader) operand(visit func(beamOperand)) beamOperand {
	c := r.byte()
	tag := int(c & 7)
	if tag != tagZ {
		o := beamOperand{tag: tag, val: r.value(c)}
		if visit != nil {
			visit(o)
		}
		return o
	}
	if c&0x08 != 0 {
		r.err = errors.New("bad extended tag")
		return beamOperand{tag: tagZ}
	}
	switch c >> 4 {
	case 0: // float (obsolete): 8 bytes
		if len(r.b) < 8 {
			r.err = errors.New("code ends inside a float")
			r.b = nil
		} else {
			r.b = r.b[8:]
		}
	case 1: // list: a count, then the elements
		n := r.operand(nil).val
		for i := uint64(0); i < n && r.err == nil; i++ {
			r.operand(visit)
		}
	case 2: // float register
		r.operand(nil)
	case 3: // allocation list: a count of (kind, amount) pairs
		n := r.operand(nil).val
		for i := uint64(0); i < 2*n && r.err == nil; i++ {
			r.operand(nil)
		}
	case 4: // literal (an index in the literal table)
		r.operand(nil)
	case 5: // typed register: the register, then a type index
		r.operand(nil)
		r.operand(nil)
	default:
		r.err = fmt.Errorf("unknown extended tag %d", c>>4)
	}
	return beamOperand{tag: tagZ}
}

// MFA names a function: Module:Function/Arity.
type MFA struct {
	Module, Function string
	Arity            int
}

func (m MFA) fa() string { return fmt.Sprintf("%s/%d", m.Function, m.Arity) }

// beamFunc is what one function of a module calls.
type beamFunc struct {
	local  []uint64 // labels of local functions it calls or makes funs of
	remote []MFA
	atoms  []string
}

// BEAMModule is the call graph of a compiled module.
type BEAMModule struct {
	Name string
	// NIF: the module loads a NIF library (erlang:load_nif), which it does
	// when it is loaded.
	NIF     bool
	funcs   map[string]*beamFunc // by "name/arity"
	byLabel map[uint64]string    // label -> "name/arity" of the function holding it
	Exports []string             // "name/arity"
}

// ParseBEAMModule reads a BEAM file's atoms, import, export and fun tables
// and the calls each function's code makes.
func ParseBEAMModule(src []byte) (*BEAMModule, error) {
	chunks, err := beamChunks(src)
	if err != nil {
		return nil, err
	}
	atoms := beamAtoms(chunks["AtU8"])
	if atoms == nil {
		atoms = beamAtoms(chunks["Atom"])
	}
	if len(atoms) == 0 {
		return nil, errors.New("no atom table")
	}
	atom := func(i uint64) string { // 1-based
		if i < 1 || i > uint64(len(atoms)) {
			return ""
		}
		return atoms[i-1]
	}
	m := &BEAMModule{Name: atoms[0], funcs: map[string]*beamFunc{}, byLabel: map[uint64]string{}}
	table := func(id string, width int) [][]uint32 {
		b := chunks[id]
		if len(b) < 4 {
			return nil
		}
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		var rows [][]uint32
		for i := 0; i < n && len(b) >= 4*width; i, b = i+1, b[4*width:] {
			row := make([]uint32, width)
			for j := range row {
				row[j] = binary.BigEndian.Uint32(b[4*j:])
			}
			rows = append(rows, row)
		}
		return rows
	}
	var imports []MFA
	for _, row := range table("ImpT", 3) {
		mfa := MFA{atom(uint64(row[0])), atom(uint64(row[1])), int(row[2])}
		imports = append(imports, mfa)
		if mfa.Module == "erlang" && mfa.Function == "load_nif" {
			m.NIF = true
		}
	}
	for _, row := range table("ExpT", 3) {
		m.Exports = append(m.Exports, fmt.Sprintf("%s/%d", atom(uint64(row[0])), row[1]))
	}
	var funLabels []uint64
	for _, row := range table("FunT", 6) {
		funLabels = append(funLabels, uint64(row[2]))
	}

	code := chunks["Code"]
	if len(code) < 4 {
		return nil, errors.New("no code")
	}
	head := int(binary.BigEndian.Uint32(code))
	if head+4 > len(code) {
		return nil, errors.New("bad code header")
	}
	r := &beamCodeReader{b: code[4+head:]}
	var cur *beamFunc
	var curFA string
	for len(r.b) > 0 && r.err == nil {
		op := int(r.byte())
		if op >= len(beamArity) || beamArity[op] < 0 {
			return nil, fmt.Errorf("unknown opcode %d", op)
		}
		if op == opIntCodeEnd {
			break
		}
		var ops []beamOperand
		visit := func(o beamOperand) {
			if o.tag == tagA && cur != nil && o.val > 0 {
				if a := atom(o.val); a != "" && a != m.Name {
					cur.atoms = append(cur.atoms, a)
				}
			}
		}
		for range beamArity[op] {
			ops = append(ops, r.operand(visit))
		}
		if r.err != nil {
			break
		}
		switch op {
		case opFuncInfo:
			curFA = fmt.Sprintf("%s/%d", atom(ops[1].val), ops[2].val)
			cur = &beamFunc{}
			m.funcs[curFA] = cur
		case opLabel:
			if cur != nil {
				m.byLabel[ops[0].val] = curFA
			}
		case opCall, opCallLast, opCallOnly:
			if cur != nil {
				cur.local = append(cur.local, ops[1].val)
			}
		case opCallExt, opCallExtLast, opCallExtOnly:
			if cur != nil && ops[1].val < uint64(len(imports)) {
				cur.remote = append(cur.remote, imports[ops[1].val])
			}
		case opMakeFun2, opMakeFun3:
			if cur != nil && ops[0].val < uint64(len(funLabels)) {
				cur.local = append(cur.local, funLabels[ops[0].val])
			}
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("reading code: %w", r.err)
	}
	return m, nil
}

// beamChunks splits a BEAM file (gzipped or not) into its chunks.
func beamChunks(src []byte) (map[string][]byte, error) {
	src = beamInflate(src)
	if len(src) < 12 || string(src[:4]) != "FOR1" || string(src[8:12]) != "BEAM" {
		return nil, errors.New("not a BEAM file")
	}
	chunks := map[string][]byte{}
	for b := src[12:]; len(b) >= 8; {
		id, size := string(b[:4]), int(binary.BigEndian.Uint32(b[4:8]))
		b = b[8:]
		if size > len(b) {
			return nil, fmt.Errorf("chunk %q past the end of the file", id)
		}
		chunks[id] = b[:size]
		b = b[min(len(b), (size+3)&^3):]
	}
	return chunks, nil
}

// reach returns the functions of m reachable from fa by local calls and
// funs, fa included, skipping those in done (which it adds to).
func (m *BEAMModule) reach(fa string, done map[string]bool) []*beamFunc {
	var out []*beamFunc
	stack := []string{fa}
	for len(stack) > 0 {
		fa := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f := m.funcs[fa]
		if f == nil || done[fa] {
			continue
		}
		done[fa] = true
		out = append(out, f)
		for _, l := range f.local {
			if g, ok := m.byLabel[l]; ok && !done[g] {
				stack = append(stack, g)
			}
		}
	}
	return out
}

// BEAMReached is a module file the closure reached.
type BEAMReached struct {
	Path string
	By   string // the module file whose function calls it first
	// NIFs are the libraries it loads (its application's priv/*.so).
	NIFs []string
}

// BEAMClosure walks the call graph from every function of the modules in
// roots (image paths of BEAM files) and returns the module files it
// reaches, roots and seen files excepted. Modules are found in the code
// path learnt from the files seen; the runtime's preloaded modules (in
// erts-*/ebin: erlang, init...) are not followed. max bounds the modules
// read (0: no bound); capped says it was reached.
func (r *Resolver) BEAMClosure(roots []string, max int) (reached []BEAMReached, capped bool) {
	type item struct {
		mod, fa, by string
	}

	mods := map[string]*BEAMModule{} // by name; nil: not found or unreadable
	paths := map[string]string{}
	done := map[string]map[string]bool{}
	seen := map[string]bool{}
	for _, s := range r.env.Seen {
		seen[s] = true
	}
	for _, p := range roots {
		seen[p] = true
	}
	read := 0
	load := func(name, from string) *BEAMModule {
		if m, ok := mods[name]; ok {
			return m
		}
		mods[name] = nil
		var p string
		if slices.Contains(roots, from) && strings.TrimSuffix(path.Base(from), ".beam") == name {
			p = from
		} else {
			files, found := r.resolveBEAM(from, Ref{Kind: "call", Name: name})
			if !found || strings.Contains(files[0], "/erts-") {
				return nil
			}
			p = files[0]
		}
		if max > 0 && read >= max {
			capped = true
			return nil
		}
		read++
		src, err := fs.ReadFile(r.fs, fsName(p))
		if err != nil {
			return nil
		}
		m, err := ParseBEAMModule(src)
		if err != nil {
			return nil
		}
		mods[name], paths[name], done[name] = m, p, map[string]bool{}
		if !seen[p] {
			nifs, _ := r.beamNIFs(p)
			if !m.NIF {
				nifs = nil
			}
			reached = append(reached, BEAMReached{Path: p, By: from, NIFs: nifs})
			seen[p] = true
		}
		return m
	}
	var queue []item
	for _, p := range roots {
		src, err := fs.ReadFile(r.fs, fsName(p))
		if err != nil {
			continue
		}
		m, err := ParseBEAMModule(src)
		if err != nil {
			continue
		}
		mods[m.Name], paths[m.Name], done[m.Name] = m, p, map[string]bool{}
		for fa := range m.funcs {
			queue = append(queue, item{m.Name, fa, p})
		}
	}
	atomsDone := map[string]bool{}
	for len(queue) > 0 {
		it := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		m := load(it.mod, it.by)
		if m == nil {
			continue
		}
		from := paths[it.mod]
		for _, f := range m.reach(it.fa, done[it.mod]) {
			for _, c := range f.remote {
				if !done[c.Module][c.fa()] {
					queue = append(queue, item{c.Module, c.fa(), from})
				}
			}
			for _, a := range f.atoms {
				// An Elixir protocol dispatches to its implementations,
				// PROTOCOL.TYPE, by name (consolidated: listed as atoms).
				key := a + " " + it.mod
				if atomsDone[key] || !strings.HasPrefix(a, it.mod+".") || !slices.Contains(m.Exports, "__protocol__/1") {
					continue
				}
				atomsDone[key] = true
				am := load(a, from)
				if am == nil {
					continue
				}
				// Called by name, through functions of the API of the
				// module naming it (a protocol's implementations).
				for _, fa := range am.Exports {
					if !slices.Contains(m.Exports, fa) {
						continue
					}
					queue = append(queue, item{a, fa, from})
				}
			}
		}
	}
	return reached, capped
}
