package privtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerCLI is Debian's docker.io client (20.10), which speaks the API of
// the dockerd below; another docker on PATH may be newer than it accepts.
const dockerCLI = "/usr/bin/docker"

// Dockerd starts a real Docker Engine (Debian's dockerd) for the test, with
// its own data root, exec root and socket in a temporary directory, no
// bridge and no iptables rules (--bridge=none --iptables=false), and stops
// it when the test ends. It returns the daemon's address, unix://PATH. It
// skips (fails, under Strict) without root or dockerd.
func Dockerd(t testing.TB) string {
	t.Helper()
	Root(t)
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		Skip(t, "dockerd is not installed (apt-get install docker.io)")
	}
	if _, err := os.Stat(dockerCLI); err != nil {
		Skip(t, dockerCLI+" is not installed (apt-get install docker.io)")
	}
	// A short path: the socket's must fit in sun_path.
	dir, err := os.MkdirTemp("", "stdockerd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "--host", "unix://"+sock,
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dockerd: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("dockerd log:\n%s", tail(string(b), 40))
			}
		}
		// The data root holds overlay mounts until dockerd is gone.
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("removing dockerd's directory: %v", err)
		}
	})
	host := "unix://" + sock
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := Docker(t, host, "version", "--format", "{{.Server.Version}}"); err == nil {
			return host
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("dockerd exited: %v\n%s", err, tail(string(b), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("dockerd did not answer within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Docker runs Debian's docker client against host and returns its output.
func Docker(t testing.TB, host string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"--host", host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
