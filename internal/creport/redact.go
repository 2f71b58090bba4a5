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
