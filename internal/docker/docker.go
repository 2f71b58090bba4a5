package docker

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options say how to reach Docker Engine, with the predecessor's
// flags and Docker's own variables: --host/DOCKER_HOST, --tls,
// --tls-verify/DOCKER_TLS_VERIFY, --tls-cert-path/DOCKER_CERT_PATH and
// DOCKER_CONTEXT. A remote Docker is a source and a target of images only:
// the application always runs here, under containerd.
type Options struct {
	// Host is unix:///PATH or tcp://HOST:PORT; default $DOCKER_HOST, the
	// current context's endpoint ($DOCKER_CONTEXT, or the Docker CLI
	// config's currentContext), else DefaultDockerHost.
	Host string
	// TLS connects over TLS; TLSVerify also checks the daemon's certificate
	// against CertPath's ca.pem (nil: set when $DOCKER_TLS_VERIFY is).
	// CertPath holds ca.pem, cert.pem and key.pem (default
	// $DOCKER_CERT_PATH, else ~/.docker).
	TLS       bool
	TLSVerify *bool
	CertPath  string
}

// WithDefaults fills in the defaults and Docker's environment variables.
func (o Options) WithDefaults() Options {
	if o.Host == "" {
		o.Host = os.Getenv("DOCKER_HOST")
	}
	if o.Host == "" {
		o.Host = contextHost()
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if o.TLSVerify == nil {
		v := os.Getenv("DOCKER_TLS_VERIFY")
		verify := v != "" && v != "0"
		o.TLSVerify = &verify
	}
	if o.CertPath == "" {
		o.CertPath = os.Getenv("DOCKER_CERT_PATH")
	}
	if o.CertPath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			o.CertPath = filepath.Join(home, ".docker")
		}
	}
	o.TLS = o.TLS || *o.TLSVerify
	return o
}

// contextHost is the Docker endpoint of the current Docker CLI context
// ($DOCKER_CONTEXT, else config.json's currentContext), or "" for the
// default context.
func contextHost() string {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".docker")
	}
	name := os.Getenv("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct{ CurrentContext string }
		if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			_ = json.Unmarshal(b, &cfg)
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return ""
	}
	sum := sha256.Sum256([]byte(name))
	var meta struct {
		Endpoints map[string]struct{ Host string }
	}
	b, err := os.ReadFile(filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json"))
	if err != nil || json.Unmarshal(b, &meta) != nil {
		return ""
	}
	return meta.Endpoints["docker"].Host
}

// DefaultHost is where Docker Engine listens unless told otherwise.
const DefaultHost = "unix:///var/run/docker.sock"

// Client speaks the few calls of Docker Engine's API slimtrace needs:
// inspecting images and containers, export (GET /images/get), load (POST
// /images/load) and untag. They are the same for the classic store and
// Docker 29's containerd image store.
type Client struct {
	host string
	base url.URL
	http *http.Client
}

// New returns a client for the Docker Engine o names (defaults filled in);
// it does not connect yet.
func New(o Options) (*Client, error) {
	o = o.WithDefaults()
	u, err := url.Parse(o.Host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", o.Host, err)
	}
	tr := &http.Transport{ResponseHeaderTimeout: time.Minute}
	c := &Client{host: o.Host, base: url.URL{Scheme: "http"}, http: &http.Client{Transport: tr}}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}
		c.base.Host = "docker"
	case "tcp", "http", "https":
		c.base.Host = u.Host
		// A stale DOCKER_HOST should not hold a lookup for the OS's
		// connect timeout (minutes).
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
		if o.TLS || u.Scheme == "https" {
			cfg, err := dockerTLS(o)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
			c.base.Scheme = "https"
		}
	default:
		return nil, fmt.Errorf("docker host %q: want unix:///PATH or tcp://HOST:PORT", o.Host)
	}
	return c, nil
}

