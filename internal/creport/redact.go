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
// history of an image (its build steps' commands) and Dockerfile.fat.
func RedactText(s string) string {
	s = assignment.ReplaceAllStringFunc(s, func(m string) string {
		name, _, _ := strings.Cut(m, "=")
		if SecretName(name) {
			return name + "=" + Redacted
		}
		return m
	})
	return legacyEnv.ReplaceAllStringFunc(s, func(m string) string {
		sub := legacyEnv.FindStringSubmatch(m)
		if SecretName(sub[1]) {
			return strings.TrimSuffix(m, sub[2]) + Redacted
		}
		return m
	})
}
