package creport

import (
	"slices"
	"testing"
)

func TestRedactEnv(t *testing.T) {
	in := []string{"PATH=/bin", "API_TOKEN=abc123", "db_password=hunter2", "AWS_SECRET_ACCESS_KEY=k", "GITHUB_AUTH=x",
		"MY_PASSWD=p", "CREDENTIALS_FILE=/c", "LANG=C.UTF-8", "EMPTY_TOKEN=", "NOVALUE"}
	want := []string{"PATH=/bin", "API_TOKEN=<redacted>", "db_password=<redacted>", "AWS_SECRET_ACCESS_KEY=<redacted>",
		"GITHUB_AUTH=<redacted>", "MY_PASSWD=<redacted>", "CREDENTIALS_FILE=<redacted>", "LANG=C.UTF-8",
		"EMPTY_TOKEN=<redacted>", "NOVALUE"}
	if got := RedactEnv(in); !slices.Equal(got, want) {
		t.Errorf("RedactEnv:\n got %q\nwant %q", got, want)
	}
	if in[1] != "API_TOKEN=abc123" {
		t.Error("RedactEnv changed its input")
	}
}
