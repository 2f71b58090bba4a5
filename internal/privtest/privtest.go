// Package privtest gates tests that need root and real kernel or daemon
// features. On a developer's laptop such a test skips with the reason; where
// SLIMTRACE_TEST_PRIVILEGED=1 (CI sets it) a missing requirement fails the
// test instead, so CI can never go green on skipped tests.
package privtest

import (
	"os"
	"testing"
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
