package privtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a docker-registry (distribution) serving on 127.0.0.1 for the
// length of a test, its storage in a temporary directory.
type Registry struct {
	// Host is 127.0.0.1:PORT, as image names carry it.
	Host string
	// Storage is the registry's storage directory (filesystem driver).
	Storage string
	// TLS registries only: CAFile is the PEM of the test CA that signed the
	// server's certificate (for 127.0.0.1, ::1 and localhost); CertDir
	// holds it as ca.crt, for skopeo's --cert-dir; User and Password are
	// the only credentials htpasswd auth accepts.
	CAFile, CertDir string
	User, Password  string
}

// TLS reports whether the registry serves HTTPS with basic auth.
func (r *Registry) TLS() bool { return r.CAFile != "" }

// StartRegistry starts a registry over plain HTTP without auth, or skips
// (fails, under Strict) when docker-registry is not installed.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	return startRegistry(t, false)
}

// StartTLSRegistry starts a registry over HTTPS, with a certificate from a
// CA made for the test, and htpasswd basic auth.
func StartTLSRegistry(t testing.TB) *Registry {
	t.Helper()
	return startRegistry(t, true)
}

func startRegistry(t testing.TB, secure bool) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		Skip(t, "docker-registry is not installed (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	port := FreePort(t)
	reg := &Registry{Host: fmt.Sprintf("127.0.0.1:%d", port), Storage: filepath.Join(dir, "storage")}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: slimtrace-test
`, reg.Storage, reg.Host)
	if secure {
		certFile, keyFile := reg.makeCerts(t, dir)
		reg.User, reg.Password = "slimtrace", "test-"+randomHex(t)
		hash, err := bcrypt.GenerateFromPassword([]byte(reg.Password), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		writeFile(t, htpasswd, []byte(reg.User+":"+string(hash)+"\n"))
		cfg += fmt.Sprintf(`  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: slimtrace-test
    path: %s
`, certFile, keyFile, htpasswd)
	}
	cfgFile := filepath.Join(dir, "config.yml")
	writeFile(t, cfgFile, []byte(cfg))

	var out bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgFile)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("docker-registry output:\n%s", out.String())
		}
	})
	reg.waitReady(t, exited, &out)
	return reg
}

// waitReady polls /v2/ until the registry answers.
func (r *Registry) waitReady(t testing.TB, exited <-chan struct{}, out *bytes.Buffer) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	scheme := "http"
	if r.TLS() {
		scheme = "https"
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("docker-registry exited:\n%s", out.String())
		default:
		}
		resp, err := client.Get(scheme + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry at %s does not answer: %v\n%s", r.Host, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Push copies the docker-archive archive into the registry as repo:tag
// (app:1) with skopeo, and returns the pushed name (127.0.0.1:PORT/app:1).
func (r *Registry) Push(t testing.TB, archive, repoTag string) string {
	t.Helper()
	ref := r.Host + "/" + repoTag
	args := []string{"copy", "--quiet"}
	if r.TLS() {
		args = append(args, "--dest-cert-dir", r.CertDir, "--dest-creds", r.User+":"+r.Password)
	} else {
		args = append(args, "--dest-tls-verify=false")
	}
	args = append(args, "docker-archive:"+archive, "docker://"+ref)
	r.skopeo(t, args...)
	return ref
}

// Inspect returns skopeo inspect's JSON for ref (127.0.0.1:PORT/app:1) in
// the registry, or its error.
func (r *Registry) Inspect(t testing.TB, ref string) ([]byte, error) {
	t.Helper()
	args := []string{"inspect"}
	if r.TLS() {
		args = append(args, "--cert-dir", r.CertDir, "--creds", r.User+":"+r.Password)
	} else {
		args = append(args, "--tls-verify=false")
	}
	return r.skopeoOutput(t, append(args, "docker://"+ref)...)
}

func (r *Registry) skopeo(t testing.TB, args ...string) {
	t.Helper()
	if _, err := r.skopeoOutput(t, args...); err != nil {
		t.Fatal(err)
	}
}

func (r *Registry) skopeoOutput(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("skopeo"); err != nil {
		Skip(t, "skopeo is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "skopeo", args...)
	cmd.Stderr = &stderr
	// Keep skopeo away from the user's registries.conf and auth files.
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("skopeo %s: %w: %s", args[0], err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// makeCerts writes a CA (r.CAFile, and r.CertDir/ca.crt) and a server
// certificate and key it signed, for 127.0.0.1, ::1 and localhost.
func (r *Registry) makeCerts(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "slimtrace test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	r.CAFile = filepath.Join(dir, "ca.pem")
	writeFile(t, r.CAFile, caPEM)
	r.CertDir = filepath.Join(dir, "certs.d")
	if err := os.Mkdir(r.CertDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(r.CertDir, "ca.crt"), caPEM)
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func writeFile(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
