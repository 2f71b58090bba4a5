package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/slimtrace/slimtrace/internal/trace"
)

// ErrShortSample is returned for a record shorter than its type says.
var ErrShortSample = errors.New("short sample")

// UnknownTypeError is returned for a record of a type this decoder does not know.
type UnknownTypeError struct{ Type uint32 }

func (e *UnknownTypeError) Error() string { return fmt.Sprintf("unknown event type %d", e.Type) }

// UnknownAccessError is returned for a file event with an access kind this
// decoder does not know.
type UnknownAccessError struct{ Access uint8 }

func (e *UnknownAccessError) Error() string { return fmt.Sprintf("unknown access kind %d", e.Access) }

// A decoder takes paths from the table given: a path the ring buffer
// carries again is not allocated again.
type decoder func(b []byte, native, compat abi, paths *trace.Paths) (trace.Event, error)

// decoders is the one place raw records become events.
var decoders = map[slimtraceEventType]decoder{
	slimtraceEventTypeEVENT_FILE: decodeFile,
	slimtraceEventTypeEVENT_EXEC: decodeExec,
	slimtraceEventTypeEVENT_FORK: decodeFork,
	slimtraceEventTypeEVENT_EXIT: decodeExit,
}

// accessKinds maps the wire's enum access to the trace model's kinds.
var accessKinds = map[slimtraceAccess]trace.Access{
	slimtraceAccessACCESS_READ:     trace.AccessRead,
	slimtraceAccessACCESS_WRITE:    trace.AccessWrite,
	slimtraceAccessACCESS_EXEC:     trace.AccessExec,
	slimtraceAccessACCESS_STAT:     trace.AccessStat,
	slimtraceAccessACCESS_READLINK: trace.AccessReadlink,
	slimtraceAccessACCESS_CREATE:   trace.AccessCreate,
	slimtraceAccessACCESS_DELETE:   trace.AccessDelete,
}

func decode(b []byte, native, compat abi, paths *trace.Paths) (trace.Event, error) {
	var h slimtraceEventHdr
	if _, err := binary.Decode(b, binary.NativeEndian, &h); err != nil {
		return nil, fmt.Errorf("%w: %d bytes", ErrShortSample, len(b))
	}
	dec, ok := decoders[slimtraceEventType(h.Type)]
	if !ok {
		return nil, &UnknownTypeError{Type: h.Type}
	}
	return dec(b, native, compat, paths)
}

// has reports whether an event's flags carry flag f.
func has(flags uint16, f slimtraceFileFlags) bool {
	return uint32(flags)&uint32(f) != 0
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
func take(p *[]byte, n int) ([]byte, error) {
	if n > len(*p) {
		return nil, fmt.Errorf("%w: payload of %d bytes, %d more expected", ErrShortSample, len(*p), n)
	}
	b := (*p)[:n]
	*p = (*p)[n:]
	return b, nil
}

// takePath cuts a path of n bytes off the front of *p, as the table's
// string.
func takePath(p *[]byte, n int, paths *trace.Paths) (string, error) {
	b, err := take(p, n)
	if err != nil {
		return "", err
	}
	return paths.Bytes(b), nil
}

func header(h slimtraceEventHdr) trace.Header {
	return trace.Header{Time: h.Ts, CgroupID: h.CgroupId, Pid: h.Pid, Tid: h.Tid, Lineage: h.Lineage}
}

func decodeFile(b []byte, native, compat abi, paths *trace.Paths) (trace.Event, error) {
	var w slimtraceFileEvent
	p, err := fixed(b, &w)
	if err != nil {
		return nil, err
	}
	access, ok := accessKinds[slimtraceAccess(w.Access)]
	if !ok {
		return nil, &UnknownAccessError{Access: w.Access}
	}
	e := &trace.FileEvent{
		Header:      header(w.Hdr),
		Compat:      has(w.Flags, slimtraceFileFlagsFILE_COMPAT),
		Access:      access,
		OnMount:     has(w.Flags, slimtraceFileFlagsFILE_ON_MOUNT),
		Upper:       has(w.Flags, slimtraceFileFlagsFILE_UPPER),
		Truncated:   has(w.Flags, slimtraceFileFlagsFILE_TRUNCATED),
		Unreachable: has(w.Flags, slimtraceFileFlagsFILE_UNREACHABLE),
	}
	if e.Compat {
		e.Syscall = compat.syscallName(int(w.Syscall))
	} else {
		e.Syscall = native.syscallName(int(w.Syscall))
	}
	if w.Ret < 0 {
		e.Errno = int(-w.Ret)
	}
	if e.Path, err = takePath(&p, int(w.NameLen), paths); err != nil {
		return nil, err
	}
	if e.Opened, err = takePath(&p, int(w.OpenedLen), paths); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeExec(b []byte, _, _ abi, paths *trace.Paths) (trace.Event, error) {
	var w slimtraceExecEvent
	p, err := fixed(b, &w)
	if err != nil {
		return nil, err
	}
	e := &trace.ExecEvent{Header: header(w.Hdr), PPid: w.Ppid, OldPid: w.OldPid,
		ArgvTruncated: has(w.Flags, slimtraceFileFlagsFILE_TRUNCATED)}
	if e.Filename, err = takePath(&p, int(w.FilenameLen), paths); err != nil {
		return nil, err
	}
	if e.Binary, err = takePath(&p, int(w.BinaryLen), paths); err != nil {
		return nil, err
	}
	argv, err := take(&p, int(w.ArgvLen))
	if err != nil {
		return nil, err
	}
	e.Argv = trace.SplitArgv(argv)
	return e, nil
}

func decodeFork(b []byte, _, _ abi, _ *trace.Paths) (trace.Event, error) {
	var w slimtraceForkEvent
	if _, err := fixed(b, &w); err != nil {
		return nil, err
	}
	return &trace.ForkEvent{Header: header(w.Hdr), Child: w.Child}, nil
}

func decodeExit(b []byte, _, _ abi, _ *trace.Paths) (trace.Event, error) {
	var w slimtraceExitEvent
	if _, err := fixed(b, &w); err != nil {
		return nil, err
	}
	e := &trace.ExitEvent{Header: header(w.Hdr)}
	e.Code, e.Signal, e.CoreDump = trace.ExitStatus(w.ExitCode)
	return e, nil
}
