package image

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRegistryHosts(t *testing.T) {
	r := &Store{opts: Options{InsecureRegistries: []string{"reg.lan:5000", "http://plain.lan", "10.1.0.0/16"}}}
	hosts := r.registryHosts(context.Background(), &dockerConfig{})
	tests := []struct {
		host       string
		endpoint   string
		fallback   bool // may fall back to plain HTTP
		skipVerify bool
	}{
		{host: "docker.io", endpoint: "registry-1.docker.io"},
		{host: "ghcr.io", endpoint: "ghcr.io"},
		{host: "127.0.0.1:5000", endpoint: "127.0.0.1:5000", fallback: true},
		{host: "127.1.2.3", endpoint: "127.1.2.3", fallback: true},
		{host: "localhost:5000", endpoint: "localhost:5000", fallback: true},
		{host: "[::1]:5000", endpoint: "[::1]:5000", fallback: true},
		{host: "reg.lan:5000", endpoint: "reg.lan:5000", fallback: true, skipVerify: true},
		{host: "reg.lan:5001", endpoint: "reg.lan:5001"},
		{host: "plain.lan", endpoint: "plain.lan", fallback: true, skipVerify: true},
		{host: "10.1.2.3:443", endpoint: "10.1.2.3:443", fallback: true, skipVerify: true},
		{host: "10.2.0.1", endpoint: "10.2.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			hs, err := hosts(tt.host)
			if err != nil || len(hs) != 1 {
				t.Fatalf("%v %v", hs, err)
			}
			h := hs[0]
			if h.Host != tt.endpoint || h.Scheme != "https" || h.Path != "/v2" {
				t.Errorf("endpoint %s://%s%s, want https://%s/v2", h.Scheme, h.Host, h.Path, tt.endpoint)
			}
			if !h.Capabilities.Has(docker.HostCapabilityPull | docker.HostCapabilityResolve | docker.HostCapabilityPush) {
				t.Errorf("capabilities %b", h.Capabilities)
			}
			if _, plain := h.Client.Transport.(*http.Transport); plain == tt.fallback {
				t.Errorf("falls back to HTTP: %v, want %v", !plain, tt.fallback)
			}
			if tr, _ := r.transport(tt.host); tr.TLSClientConfig.InsecureSkipVerify != tt.skipVerify {
				t.Errorf("skips certificate checks: %v, want %v", tr.TLSClientConfig.InsecureSkipVerify, tt.skipVerify)
			}
			if tr, _ := r.transport(tt.host); tr.TLSClientConfig.RootCAs != nil {
				t.Error("not the system's CAs")
			}
			if again, _ := hosts(tt.host); again[0].Authorizer != h.Authorizer {
				t.Error("a second request sets the registry up again")
			}
		})
	}
}

// TestRegistryBearerAuth resolves a name against a registry that wants a
// bearer token from its token server, which takes the credentials of the
// Docker config: a password, or an identity token.
func TestRegistryBearerAuth(t *testing.T) {
	const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`
	dgst := digest.FromString(manifest)
	var (
		mu         sync.Mutex
		tokenForms []url.Values
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/token":
			req.ParseForm()
			mu.Lock()
			tokenForms = append(tokenForms, req.PostForm)
			mu.Unlock()
			ok := req.PostForm.Get("username") == "ci" && req.PostForm.Get("password") == "pw" ||
				req.PostForm.Get("refresh_token") == "idt"
			if req.Method != http.MethodPost || !ok {
				http.Error(w, "denied", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"tok","expires_in":300}`))
		case req.Header.Get("Authorization") != "Bearer tok":
			w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+req.Host+`/token",service="test",scope="repository:app:pull"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case req.URL.Path == "/v2/app/manifests/1":
			w.Header().Set("Content-Type", ocispec.MediaTypeImageManifest)
			w.Header().Set("Docker-Content-Digest", dgst.String())
			w.Header().Set("Content-Length", strconv.Itoa(len(manifest)))
			if req.Method == http.MethodGet {
				w.Write([]byte(manifest))
			}
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name, auth string
		ok         bool
	}{
		{"password", `{"username":"ci","password":"pw"}`, true},
		{"identity token", `{"identitytoken":"idt"}`, true},
		{"wrong password", `{"username":"ci","password":"nope"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			tokenForms = nil
			mu.Unlock()
			cfg := writeConfig(t, `{"auths":{"`+host+`":`+tt.auth+`}}`)
			r := &Store{opts: Options{RegistryAuth: cfg}}
			ctx := withContainerdLog(context.Background())
			res, err := r.resolver(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, desc, err := res.Resolve(ctx, host+"/app:1")
			if !tt.ok {
				if err == nil {
					t.Fatal("resolved with wrong credentials")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest != dgst {
				t.Errorf("digest %s, want %s", desc.Digest, dgst)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(tokenForms) == 0 || tokenForms[0].Get("scope") != "repository:app:pull" {
				t.Errorf("token requests %v, want one for repository:app:pull", tokenForms)
			}
		})
	}
}
