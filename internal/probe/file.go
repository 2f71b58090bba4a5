package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// FileError locates a problem in a probe command file.
type FileError struct {
	Path   string
	Line   int    // 1-based
	Column int    // 1-based, in bytes
	Field  string // JSON path of the offending field, e.g. "commands[2].method"; empty for syntax errors
	Err    error
}

func (e *FileError) Error() string {
	loc := fmt.Sprintf("%s:%d:%d", e.Path, e.Line, e.Column)
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", loc, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", loc, e.Field, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// fileFields are the keys of a command object, as documented.
const fileFields = "protocol, method, resource, body, body_file, headers, port, username, password, crawl"

// ParseFile reads an --http-probe-cmd-file: a JSON object whose "commands"
// array holds objects with the keys protocol (or the predecessor's typo
// "procotol"), method, resource, body, body_file (relative to the file's
// directory), headers (an object, or an array of "Name: value" strings),
// port, username and password (HTTP basic authentication) and crawl (follow
// this command's links), as mint's probe files have them; its fastcgi is
// refused with a clear error. Keys match case-insensitively, as they did in the predecessor. Every
// problem is found here, before anything runs, and reported as a *FileError
// giving the line, the column and the field.
func ParseFile(path string) ([]Cmd, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading probe command file: %w", err)
	}
	p := &fileParser{path: path, data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	cmds, err := p.file()
	if err != nil {
		return nil, fmt.Errorf("parsing probe command file: %w", err)
	}
	return cmds, nil
}

// fileParser walks the file token by token so that every error knows where
// it is: base+dec.InputOffset() is an offset into data.
type fileParser struct {
	path string
	data []byte
	base int64
	dec  *json.Decoder
}

// sub returns a parser over raw, a value that starts at off in the file.
func (p *fileParser) sub(raw json.RawMessage, off int64) *fileParser {
	return &fileParser{path: p.path, data: p.data, base: off, dec: json.NewDecoder(bytes.NewReader(raw))}
}

func (p *fileParser) fail(off int64, field string, err error) error {
	line, col := position(p.data, off)
	return &FileError{Path: p.path, Line: line, Column: col, Field: field, Err: err}
}

// next is the offset where the next token starts.
func (p *fileParser) next() int64 {
	off := p.base + p.dec.InputOffset()
	for off < int64(len(p.data)) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return off
}

// token reads a token and returns it with its offset.
func (p *fileParser) token() (json.Token, int64, error) {
	off := p.next()
	t, err := p.dec.Token()
	if err != nil {
		return nil, off, p.syntax(err, off)
	}
	return t, off, nil
}

// value reads a whole value and returns it with its offset.
func (p *fileParser) value() (json.RawMessage, int64, error) {
	off := p.next()
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return nil, off, p.syntax(err, off)
	}
	return raw, off, nil
}

func (p *fileParser) syntax(err error, off int64) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		at := p.base + se.Offset
		// Errors found inside a value carry offsets that are not into the
		// file; scanning again from the value's start gives true ones.
		var v any
		var inner *json.SyntaxError
		if errors.As(json.Unmarshal(p.data[off:], &v), &inner) && !strings.Contains(inner.Error(), "top-level value") {
			at, err = off+inner.Offset, inner
		}
		return p.fail(p.offending(at, err.Error()), "", err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return p.fail(int64(len(p.data)), "", errors.New("unexpected end of file"))
	}
	return p.fail(off, "", err)
}

// offending finds the byte a syntax error names: json reports either its
// offset or the one before, depending on where the error was found.
func (p *fileParser) offending(off int64, msg string) int64 {
	var c byte
	if _, err := fmt.Sscanf(msg, "invalid character '%c'", &c); err != nil {
		return off
	}
	for i := max(off-1, 0); i <= off+1 && i < int64(len(p.data)); i++ {
		if p.data[i] == c {
			return i
		}
	}
	return off
}

func (p *fileParser) file() ([]Cmd, error) {
	t, off, err := p.token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, p.fail(off, "", errors.New(`want a JSON object: {"commands": [...]}`))
	}
	var cmds []Cmd
	seen := false
	for p.dec.More() {
		t, off, err := p.token()
		if err != nil {
			return nil, err
		}
		key := t.(string)
		if !strings.EqualFold(key, "commands") {
			return nil, p.fail(off, key, fmt.Errorf("unknown field %q: want \"commands\"", key))
		}
		if seen {
			return nil, p.fail(off, key, errors.New("duplicate field"))
		}
		seen = true
		if cmds, err = p.commands(key); err != nil {
			return nil, err
		}
	}
	if _, _, err := p.token(); err != nil { // the closing brace
		return nil, err
	}
	if off := p.next(); off < int64(len(p.data)) {
		return nil, p.fail(off, "", errors.New("unexpected data after the top-level object"))
	}
	return cmds, nil
}

