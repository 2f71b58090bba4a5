package image

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHelper puts docker-credential-NAME on PATH: it answers for server
// with user and secret, and says "credentials not found" for any other.
func fakeHelper(t *testing.T, name, server, user, secret string) {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
if [ "$server" = '` + server + `' ]; then
	printf '{"ServerURL":"%s","Username":"` + user + `","Secret":"` + secret + `"}\n' "$server"
	exit 0
fi
echo "credentials not found in native keychain"
exit 1
`
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDockerConfigLookup(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		config string
		host   string
		helper func(t *testing.T)
		user   string
		secret string
		err    string
	}{
		{name: "auth base64", host: "reg.example:5000",
			config: `{"auths":{"reg.example:5000":{"auth":"` + b64("ci:s3cret:with:colons") + `"}}}`,
			user:   "ci", secret: "s3cret:with:colons"},
		{name: "username and password, https key", host: "reg.example",
			config: `{"auths":{"https://reg.example":{"username":"ci","password":"pw"}}}`,
			user:   "ci", secret: "pw"},
		{name: "url key with path", host: "reg.example:5000",
			config: `{"auths":{"http://reg.example:5000/v2/":{"auth":"` + b64("a:b") + `"}}}`,
			user:   "a", secret: "b"},
		{name: "identity token", host: "reg.example",
			config: `{"auths":{"reg.example":{"auth":"` + b64("<token>:") + `","identitytoken":"refresh"}}}`,
			user:   "", secret: "refresh"},
		{name: "docker hub key", host: "docker.io",
			config: `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("hub:pw") + `"}}}`,
			user:   "hub", secret: "pw"},
		{name: "other host is anonymous", host: "other.example",
			config: `{"auths":{"reg.example":{"auth":"` + b64("a:b") + `"}}}`},
		{name: "port matters", host: "reg.example:5001",
			config: `{"auths":{"reg.example:5000":{"auth":"` + b64("a:b") + `"}}}`},
		{name: "bad auth", host: "reg.example",
			config: `{"auths":{"reg.example":{"auth":"` + b64("nocolon") + `"}}}`,
			err:    "user:password"},
		{name: "credHelpers per host", host: "reg.example:5000",
			config: `{"credHelpers":{"reg.example:5000":"slimtracefake"},"auths":{"reg.example:5000":{"auth":"` + b64("file:pw") + `"}}}`,
			helper: func(t *testing.T) { fakeHelper(t, "slimtracefake", "reg.example:5000", "helper", "hs") },
			user:   "helper", secret: "hs"},
		{name: "credsStore, docker hub", host: "docker.io",
			config: `{"credsStore":"slimtracefake"}`,
			helper: func(t *testing.T) { fakeHelper(t, "slimtracefake", "https://index.docker.io/v1/", "hub", "hs") },
			user:   "hub", secret: "hs"},
		{name: "helper token", host: "reg.example",
			config: `{"credsStore":"slimtracefake"}`,
			helper: func(t *testing.T) { fakeHelper(t, "slimtracefake", "reg.example", "<token>", "idt") },
			user:   "", secret: "idt"},
		{name: "helper has none, auths has", host: "reg.example",
			config: `{"credsStore":"slimtracefake","auths":{"reg.example":{"auth":"` + b64("file:pw") + `"}}}`,
			helper: func(t *testing.T) { fakeHelper(t, "slimtracefake", "elsewhere", "x", "y") },
			user:   "file", secret: "pw"},
		{name: "helper missing", host: "reg.example",
			config: `{"credsStore":"slimtrace-no-such-helper"}`,
			err:    "docker-credential-slimtrace-no-such-helper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.helper != nil {
				tt.helper(t)
			}
			cfg, err := loadDockerConfig(writeConfig(t, tt.config))
			if err != nil {
				t.Fatal(err)
			}
			cr, err := cfg.lookup(tt.host)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cr.user != tt.user || cr.secret != tt.secret {
				t.Errorf("got %q/%q, want %q/%q", cr.user, cr.secret, tt.user, tt.secret)
			}
		})
	}
}

func TestDockerConfigPath(t *testing.T) {
	t.Run("explicit file must exist", func(t *testing.T) {
		_, err := loadDockerConfig(filepath.Join(t.TempDir(), "nope.json"))
		if err == nil {
			t.Fatal("no error for a missing --registry-auth file")
		}
	})
	t.Run("DOCKER_CONFIG", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"r.example":{"username":"u","password":"p"}}}`), 0o600)
		t.Setenv("DOCKER_CONFIG", dir)
		cfg, err := loadDockerConfig("")
		if err != nil {
			t.Fatal(err)
		}
		if cr, _ := cfg.lookup("r.example"); cr.user != "u" {
			t.Errorf("user %q, want u", cr.user)
		}
	})
	t.Run("default missing is anonymous", func(t *testing.T) {
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		cfg, err := loadDockerConfig("")
		if err != nil {
			t.Fatal(err)
		}
		if cr, err := cfg.lookup("r.example"); err != nil || cr.secret != "" {
			t.Errorf("got %+v %v, want nothing", cr, err)
		}
	})
}
