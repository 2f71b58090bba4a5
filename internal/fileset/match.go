package fileset

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// glob is a compiled exclude pattern.
type glob struct {
	segs []string
}

// compileGlob checks a pattern. Patterns are absolute image paths whose
// components are path.Match patterns, "**" standing for any number of
// components (none included); a relative pattern matches at any depth
// ("*.pyc" is "/**/*.pyc").
func compileGlob(p string) (glob, error) {
	if strings.TrimSpace(p) == "" {
		return glob{}, fmt.Errorf("exclude path %q: empty pattern", p)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/**/" + p
	}
	g := glob{segs: split(p)}
	for _, s := range g.segs {
		if _, err := path.Match(s, ""); err != nil {
			return glob{}, fmt.Errorf("exclude path %q: %w", p, err)
		}
	}
	return g, nil
}

func (g glob) match(p string) bool { return matchSegs(g.segs, split(p)) }

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// ParseIncludePath reads one --include-path value, PATH[:MODE#UID#GID]:
// an absolute image path, optionally followed by an octal mode, a uid and
// a gid, any of which may be empty ("/app/data:0770#1000#1000",
// "/app/run:#1000", "/etc/app.conf:0600").
func ParseIncludePath(s string) (IncludePath, error) {
	p, perms := s, ""
	if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Trim(s[i+1:], "0123456789#") == "" && s[i+1:] != "" {
		p, perms = s[:i], s[i+1:]
	}
	if !strings.HasPrefix(p, "/") {
		return IncludePath{}, fmt.Errorf("include path %q: not an absolute path", s)
	}
	ip := IncludePath{Path: path.Clean(p)}
	if perms == "" {
		return ip, nil
	}
	parts := strings.Split(perms, "#")
	if len(parts) > 3 {
		return IncludePath{}, fmt.Errorf("include path %q: want MODE#UID#GID after the colon", s)
	}
	o := &Override{}
	if parts[0] != "" {
		m, err := strconv.ParseUint(parts[0], 8, 32)
		if err != nil || m > 0o7777 {
			return IncludePath{}, fmt.Errorf("include path %q: mode %q is not an octal mode", s, parts[0])
		}
		mode := fs.FileMode(m & 0o777)
		if m&0o4000 != 0 {
			mode |= fs.ModeSetuid
		}
		if m&0o2000 != 0 {
			mode |= fs.ModeSetgid
		}
		if m&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		o.Mode = &mode
	}
	for i, dst := range []**int{&o.UID, &o.GID} {
		if len(parts) > i+1 && parts[i+1] != "" {
			n, err := strconv.Atoi(parts[i+1])
			if err != nil || n < 0 {
				return IncludePath{}, fmt.Errorf("include path %q: bad id %q", s, parts[i+1])
			}
			*dst = &n
		}
	}
	if o.Mode == nil && o.UID == nil && o.GID == nil {
		return IncludePath{}, fmt.Errorf("include path %q: empty MODE#UID#GID", s)
	}
	ip.Override = o
	return ip, nil
}

// ParseIncludePathFile reads an --include-path-file: one include path per
// line, blank lines and lines starting with # skipped.
func ParseIncludePathFile(r io.Reader) ([]IncludePath, error) {
	var out []IncludePath
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ip, err := ParseIncludePath(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, ip)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading include paths: %w", err)
	}
	return out, nil
}
