package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// Wire values of bpf/slimtrace.h.
const (
	eventFile = 1
	eventExec = 2
	eventFork = 3
	eventExit = 4

	flagOnMount     = 1 << 0
	flagUpper       = 1 << 1
	flagTruncated   = 1 << 2
	flagUnreachable = 1 << 3
	flagCompat      = 1 << 4
)

// ErrShortSample is returned for a record shorter than its type says.
var ErrShortSample = errors.New("short sample")

// UnknownTypeError is returned for a record of a type this decoder does not know.
type UnknownTypeError struct{ Type uint32 }

func (e *UnknownTypeError) Error() string { return fmt.Sprintf("unknown event type %d", e.Type) }

type decoder func(b []byte, native, compat abi) (trace.Event, error)

// decoders is the one place raw records become events.
var decoders = map[uint32]decoder{
	eventFile: decodeFile,
	eventExec: decodeExec,
	eventFork: decodeFork,
	eventExit: decodeExit,
}

var hdrSize = binary.Size(slimtraceEventHdr{})

func decode(b []byte, native, compat abi) (trace.Event, error) {
	if len(b) < hdrSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrShortSample, len(b))
	}
	typ := binary.NativeEndian.Uint32(b[16:20])
	dec, ok := decoders[typ]
	if !ok {
		return nil, &UnknownTypeError{Type: typ}
	}
	return dec(b, native, compat)
}

// fixed decodes the fixed part of a record into v and returns the payload.
func fixed(b []byte, v any) ([]byte, error) {
	n, err := binary.Decode(b, binary.NativeEndian, v)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrShortSample, err)
	}
	return b[n:], nil
}

// take cuts n bytes off the front of *p.
func take(p *[]byte, n int) (string, error) {
	if n > len(*p) {
		return "", fmt.Errorf("%w: payload of %d bytes, %d more expected", ErrShortSample, len(*p), n)
	}
	s := string((*p)[:n])
	*p = (*p)[n:]
	return s, nil
}

func header(h slimtraceEventHdr) trace.Header {
	return trace.Header{Time: h.Ts, CgroupID: h.CgroupId, Pid: h.Pid, Tid: h.Tid, Lineage: h.Lineage}
}

func decodeFile(b []byte, native, compat abi) (trace.Event, error) {
	var w slimtraceFileEvent
	p, err := fixed(b, &w)
	if err != nil {
		return nil, err
	}
	e := &trace.FileEvent{
		Header:      header(w.Hdr),
		Compat:      w.Flags&flagCompat != 0,
		Access:      trace.Access(w.Access),
		OnMount:     w.Flags&flagOnMount != 0,
		Upper:       w.Flags&flagUpper != 0,
		Truncated:   w.Flags&flagTruncated != 0,
		Unreachable: w.Flags&flagUnreachable != 0,
	}
	if e.Compat {
		e.Syscall = compat.syscallName(int(w.Syscall))
	} else {
		e.Syscall = native.syscallName(int(w.Syscall))
	}
	if w.Ret < 0 {
		e.Errno = int(-w.Ret)
	}
	if e.Path, err = take(&p, int(w.NameLen)); err != nil {
		return nil, err
	}
	if e.Opened, err = take(&p, int(w.OpenedLen)); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeExec(b []byte, _, _ abi) (trace.Event, error) {
	var w slimtraceExecEvent
	p, err := fixed(b, &w)
	if err != nil {
		return nil, err
	}
	e := &trace.ExecEvent{Header: header(w.Hdr), PPid: w.Ppid, OldPid: w.OldPid,
		ArgvTruncated: w.Flags&flagTruncated != 0}
	if e.Filename, err = take(&p, int(w.FilenameLen)); err != nil {
		return nil, err
	}
	if e.Binary, err = take(&p, int(w.BinaryLen)); err != nil {
		return nil, err
	}
	argv, err := take(&p, int(w.ArgvLen))
	if err != nil {
		return nil, err
	}
	e.Argv = trace.SplitArgv([]byte(argv))
	return e, nil
}

func decodeFork(b []byte, _, _ abi) (trace.Event, error) {
	var w slimtraceForkEvent
	if _, err := fixed(b, &w); err != nil {
		return nil, err
	}
	return &trace.ForkEvent{Header: header(w.Hdr), Child: w.Child}, nil
}

func decodeExit(b []byte, _, _ abi) (trace.Event, error) {
	var w slimtraceExitEvent
	if _, err := fixed(b, &w); err != nil {
		return nil, err
	}
	e := &trace.ExitEvent{Header: header(w.Hdr)}
	e.Code, e.Signal, e.CoreDump = trace.ExitStatus(w.ExitCode)
	return e, nil
}
