package creport

import (
	"regexp"
	"strings"
)

// Redacted replaces the value of an environment variable whose name looks
// secret.
const Redacted = "<redacted>"

// secretName matches the names of variables that usually hold secrets, as
// trivy's secret scanning does: API_TOKEN, DB_PASSWORD, AWS_SECRET_ACCESS_KEY,
// GITHUB_AUTH, ...
var secretName = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH)`)

// SecretName reports whether an environment variable's name looks secret.
func SecretName(name string) bool { return secretName.MatchString(name) }

// RedactEnv returns env (KEY=VALUE entries) with the value of every
// variable whose name looks secret replaced by Redacted; env itself is not
// changed. The report keeps the names, so a user sees the variable is set.
func RedactEnv(env []string) []string {
	if env == nil {
		return nil
	}
	out := make([]string, len(env))
	for i, e := range env {
		name, _, ok := strings.Cut(e, "=")
		if ok && SecretName(name) {
			e = name + "=" + Redacted
		}
		out[i] = e
	}
	return out
}

// assignment matches NAME=VALUE in free text (a build step's command line:
// `ENV API_TOKEN=abc`, `|1 DB_PASSWORD=x /bin/sh -c ...`), VALUE quoted or
// up to the next blank.
var assignment = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']+)`)

// legacyEnv matches the one-variable form `ENV NAME value...` (no '='),
// whose value runs to the end of the line.
var legacyEnv = regexp.MustCompile(`(?m)\bENV\s+([A-Za-z_][A-Za-z0-9_]*)\s+([^=\s][^\n]*)$`)

// RedactText returns s with the value of every NAME=VALUE (and legacy
// `ENV NAME VALUE`) whose name looks secret replaced by Redacted, for the
// history of an image (its build steps' commands) and Dockerfile.fat,
// and the value of every secret-looking flag (`--token abc`) in it.
func RedactText(s string) string {
	s = assignment.ReplaceAllStringFunc(s, func(m string) string {
		name, _, _ := strings.Cut(m, "=")
		if SecretName(name) {
			return name + "=" + Redacted
		}
		return m
	})
	s = legacyEnv.ReplaceAllStringFunc(s, func(m string) string {
		sub := legacyEnv.FindStringSubmatch(m)
		if SecretName(sub[1]) {
			return strings.TrimSuffix(m, sub[2]) + Redacted
		}
		return m
	})
	// A shell-form CMD, ENTRYPOINT or HEALTHCHECK's `--token abc`.
	return redactFlagsInText(s)
}

// flagInText matches a flag with its value inside one shell string
// (`curl --token abc`, `app --password="x y"`): the flag, the separator
// ('=' or blanks) and the value, quoted or up to the next blank.
var flagInText = regexp.MustCompile(`(--?[A-Za-z][A-Za-z0-9_.-]*)(=|\s+)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"'-][^\s"']*)`)

// flagInJSON matches a flag and its value in a recorded exec form, two
// JSON strings in a row (`CMD ["app","--token","abc"]`, BuildKit's
// `["app" "--token" "abc"]`): the flag, the quotes and comma between, and
// the value up to its closing quote.
var flagInJSON = regexp.MustCompile(`(--?[A-Za-z][A-Za-z0-9_.-]*)("\s*,?\s*")((?:[^"\\]|\\.)+)`)

// flagName returns the name of a command-line flag ("--db-password" gives
// "db-password") and whether arg is a flag at all.
func flagName(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
		return "", false
	}
	return strings.TrimLeft(arg, "-"), true
}

// RedactArgs returns args (a command's argv: an image's Entrypoint, Cmd or
// HEALTHCHECK) with the value of every flag whose name looks secret, by
// the same rule as SecretName, replaced by Redacted: `--password=x`,
// `--token x` (the next argument) and, inside an argument holding a shell
// command line (HEALTHCHECK CMD-SHELL, `sh -c "..."`), both forms again.
// The flag names stay; args itself is not changed.
func RedactArgs(args []string) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, isFlag := flagName(a)
		switch {
		case isFlag && strings.Contains(name, "="):
			n, _, _ := strings.Cut(name, "=")
			if SecretName(n) {
				a = strings.TrimSuffix(a, name) + n + "=" + Redacted
			}
		case isFlag && SecretName(name) && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
			out[i] = a
			i++
			a = Redacted
		case strings.ContainsAny(a, " \t"):
			a = redactFlagsInText(a)
		}
		out[i] = a
	}
	return out
}

// redactFlagsInText redacts the values of secret-looking flags inside one
// shell command line or recorded exec form.
func redactFlagsInText(s string) string {
	for _, re := range []*regexp.Regexp{flagInText, flagInJSON} {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			sub := re.FindStringSubmatch(m)
			name, _ := flagName(sub[1])
			if !SecretName(name) || sub[3] == Redacted {
				return m
			}
			return sub[1] + sub[2] + Redacted
		})
	}
	return s
}