func (p *fileParser) commands(field string) ([]Cmd, error) {
	t, off, err := p.token()
	if err != nil {
		return nil, err
	}
	if t == nil { // null
		return nil, nil
	}
	if t != json.Delim('[') {
		return nil, p.fail(off, field, errors.New("must be an array of command objects"))
	}
	var cmds []Cmd
	for i := 0; p.dec.More(); i++ {
		c, err := p.command(fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
	}
	if _, _, err := p.token(); err != nil { // the closing bracket
		return nil, err
	}
	return cmds, nil
}

func (p *fileParser) command(path string) (Cmd, error) {
	t, start, err := p.token()
	if err != nil {
		return Cmd{}, err
	}
	if t != json.Delim('{') {
		return Cmd{}, p.fail(start, path, errors.New("must be an object"))
	}
	var (
		c        Cmd
		seen     = map[string]int64{} // canonical key -> offset of its value
		bodyFile string
	)
	for p.dec.More() {
		t, koff, err := p.token()
		if err != nil {
			return Cmd{}, err
		}
		key := t.(string)
		raw, voff, err := p.value()
		if err != nil {
			return Cmd{}, err
		}
		field := path + "." + key
		name := strings.ToLower(key)
		if name == "procotol" {
			name = "protocol"
		}
		if _, dup := seen[name]; dup {
			return Cmd{}, p.fail(koff, field, fmt.Errorf("duplicate field %q", name))
		}
		seen[name] = voff
		switch name {
		case "protocol":
			err = decodeString(raw, func(s string) (err error) { c.Proto, err = parseProto(s); return err })
		case "method":
			err = decodeString(raw, func(s string) error { c.Method = s; return checkMethod(s) })
		case "resource":
			err = decodeString(raw, func(s string) error { c.Resource = s; return checkResource(s) })
		case "body":
			err = decodeString(raw, func(s string) error { c.Body = s; return nil })
		case "body_file":
			err = decodeString(raw, func(s string) error { bodyFile = s; return nil })
		case "headers":
			if c.Headers, err = p.sub(raw, voff).headers(field); err != nil {
				return Cmd{}, err // already located
			}
		case "port":
			if err = decodeAs(raw, &c.Port, "an integer"); err == nil {
				err = checkPort(c.Port)
			}
		case "username":
			err = decodeString(raw, func(s string) error { c.Username = s; return nil })
		case "password":
			err = decodeString(raw, func(s string) error { c.Password = s; return nil })
		case "crawl":
			err = decodeAs(raw, &c.Crawl, "true or false")
		case "fastcgi":
			if string(raw) != "null" {
				err = errors.New("FastCGI probes are not supported by slimtrace: probe the app over HTTP (a web server in front of it, or its own HTTP port)")
			}
		default:
			return Cmd{}, p.fail(koff, field, fmt.Errorf("unknown field %q (known: %s)", key, fileFields))
		}
		if err != nil {
			return Cmd{}, p.fail(voff, field, err)
		}
	}
	if _, _, err := p.token(); err != nil { // the closing brace
		return Cmd{}, err
	}
	if _, ok := seen["password"]; ok && c.Username == "" {
		return Cmd{}, p.fail(seen["password"], path+".password", errors.New("password without username"))
	}
	if _, ok := seen["resource"]; !ok {
		return Cmd{}, p.fail(start, path+".resource", errors.New("missing resource"))
	}
	if off, ok := seen["body_file"]; ok {
		field := path + ".body_file"
		if _, ok := seen["body"]; ok {
			return Cmd{}, p.fail(off, field, errors.New("body and body_file are both set: keep one"))
		}
		if bodyFile == "" {
			return Cmd{}, p.fail(off, field, errors.New("empty path"))
		}
		if !filepath.IsAbs(bodyFile) {
			bodyFile = filepath.Join(filepath.Dir(p.path), bodyFile)
		}
		b, err := os.ReadFile(bodyFile)
		if err != nil {
			return Cmd{}, p.fail(off, field, fmt.Errorf("reading body file: %w", err))
		}
		c.Body = string(b)
	}
	return c, nil
}

// headers reads {"Name": "value", ...} or ["Name: value", ...].
func (p *fileParser) headers(field string) (map[string]string, error) {
	t, off, err := p.token()
	if err != nil {
		return nil, err
	}
	h := map[string]string{}
	add := func(off int64, field, name, value string) error {
		if err := checkHeader(name, value); err != nil {
			return p.fail(off, field, err)
		}
		h[name] = value
		return nil
	}
	switch t {
	case nil:
		return nil, nil
	case json.Delim('{'):
		for p.dec.More() {
			t, _, err := p.token()
			if err != nil {
				return nil, err
			}
			name := t.(string)
			raw, voff, err := p.value()
			if err != nil {
				return nil, err
			}
			err = decodeString(raw, func(v string) error { return add(voff, field+"."+name, name, v) })
			var fe *FileError
			if err != nil && !errors.As(err, &fe) {
				return nil, p.fail(voff, field+"."+name, err)
			}
			if err != nil {
				return nil, err
			}
		}
	case json.Delim('['):
		for i := 0; p.dec.More(); i++ {
			raw, voff, err := p.value()
			if err != nil {
				return nil, err
			}
			f := fmt.Sprintf("%s[%d]", field, i)
			err = decodeString(raw, func(s string) error {
				name, value, ok := strings.Cut(s, ":")
				if !ok {
					return p.fail(voff, f, fmt.Errorf("header %q must be \"Name: value\"", s))
				}
				return add(voff, f, strings.TrimSpace(name), strings.TrimSpace(value))
			})
			var fe *FileError
			if err != nil && !errors.As(err, &fe) {
				return nil, p.fail(voff, f, err)
			}
			if err != nil {
				return nil, err
			}
		}
	default:
		return nil, p.fail(off, field, errors.New(`must be an object {"Name": "value"} or an array ["Name: value"]`))
	}
	if _, _, err := p.token(); err != nil { // the closing delimiter
		return nil, err
	}
	return h, nil
}

// decodeString decodes a JSON string (null reads as "") and hands it to use.
func decodeString(raw json.RawMessage, use func(string) error) error {
	var s string
	if err := decodeAs(raw, &s, "a string"); err != nil {
		return err
	}
	return use(s)
}

// decodeAs decodes raw into v, naming what was wanted on a type mismatch.
func decodeAs(raw json.RawMessage, v any, want string) error {
	err := json.Unmarshal(raw, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("must be %s, not %s", want, te.Value)
	}
	return err
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
