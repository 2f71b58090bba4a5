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

func TestRedactText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`/bin/sh -c #(nop)  ENV API_TOKEN=tok-1 LANG=C`, `/bin/sh -c #(nop)  ENV API_TOKEN=<redacted> LANG=C`},
		{`ENV DB_PASSWORD="two words" PATH=/bin`, `ENV DB_PASSWORD=<redacted> PATH=/bin`},
		{`ENV AWS_SECRET_ACCESS_KEY='q'`, `ENV AWS_SECRET_ACCESS_KEY=<redacted>`},
		{`|2 GITHUB_AUTH=gh-x VERSION=1 /bin/sh -c make`, `|2 GITHUB_AUTH=<redacted> VERSION=1 /bin/sh -c make`},
		{"ENV MY_SECRET hunter 2", "ENV MY_SECRET <redacted>"},
		{"ENV HOME /root", "ENV HOME /root"},
		{`RUN curl -H "x=1" https://example/?token=abc`, `RUN curl -H "x=1" https://example/?token=<redacted>`},
	} {
		if got := RedactText(c.in); got != c.want {
			t.Errorf("RedactText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"app", "--password=hunter2", "--port=80"}, []string{"app", "--password=<redacted>", "--port=80"}},
		{[]string{"app", "--token", "tok-1", "-v"}, []string{"app", "--token", "<redacted>", "-v"}},
		{[]string{"app", "-api-key", "k", "--db_passwd=", "--auth"}, []string{"app", "-api-key", "<redacted>", "--db_passwd=<redacted>", "--auth"}},
		{[]string{"app", "--token", "--verbose"}, []string{"app", "--token", "--verbose"}},
		{[]string{"CMD-SHELL", `curl -fsS --oauth2-bearer "b 1" -H x --client-secret=s3 http://localhost/`},
			[]string{"CMD-SHELL", `curl -fsS --oauth2-bearer <redacted> -H x --client-secret=<redacted> http://localhost/`}},
		{[]string{"/bin/sh", "-c", "exec app --secret abc --name web"}, []string{"/bin/sh", "-c", "exec app --secret <redacted> --name web"}},
		{[]string{"app", "serve", "--port", "80"}, []string{"app", "serve", "--port", "80"}},
		{nil, nil},
	} {
		if got := RedactArgs(c.in); !slices.Equal(got, c.want) {
			t.Errorf("RedactArgs(%q):\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	in := []string{"app", "--token", "abc"}
	RedactArgs(in)
	if in[2] != "abc" {
		t.Error("RedactArgs changed its input")
	}
	if got, want := RedactText(`/bin/sh -c #(nop)  CMD app --token abc --port 80`), `/bin/sh -c #(nop)  CMD app --token <redacted> --port 80`; got != want {
		t.Errorf("RedactText: got %q, want %q", got, want)
	}
}

func TestRedactTextExecForm(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`CMD ["app","--token","abc","--port","80"]`, `CMD ["app","--token","<redacted>","--port","80"]`},
		{`CMD ["app" "--password" "p w"]`, `CMD ["app" "--password" "<redacted>"]`},
		{`HEALTHCHECK &{["CMD" "app" "--api-key=k1" "--quiet"] "30s"}`, `HEALTHCHECK &{["CMD" "app" "--api-key=<redacted>" "--quiet"] "30s"}`},
	} {
		if got := RedactText(c.in); got != c.want {
			t.Errorf("RedactText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