// dockerTLS is the client side of Docker's TLS: cert.pem and key.pem from
// CertPath when present, and with TLSVerify the daemon checked against
// CertPath's ca.pem.
func dockerTLS(o Options) (*tls.Config, error) {
	verify := o.TLSVerify != nil && *o.TLSVerify
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify} //nolint:gosec // --tls without --tls-verify, as docker
	cert, key := filepath.Join(o.CertPath, "cert.pem"), filepath.Join(o.CertPath, "key.pem")
	if _, err := os.Stat(cert); err == nil {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("docker TLS client certificate in %s: %w", o.CertPath, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if verify {
		ca, err := os.ReadFile(filepath.Join(o.CertPath, "ca.pem"))
		if err != nil {
			return nil, fmt.Errorf("docker TLS: --tls-verify needs ca.pem in %s: %w", o.CertPath, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("docker TLS: no certificate in %s", filepath.Join(o.CertPath, "ca.pem"))
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// ErrUnreachable means nothing answered at the Docker host.
var ErrUnreachable = errors.New("docker engine unreachable")

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Response, error) {
	u := c.base
	u.Path, u.RawQuery = path, query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-tar")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.host, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return resp, fmt.Errorf("docker engine at %s: %s %s: %s", c.host, method, path, apiMessage(resp))
	}
	return resp, nil
}

func apiMessage(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var msg struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
		msg.Message = strings.TrimSpace(string(b))
	}
	return msg.Message + " (" + resp.Status + ")"
}

// Host is the daemon's address.
func (c *Client) Host() string { return c.host }

// InspectImage returns the image ID Docker has for name, ok false when it
// has no such image.
func (c *Client) InspectImage(ctx context.Context, name string) (id string, ok bool, err error) {
	resp, err := c.do(ctx, http.MethodGet, "/images/"+name+"/json", nil, nil)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	var img struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil {
		return "", false, fmt.Errorf("docker engine at %s: inspecting %s: %w", c.host, name, err)
	}
	return img.ID, true, nil
}

// Export returns a docker-archive of the image name.
func (c *Client) Export(ctx context.Context, name string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, "/images/get", url.Values{"names": {name}}, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Load loads a docker-archive into Docker (what `docker load` does) and
// returns what Docker said it loaded.
func (c *Client) Load(ctx context.Context, archive io.Reader) ([]string, error) {
	resp, err := c.do(ctx, http.MethodPost, "/images/load", url.Values{"quiet": {"1"}}, archive)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var loaded []string
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Stream      string
			Error       string
			ErrorDetail struct{ Message string }
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return loaded, fmt.Errorf("docker engine at %s: loading: %w", c.host, err)
		}
		if m.Error != "" {
			return loaded, fmt.Errorf("docker engine at %s: loading: %s", c.host, m.Error)
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			loaded = append(loaded, s)
		}
	}
	return loaded, nil
}

// RemoveImage deletes the tag name from Docker (not the image's other
// tags).
func (c *Client) RemoveImage(ctx context.Context, name string) error {
	resp, err := c.do(ctx, http.MethodDelete, "/images/"+name, url.Values{"noprune": {"1"}}, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Container is what InspectContainer tells of a running container.
type Container struct {
	ID, Name string
	// Pid is its init process on the host (0 when it is not running).
	Pid     int
	Running bool
	// Image is the image it was created from, as it was named.
	Image string
	// IPs are its addresses on Docker's networks.
	IPs []string
}

// InspectContainer looks a container up by name or ID.
func (c *Client) InspectContainer(ctx context.Context, name string) (Container, error) {
	resp, err := c.do(ctx, http.MethodGet, "/containers/"+name+"/json", nil, nil)
	if err != nil {
		return Container{}, err
	}
	defer resp.Body.Close()
	var j struct {
		ID    string `json:"Id"`
		Name  string
		State struct {
			Running bool
			Pid     int
		}
		Config          struct{ Image string }
		NetworkSettings struct {
			IPAddress string
			Networks  map[string]struct{ IPAddress string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
		return Container{}, fmt.Errorf("docker engine at %s: inspecting container %s: %w", c.host, name, err)
	}
	out := Container{ID: j.ID, Name: strings.TrimPrefix(j.Name, "/"), Pid: j.State.Pid, Running: j.State.Running,
		Image: j.Config.Image}
	for _, ip := range append([]string{j.NetworkSettings.IPAddress}, func() []string {
		var ips []string
		for _, n := range j.NetworkSettings.Networks {
			ips = append(ips, n.IPAddress)
		}
		return ips
	}()...) {
		if ip != "" && !slices.Contains(out.IPs, ip) {
			out.IPs = append(out.IPs, ip)
		}
	}
	return out, nil
}
