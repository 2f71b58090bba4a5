package session

import "testing"

// TestNames: every form users type, normalised as Docker does, for the
// slim image's default name and the artifacts' short name.
func TestNames(t *testing.T) {
	const digest = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	for _, c := range []struct {
		in, slim, artifact string
	}{
		{"app", "docker.io/library/app.slim:latest", "app"},
		{"app:1", "docker.io/library/app.slim:1", "app"},
		{"my/app:slim", "docker.io/my/app.slim:slim", "app"},
		{"localhost:5000/app:1", "localhost:5000/app.slim:1", "app"},
		{"127.0.0.1:5000/team/app:1.2", "127.0.0.1:5000/team/app.slim:1.2", "app"},
		{"docker.io/library/app", "docker.io/library/app.slim:latest", "app"},
		{"app@" + digest, "docker.io/library/app.slim:latest", "app"},
		{"my/app:1@" + digest, "docker.io/my/app.slim:1", "app"},
		{"slimtrace-import/app-tar@" + digest, "docker.io/slimtrace-import/app-tar.slim:latest", "app-tar"},
	} {
		if got := SlimName(c.in); got != c.slim {
			t.Errorf("SlimName(%q) = %q, want %q", c.in, got, c.slim)
		}
		if got := ArtifactName(c.in); got != c.artifact {
			t.Errorf("ArtifactName(%q) = %q, want %q", c.in, got, c.artifact)
		}
	}
	if got := ArtifactName("Not A Name"); got != "image" {
		t.Errorf("ArtifactName of a bad name = %q", got)
	}
}
