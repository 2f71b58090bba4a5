package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunExec(t *testing.T) {
	tests := []struct {
		name     string
		opts     ExecOptions
		wantCode int
		wantOut  []string
		wantErr  string // empty: success
	}{
		{
			name:     "success",
			opts:     ExecOptions{Command: "echo hello; echo world >&2"},
			wantCode: 0,
			wantOut:  []string{"hello", "world"},
		},
		{
			name: "environment",
			opts: ExecOptions{
				Command: `echo "$SLIMTRACE_TARGET_HOST|$SLIMTRACE_TARGET_PORTS|$SLIMTRACE_TARGET_PORT|$SLIMTRACE_NETNS|$EXTRA"`,
				Host:    "127.0.0.1", Ports: []int{8080, 8443}, NetNS: "/proc/42/ns/net", Env: []string{"EXTRA=x"},
			},
			wantOut: []string{"127.0.0.1|8080,8443|8080|/proc/42/ns/net|x"},
		},
		{
			name:    "inherited values do not leak",
			opts:    ExecOptions{Command: `echo "[$SLIMTRACE_NETNS][$SLIMTRACE_TARGET_PORT]"`},
			wantOut: []string{"[][]"},
		},
		{
			name:     "failure",
			opts:     ExecOptions{Command: "echo partial; echo broken >&2; exit 3"},
			wantCode: 3,
			wantOut:  []string{"partial", "broken"},
			wantErr:  `exec probe "echo partial; echo broken >&2; exit 3" failed: exit status 3`,
		},
		{
			name:     "last lines kept",
			opts:     ExecOptions{Command: `i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done; printf 'no newline'`, KeepLines: 3},
			wantOut:  []string{"line 99", "line 100", "no newline"},
			wantCode: 0,
		},
		{
			name:     "command not found",
			opts:     ExecOptions{Command: "slimtrace-no-such-command-here"},
			wantCode: 127,
			wantErr:  "exit status 127",
		},
	}
	t.Setenv(EnvNetNS, "/leaked")
	t.Setenv(EnvTargetPort, "1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := RunExec(t.Context(), tt.opts)
			if res == nil {
				t.Fatalf("RunExec returned no result: %v", err)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if err != nil && res.Error != err.Error() {
				t.Errorf("result error %q, want %q", res.Error, err)
			}
			if res.ExitCode != tt.wantCode {
				t.Errorf("exit code %d, want %d", res.ExitCode, tt.wantCode)
			}
			if tt.wantOut != nil && !slices.Equal(res.Output, tt.wantOut) {
				t.Errorf("output %q, want %q", res.Output, tt.wantOut)
			}
			if res.Command != tt.opts.Command || res.Duration <= 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestRunExecReachesTarget(t *testing.T) {
	// The command finds the target through its environment; a real server
	// proves it got there. (No curl needed: the test binary is the client.)
	s := newSite(t, false, echo)
	_, port, _ := strings.Cut(s.addr(), ":")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := fmt.Sprintf(`'%s'`, exe)
	res, err := RunExec(t.Context(), ExecOptions{
		Command: cmd, Host: "127.0.0.1", Ports: []int{mustAtoi(t, port)},
		Env: []string{execHelperEnv + "=1"},
	})
	if err != nil {
		t.Fatalf("%v, output %q", err, res.Output)
	}
	if got := s.requests(); !slices.Equal(got, []string{"GET /from-exec"}) {
		t.Errorf("server got %q", got)
	}
}

// TestMain doubles as the exec probe of TestRunExecReachesTarget: with
// execHelperEnv set, the test binary GETs /from-exec on the target its
// environment names, and exits.
func TestMain(m *testing.M) {
	if os.Getenv(execHelperEnv) == "1" {
		url := fmt.Sprintf("http://%s:%s/from-exec", os.Getenv(EnvTargetHost), os.Getenv(EnvTargetPort))
		resp, err := http.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		resp.Body.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const execHelperEnv = "SLIMTRACE_TEST_EXEC_HELPER"

func TestRunExecCancel(t *testing.T) {
	// The shell starts a child that holds the output open: cancelling must
	// kill both, at once.
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	var cancelled time.Time
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancelled = time.Now()
		cancel()
	}()
	res, err := RunExec(ctx, ExecOptions{Command: "sleep 30 & echo started; touch ready; sleep 30", Dir: dir})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(cancelled); elapsed > 200*time.Millisecond {
		t.Errorf("stopped %s after the cancel, want at once", elapsed)
	}
	if res.ExitCode != -1 || res.Signal != "killed" || !slices.Equal(res.Output, []string{"started"}) {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(res.Error, "stopped: context canceled") {
		t.Errorf("result error %q", res.Error)
	}
}

func TestRunExecDir(t *testing.T) {
	dir := t.TempDir()
	res, err := RunExec(t.Context(), ExecOptions{Command: "pwd", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(dir)
	if len(res.Output) != 1 || res.Output[0] != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
}

func TestRunExecNoCommand(t *testing.T) {
	if _, err := RunExec(t.Context(), ExecOptions{Command: "  "}); err == nil {
		t.Fatal("RunExec ran an empty command")
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
