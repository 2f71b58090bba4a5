package probe

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Protocols a command can ask for. An empty protocol means: try http, and
// https when the port turns out to speak TLS.
const (
	ProtoHTTP  = "http"
	ProtoHTTPS = "https"
)

// Cmd is one HTTP probe command.
type Cmd struct {
	Proto    string            // "", ProtoHTTP or ProtoHTTPS
	Method   string            // upper-case; GET when empty
	Resource string            // path and query, starting with "/"
	Body     string            // request body, if any
	Headers  map[string]string // extra request headers; "Host" sets the request's host
	Port     int               // only this port when non-zero; every probed port otherwise
	// Username and Password, when Username is set, go as HTTP basic
	// authentication (mint's probe files); they never appear in logs or
	// reports.
	Username, Password string
	// Crawl follows the same-origin links of this command's page, as
	// Options.Crawl does for every command's.
	Crawl bool
}

// method returns the command's method, GET by default.
func (c Cmd) method() string {
	if c.Method == "" {
		return http.MethodGet
	}
	return c.Method
}

// String renders the command in the --http-probe-cmd form.
func (c Cmd) String() string {
	s := c.method() + ":" + c.Resource
	if c.Proto != "" {
		s = c.Proto + ":" + s
	}
	return s
}

// ParseCmd parses an --http-probe-cmd value: [proto:][method:]resource, where
// proto is http or https, method an upper-case HTTP method and resource a
// path (with an optional query) starting with "/". Examples: "/api/info",
// "POST:/submit", "http:POST:/submit".
func ParseCmd(s string) (Cmd, error) {
	c, err := parseCmd(s)
	if err != nil {
		return Cmd{}, fmt.Errorf("parsing probe command %q: %w", s, err)
	}
	return c, nil
}

func parseCmd(s string) (Cmd, error) {
	// Fields before the resource are separated by ":"; the resource itself
	// may hold ":" (in a query, say), so stop at the first field that starts
	// with "/" or at the last field.
	var prefix []string
	rest := s
	for !strings.HasPrefix(rest, "/") {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			break
		}
		prefix = append(prefix, rest[:i])
		rest = rest[i+1:]
	}
	var c Cmd
	switch len(prefix) {
	case 0:
	case 1:
		p, ok := knownProto(prefix[0])
		switch {
		case ok:
			c.Proto = p
		case prefix[0] != strings.ToUpper(prefix[0]) && !standardMethods[strings.ToUpper(prefix[0])]:
			// Lower-case and not a method in disguise: a protocol typo.
			return Cmd{}, fmt.Errorf("unknown protocol %q: want http or https, or an upper-case method", prefix[0])
		default:
			c.Method = prefix[0]
		}
	case 2:
		p, err := parseProto(prefix[0])
		if err != nil {
			return Cmd{}, err
		}
		c.Proto, c.Method = p, prefix[1]
	default:
		return Cmd{}, errors.New("too many fields: want [proto:][method:]resource")
	}
	if err := checkMethod(c.Method); err != nil {
		return Cmd{}, err
	}
	if err := checkResource(rest); err != nil {
		return Cmd{}, err
	}
	c.Resource = rest
	return c, nil
}

var standardMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true,
	http.MethodOptions: true, http.MethodTrace: true,
}

func knownProto(s string) (string, bool) {
	switch p := strings.ToLower(s); p {
	case ProtoHTTP, ProtoHTTPS:
		return p, true
	}
	return "", false
}

// parseProto accepts "", http and https, in any case.
func parseProto(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if p, ok := knownProto(s); ok {
		return p, nil
	}
	return "", fmt.Errorf("unknown protocol %q: want http or https", s)
}

// checkMethod accepts an empty method (GET) or an upper-case HTTP token.
func checkMethod(m string) error {
	if m == "" {
		return nil
	}
	if !isToken(m) {
		return fmt.Errorf("bad method %q: not an HTTP method name", m)
	}
	if strings.ToUpper(m) != m {
		return fmt.Errorf("bad method %q: must be upper-case (%q)", m, strings.ToUpper(m))
	}
	return nil
}

// checkResource accepts a path, with an optional query, starting with "/".
func checkResource(r string) error {
	if r == "" {
		return errors.New("missing resource")
	}
	if !strings.HasPrefix(r, "/") {
		return fmt.Errorf("resource %q must start with \"/\"", r)
	}
	u, err := url.Parse(r)
	if err != nil {
		return fmt.Errorf("bad resource %q: %w", r, errors.Unwrap(err))
	}
	if u.Host != "" {
		return fmt.Errorf("resource %q must be a path, not a URL", r)
	}
	if u.Fragment != "" {
		return fmt.Errorf("resource %q must not hold a fragment (#%s): it is never sent", r, u.Fragment)
	}
	return nil
}

// checkHeader accepts a valid header field name and value.
func checkHeader(name, value string) error {
	if !isToken(name) {
		return fmt.Errorf("bad header name %q", name)
	}
	for _, b := range []byte(value) {
		// RFC 9110 field-value: visible characters, obs-text, space and tab.
		if b < ' ' && b != '\t' || b == 0x7f {
			return fmt.Errorf("bad value for header %q: control character %q", name, b)
		}
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token: method and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, b := range []byte(s) {
		ok := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// checkPort accepts a TCP port number.
func checkPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", p)
	}
	return nil
}
