package cgroup

import (
	"strings"
	"testing"
)

func TestCgroupParsing(t *testing.T) {
	p, err := cgroup2Path(strings.NewReader("4:memory:/x\n0::/default/slimtrace-1\n"))
	if err != nil || p != "/default/slimtrace-1" {
		t.Errorf("cgroup2Path = %q, %v", p, err)
	}
	if _, err := cgroup2Path(strings.NewReader("4:memory:/x\n")); err == nil {
		t.Error("no 0:: line: no error")
	}
}
