package trace

import (
	"strings"
	"sync"
)

// Paths is a table of path strings: it holds each distinct path once, and
// whoever takes a path from it shares that one copy. A build passes one
// table from the tracer's decoder (a path read again from the ring buffer
// is not allocated again) through the Collector (its report's paths are the
// table's) to the file set (the entries it keeps for traced paths are the
// same strings). Safe for concurrent use; the zero value is an empty table.
//
// A table only grows: it is meant for one trace and what is computed from
// it, and is let go with them. It holds at most the paths its limit says
// (Limits.Paths: what a report can list); past it, a path is copied for
// its caller and not kept, so that an application naming millions of
// distinct paths costs no more than the report's caps allow.
type Paths struct {
	mu    sync.Mutex
	m     map[string]string
	bytes int
	max   int // 0: no limit
}

// NewPaths returns an empty table holding at most max paths (0: no limit).
func NewPaths(max int) *Paths { return &Paths{max: max} }

// Bytes returns the table's copy of the path b, adding one when b is new.
// It allocates only then.
func (t *Paths) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.m[string(b)]; ok { // no allocation: the compiler looks up by the bytes
		return s
	}
	return t.add(string(b))
}

// String returns the table's copy of s, adding a copy of s when it is new
// (s may be part of a larger string the table should not keep alive).
func (t *Paths) String(s string) string {
	if s == "" {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.m[s]; ok {
		return c
	}
	return t.add(strings.Clone(s))
}

func (t *Paths) add(s string) string {
	if t.max > 0 && len(t.m) >= t.max {
		return s
	}
	if t.m == nil {
		t.m = map[string]string{}
	}
	t.m[s] = s
	t.bytes += len(s)
	return s
}

// Shared returns the table's copy of s when it holds one, else s itself:
// for a holder that should share the trace's strings without adding its
// own to the table. A nil table holds nothing.
func (t *Paths) Shared(s string) string {
	if t == nil {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.m[s]; ok {
		return c
	}
	return s
}

// Len returns the number of distinct paths held and their bytes.
func (t *Paths) Len() (paths, bytes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m), t.bytes
}
