package container

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// LogLine is one line the container wrote.
type LogLine struct {
	Stream string // "stdout" or "stderr"
	Text   string
}

func (l LogLine) String() string { return l.Stream + ": " + l.Text }

// maxLineLen bounds a line kept in memory; longer lines are split.
const maxLineLen = 16 * 1024

// logRing keeps the last lines of a container's output and optionally
// copies each line, prefixed, to a writer.
type logRing struct {
	mu     sync.Mutex
	lines  []LogLine
	next   int
	full   bool
	out    io.Writer
	prefix string
}

func newLogRing(n int, out io.Writer, prefix string) *logRing {
	if n <= 0 {
		n = 1
	}
	return &logRing{lines: make([]LogLine, n), out: out, prefix: prefix}
}

func (r *logRing) add(l LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines[r.next] = l
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
	if r.out != nil {
		fmt.Fprintf(r.out, "%s%s\n", r.prefix, l.Text)
	}
}

// snapshot returns the kept lines, oldest first.
func (r *logRing) snapshot() []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]LogLine(nil), r.lines[:r.next]...)
	}
	return append(append([]LogLine(nil), r.lines[r.next:]...), r.lines[:r.next]...)
}

// lineWriter splits one stream into lines for a logRing.
type lineWriter struct {
	ring   *logRing
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLineLen {
				w.emit(w.buf[:maxLineLen])
				w.buf = append(w.buf[:0], w.buf[maxLineLen:]...)
				continue
			}
			break
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) == 0 {
		w.buf = nil
	}
	return len(p), nil
}

func (w *lineWriter) emit(b []byte) {
	w.ring.add(LogLine{Stream: w.stream, Text: string(bytes.TrimSuffix(b, []byte("\r")))})
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}
