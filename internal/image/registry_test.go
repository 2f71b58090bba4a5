package image

import (
	"context"
	"net/http"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
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
