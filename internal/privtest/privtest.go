package privtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Strict reports whether a missing requirement must fail rather than skip.
func Strict() bool { return os.Getenv("SLIMTRACE_TEST_PRIVILEGED") == "1" }

// Skip skips the test with reason, or fails it under Strict.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("required for this test (SLIMTRACE_TEST_PRIVILEGED=1): %s", reason)
	}
	t.Skip(reason)
}

// Root skips (or fails, under Strict) unless the test runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root")
	}
}

// ContainerdAddress returns the test containerd's socket
// ($CONTAINERD_ADDRESS, set by `make services`), or skips (fails, under
// Strict) when there is none. It checks Root first.
func ContainerdAddress(t testing.TB) string {
	t.Helper()
	Root(t)
	addr := os.Getenv("CONTAINERD_ADDRESS")
	if addr == "" {
		Skip(t, "CONTAINERD_ADDRESS is not set (make services)")
	}
	return addr
}

// Fixture returns the path of fixture image NAME's docker-archive,
// $SLIMTRACE_FIXTURES/NAME.tar (default /var/cache/slimtrace/fixtures), or
// skips (fails, under Strict) when it has not been built (make fixtures).
func Fixture(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("SLIMTRACE_FIXTURES")
	if dir == "" {
		dir = "/var/cache/slimtrace/fixtures"
	}
	p := filepath.Join(dir, name+".tar")
	if _, err := os.Stat(p); err != nil {
		Skip(t, "fixture "+p+" is missing (make fixtures)")
	}
	return p
}

// Context is a test's context: a deadline of d, and a zerolog logger at
// debug level writing to the test's log.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel).WithContext(ctx)
}
