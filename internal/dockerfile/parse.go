package dockerfile

import (
	"encoding/json"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// step is a history entry read as a Dockerfile instruction.
type step struct {
	// keyword is the instruction (RUN, COPY, ...); empty when the entry is
	// not one.
	keyword string
	// args is what follows the keyword, as recorded.
	args string
	// classic is set for docker's classic builder's records (and buildah's,
	// which copies them): "#(nop)" metadata and "ADD file:… in /".
	classic bool
}

var keywords = map[string]bool{
	"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true,
	"FROM": true, "HEALTHCHECK": true, "LABEL": true, "MAINTAINER": true, "ONBUILD": true, "RUN": true,
	"SHELL": true, "STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true,
}

const (
	nop          = "#(nop)"
	buildkitMark = " # buildkit"
)

// shellRE matches a command recorded with a shell in front of it: the shell
// with its options (ending in -c), then the command.
var shellRE = regexp.MustCompile(`(?s)^((?:\S*/)?(?:sh|bash|ash|dash|zsh|ksh|mksh)(?: (?:-[a-zA-Z]+|-o [a-z]+|--[a-z-]+))*? -[a-zA-Z]*c|cmd /S /C|(?:powershell|pwsh)(?: -\S+)*? -Command) (.+)$`)

// readStep reads what a tool recorded as a step's created_by. shell is the
// shell in effect, which the classic builder writes in front of every
// record.
func readStep(createdBy string, shell []string) step {
	s := strings.TrimSpace(createdBy)
	s = strings.TrimSpace(strings.TrimSuffix(s, buildkitMark))
	if i := strings.Index(s, nop); i > 0 && isShellPrefix(s[:i]) {
		kw, args := cutWord(strings.TrimSpace(s[i+len(nop):]))
		if keywords[kw] {
			return step{keyword: kw, args: args, classic: true}
		}
		return step{}
	}
	if kw, args := cutWord(s); keywords[kw] {
		return step{keyword: kw, args: args}
	}
	if isBuildArgs(s) || isShellCommand(s, shell) {
		return step{keyword: "RUN", args: s, classic: true}
	}
	return step{}
}

// isShellPrefix reports whether p is what the classic builder writes before
// "#(nop)": a shell and its options ending in -c (or cmd's /C).
func isShellPrefix(p string) bool {
	p = strings.TrimSpace(p)
	return !strings.ContainsAny(p, `"'`) && (strings.HasSuffix(p, "c") || strings.HasSuffix(p, "/C") ||
		strings.HasSuffix(p, "-Command")) && strings.Contains(p, " ")
}

// mayBeShell is a quick check that word could start a shell command.
func mayBeShell(word string, shell []string) bool {
	if len(shell) > 0 && word == shell[0] {
		return true
	}
	switch path.Base(word) {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "cmd", "powershell", "pwsh":
		return true
	}
	return false
}

func isShellCommand(s string, shell []string) bool {
	return strings.HasPrefix(s, strings.Join(shell, " ")+" ") || shellRE.MatchString(s)
}

// isBuildArgs reports whether s starts with the "|N " that docker and
// BuildKit put before the build args of a RUN.
func isBuildArgs(s string) bool {
	n, _ := cutWord(s)
	if len(n) < 2 || n[0] != '|' {
		return false
	}
	_, err := strconv.Atoi(n[1:])
	return err == nil
}

func cutWord(s string) (string, string) {
	w, rest, _ := strings.Cut(s, " ")
	return w, strings.TrimSpace(rest)
}

// pair is a KEY=VALUE of ENV, LABEL or build args.
type pair struct{ key, value string }

// splitBuildArgs splits "|2 A=x B=y /bin/sh -c make" into the build args and
// the command. Values are split at blanks, as recorded; the last one runs up
// to where a shell command starts.
func splitBuildArgs(s string, shell []string) ([]pair, string) {
	if !isBuildArgs(s) {
		return nil, s
	}
	head, rest := cutWord(s)
	n, _ := strconv.Atoi(head[1:])
	if n == 0 {
		return nil, rest
	}
	words := strings.Split(rest, " ")
	// at[i] is where words[i] starts in rest.
	at := make([]int, len(words)+1)
	for i, w := range words {
		at[i+1] = at[i] + len(w) + 1
	}
	var out []pair
	i := 0
	for len(out) < n && i < len(words) {
		k, v, ok := strings.Cut(words[i], "=")
		if !ok || !isEnvKey(k) {
			return nil, s
		}
		i++
		if len(out) == n-1 {
			// The last value: extend it only up to a recognisable command.
			for j := i; j < len(words); j++ {
				if mayBeShell(words[j], shell) && isShellCommand(rest[at[j]:], shell) {
					v = strings.Join(append([]string{v}, words[i:j]...), " ")
					i = j
					break
				}
			}
		} else {
			for i < len(words) && !looksLikePair(words[i], isEnvKey) {
				v += " " + words[i]
				i++
			}
		}
		out = append(out, pair{k, v})
	}
	if len(out) < n {
		return nil, s
	}
	return out, strings.Join(words[i:], " ")
}

// splitPairs splits an ENV or LABEL record into its pairs. Tools record
// them unquoted ("LABEL maintainer=A B <a@b> version=1"): a word that looks
// like KEY= starts a new pair, unless final (the image's final values) says
// the current value goes on with it. The legacy "ENV KEY value" form is one
// pair. It returns nil for an empty record.
func splitPairs(s string, isKey func(string) bool, final map[string]string) []pair {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	words := strings.Split(s, " ")
	if !looksLikePair(words[0], isKey) {
		return []pair{{words[0], strings.TrimLeft(strings.Join(words[1:], " "), " ")}}
	}
	var out []pair
	var value []string // of the current pair
	// rest is what final says is left of the current value once it has
	// matched so far; known is false once it stops matching.
	var rest string
	var known bool
	end := func() {
		if len(out) > 0 {
			out[len(out)-1].value = strings.Join(value, " ")
		}
	}
	for _, w := range words {
		if looksLikePair(w, isKey) && !(known && strings.HasPrefix(rest, " "+w)) {
			end()
			k, v, _ := strings.Cut(w, "=")
			k = unquote(k)
			out = append(out, pair{key: k})
			value = []string{v}
			f, inFinal := final[k]
			rest, known = strings.CutPrefix(f, v)
			known = known && inFinal
			continue
		}
		value = append(value, w)
		rest, known = strings.CutPrefix(rest, " "+w)
		known = known && len(out) > 0
	}
	end()
	return out
}

func looksLikePair(w string, isKey func(string) bool) bool {
	k, _, ok := strings.Cut(w, "=")
	return ok && isKey(k)
}

var (
	envKeyRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	labelKeyRE = regexp.MustCompile(`^(?:[A-Za-z0-9][A-Za-z0-9._/:-]*|"[^"]+")$`)
)

func isEnvKey(k string) bool   { return envKeyRE.MatchString(k) }
func isLabelKey(k string) bool { return labelKeyRE.MatchString(k) }

func unquote(k string) string {
	if u, err := strconv.Unquote(k); err == nil && strings.HasPrefix(k, `"`) {
		return u
	}
	return k
}

// parseList reads a list as tools record it: a JSON array, Go's %q of a
// []string (["nginx" "-g" "daemon off;"], docker and BuildKit) or old
// docker's %v ([/bin/bash]).
func parseList(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	var l []string
	if json.Unmarshal([]byte(s), &l) == nil {
		return l, true
	}
	inner := s[1 : len(s)-1]
	if l, ok := goQuoted(inner); ok {
		return l, true
	}
	// %v: blanks separate; "[ -f x ]" is shell text, not a list.
	if inner[0] == ' ' || strings.ContainsAny(inner, `"`) {
		return nil, false
	}
	return strings.Fields(inner), true
}

// goQuoted reads blank-separated Go quoted strings.
func goQuoted(s string) ([]string, bool) {
	out := []string{}
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		q, err := strconv.QuotedPrefix(s)
		if err != nil || q[0] != '"' {
			return nil, false
		}
		u, err := strconv.Unquote(q)
		if err != nil {
			return nil, false
		}
		out = append(out, u)
		s = s[len(q):]
		if s != "" && s[0] != ' ' {
			return nil, false
		}
	}
	return out, true
}

