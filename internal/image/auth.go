package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// dockerHubAuthKey is the key the Docker CLI stores Docker Hub's
// credentials under, and what it asks credential helpers for.
const dockerHubAuthKey = "https://index.docker.io/v1/"

// dockerConfig is the part of a Docker config file (config.json) that holds
// registry credentials.
type dockerConfig struct {
	Auths       map[string]dockerAuth `json:"auths"`
	CredsStore  string                `json:"credsStore"`
	CredHelpers map[string]string     `json:"credHelpers"`

	// path is where the file was read from, for errors and logs.
	path string
}

// dockerAuth is one entry of a Docker config file's auths.
type dockerAuth struct {
	Auth          string `json:"auth"` // base64 of user:password
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// credentials are what a registry gets: a user and password, or an
// identity (refresh) token with an empty user, or nothing (anonymous).
type credentials struct {
	user, secret string
	// from says where they came from: the config file or a helper.
	from string
}

// dockerConfigPath is the Docker config file to read credentials from:
// path if set, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
// explicit says the user named it, so that it must exist.
func dockerConfigPath(path string) (p string, explicit bool) {
	if path != "" {
		return path, true
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), false
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".docker", "config.json"), false
}

// loadDockerConfig reads the Docker config file (see dockerConfigPath). A
// default file that does not exist is an empty config: no credentials.
func loadDockerConfig(path string) (*dockerConfig, error) {
	p, explicit := dockerConfigPath(path)
	cfg := &dockerConfig{path: p}
	if p == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry credentials: %w", err)
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("reading registry credentials from %s: %w", p, err)
	}
	return cfg, nil
}

// lookup returns the credentials for registry host (as in an image name:
// docker.io, 127.0.0.1:5000), as the Docker CLI finds them: its credHelpers
// entry, else credsStore, run as docker-credential-NAME; then the auths
// entry, whose key may be the host, a URL of it or, for Docker Hub,
// https://index.docker.io/v1/. No credentials is not an error.
func (c *dockerConfig) lookup(host string) (credentials, error) {
	key := host
	if isDockerHub(host) {
		key = dockerHubAuthKey
	}
	helper := c.CredHelpers[host]
	if helper == "" && isDockerHub(host) {
		helper = c.CredHelpers[dockerHubAuthKey]
	}
	if helper == "" {
		helper = c.CredsStore
	}
	if helper != "" {
		cr, ok, err := runCredentialHelper(helper, key)
		if err != nil || ok {
			return cr, err
		}
	}
	for k, a := range c.Auths {
		if authKeyHost(k) != authKeyHost(key) {
			continue
		}
		cr, err := a.credentials()
		if err != nil {
			return credentials{}, fmt.Errorf("registry credentials for %s in %s: %w", host, c.path, err)
		}
		cr.from = c.path
		return cr, nil
	}
	return credentials{}, nil
}

// credentials decodes an auths entry.
func (a dockerAuth) credentials() (credentials, error) {
	user, pass := a.Username, a.Password
	if a.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Auth))
		if err != nil {
			return credentials{}, fmt.Errorf("decoding auth: %w", err)
		}
		var ok bool
		if user, pass, ok = strings.Cut(string(b), ":"); !ok {
			return credentials{}, errors.New(`auth is not base64 of "user:password"`)
		}
	}
	if a.IdentityToken != "" {
		return credentials{secret: a.IdentityToken}, nil
	}
	return credentials{user: user, secret: pass}, nil
}

// isDockerHub reports whether host is Docker Hub, by any of its names.
func isDockerHub(host string) bool {
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return true
	}
	return false
}

// authKeyHost is the registry an auths key stands for, as the Docker CLI
// matches them: the scheme and any path are dropped, and Docker Hub's
// names are one.
func authKeyHost(key string) string {
	h := key
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	h, _, _ = strings.Cut(h, "/")
	if isDockerHub(h) {
		return "docker.io"
	}
	return h
}

// helperTimeout bounds a credential helper's run (one may wait for a
// keyring that never unlocks).
const helperTimeout = time.Minute

// runCredentialHelper asks docker-credential-NAME for server's credentials,
// as the Docker CLI does: the server on stdin, {"Username","Secret"} on
// stdout, the user "<token>" meaning the secret is an identity token. ok is
// false when the helper has none.
func runCredentialHelper(name, server string) (_ credentials, ok bool, err error) {
	prog := "docker-credential-" + name
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, "get")
	cmd.Stdin = strings.NewReader(server)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stdout.String() + " " + stderr.String())
		if strings.Contains(strings.ToLower(msg), "credentials not found") {
			return credentials{}, false, nil
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return credentials{}, false, fmt.Errorf("credential helper %s for %s: %w", prog, server, err)
	}
	var out struct{ Username, Secret string }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return credentials{}, false, fmt.Errorf("credential helper %s for %s: decoding its answer: %w", prog, server, err)
	}
	cr := credentials{user: out.Username, secret: out.Secret, from: prog}
	if cr.user == "<token>" {
		cr.user = ""
	}
	return cr, cr.secret != "", nil
}
