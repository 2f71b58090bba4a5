// Package privtest gates tests that need root and real kernel or daemon
// features. On a developer's laptop such a test skips with the reason; where
// SLIMTRACE_TEST_PRIVILEGED=1 (CI sets it) a missing requirement fails the
// test instead, so CI can never go green on skipped tests.
//
// Tests that call these helpers live in *_priv_test.go files: make test (and CI, as an
// unprivileged user) fails when a test defined in any other file skips.
//
// Tests only; it may import internal/tartest and the standard library, and
// runs the real tools (dockerd, docker-registry, skopeo) it gates on.
package privtest