// parsePorts reads an EXPOSE record: "80/tcp 443", BuildKit's map
// ("map[80/tcp:{} 443/tcp:{}]") or a list ("[80/tcp]").
func parsePorts(s string) []string {
	s = strings.TrimSpace(s)
	if inner, ok := strings.CutPrefix(s, "map["); ok && strings.HasSuffix(inner, "]") {
		s = strings.TrimSuffix(inner, "]")
	} else if l, ok := parseList(s); ok {
		s = strings.Join(l, " ")
	}
	var ports []string
	for _, f := range strings.Fields(s) {
		ports = append(ports, strings.TrimSuffix(f, ":{}"))
	}
	return ports
}

// portRange is what an EXPOSE entry exposes: ports first to last of proto.
type portRange struct {
	first, last int
	proto       string
}

// parsePortRange reads PORT[-LAST][/PROTO]; the protocol defaults to tcp.
func parsePortRange(p string) (portRange, bool) {
	num, proto, _ := strings.Cut(strings.ToLower(p), "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, isRange := strings.Cut(num, "-")
	first, err := strconv.Atoi(lo)
	if err != nil {
		return portRange{}, false
	}
	last := first
	if isRange {
		if last, err = strconv.Atoi(hi); err != nil || last < first {
			return portRange{}, false
		}
	}
	return portRange{first, last, proto}, true
}

// exposes reports whether one of rs exposes the config entry p (PORT/PROTO).
func exposes(rs []portRange, p string) bool {
	want, ok := parsePortRange(p)
	if !ok {
		return false
	}
	for _, r := range rs {
		if r.proto == want.proto && r.first <= want.first && want.first <= r.last {
			return true
		}
	}
	return false
}

// parseHealthcheck reads docker's and BuildKit's record of a HEALTHCHECK,
// Go's %q of the config struct:
//
//	&{["CMD-SHELL" "curl -f http://localhost/"] "30s" "3s" "0s" "0s" '\x03'}
//
// The quoted durations are, in order, interval, timeout, start period and
// start interval (older docker wrote fewer); the rune is the retry count.
func parseHealthcheck(s string) (*dockerspec.HealthcheckConfig, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "&{[") || !strings.HasSuffix(s, "}") {
		return nil, false
	}
	s = s[3 : len(s)-1]
	h := &dockerspec.HealthcheckConfig{}
	for {
		s = strings.TrimLeft(s, " ")
		if rest, ok := strings.CutPrefix(s, "]"); ok {
			s = rest
			break
		}
		q, err := strconv.QuotedPrefix(s)
		if err != nil || q[0] != '"' {
			return nil, false
		}
		u, _ := strconv.Unquote(q)
		h.Test = append(h.Test, u)
		s = s[len(q):]
	}
	durations := []*time.Duration{&h.Interval, &h.Timeout, &h.StartPeriod, &h.StartInterval}
	nd := 0
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, false
		}
		u, _ := strconv.Unquote(q)
		s = s[len(q):]
		if q[0] == '\'' {
			r, _ := utf8.DecodeRuneInString(u)
			h.Retries = int(r)
			continue
		}
		d, err := time.ParseDuration(u)
		if err != nil || nd == len(durations) {
			return nil, false
		}
		*durations[nd] = d
		nd++
	}
	return h, true
}

// classicCopyArgs turns the classic builder's "file:3d1f… in /dest" into
// "file:3d1f… /dest".
func classicCopyArgs(args string) string {
	f := strings.Fields(args)
	for i := 1; i < len(f)-1; i++ {
		if f[i] == "in" {
			return strings.Join(append(f[:i:i], f[i+1:]...), " ")
		}
	}
	return strings.TrimSpace(args)
}
