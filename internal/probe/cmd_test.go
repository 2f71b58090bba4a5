package probe

import (
	"strings"
	"testing"
)

func TestParseCmd(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Cmd
		wantErr string
	}{
		{name: "resource only", in: "/api/info", want: Cmd{Resource: "/api/info"}},
		{name: "method", in: "POST:/submit", want: Cmd{Method: "POST", Resource: "/submit"}},
		{name: "proto and method", in: "http:POST:/submit", want: Cmd{Proto: "http", Method: "POST", Resource: "/submit"}},
		{name: "proto only", in: "https:/", want: Cmd{Proto: "https", Resource: "/"}},
		{name: "proto any case", in: "HTTPS:GET:/x", want: Cmd{Proto: "https", Method: "GET", Resource: "/x"}},
		{name: "empty proto", in: ":DELETE:/x", want: Cmd{Method: "DELETE", Resource: "/x"}},
		{name: "colon in query", in: "GET:/events?from=10:30", want: Cmd{Method: "GET", Resource: "/events?from=10:30"}},
		{name: "colon in path", in: "/a:b", want: Cmd{Resource: "/a:b"}},
		{name: "extension method", in: "PROPFIND:/dav", want: Cmd{Method: "PROPFIND", Resource: "/dav"}},

		{name: "unknown proto", in: "x:y:z", wantErr: `parsing probe command "x:y:z": unknown protocol "x"`},
		{name: "proto typo", in: "htp:/x", wantErr: `parsing probe command "htp:/x": unknown protocol "htp"`},
		{name: "lower-case method", in: "post:/x", wantErr: `bad method "post": must be upper-case ("POST")`},
		{name: "lower-case method after proto", in: "http:get:/x", wantErr: `bad method "get": must be upper-case`},
		{name: "method not a token", in: "http:GE T:/x", wantErr: `bad method "GE T": not an HTTP method name`},
		{name: "no slash", in: "api/info", wantErr: `resource "api/info" must start with "/"`},
		{name: "method without resource", in: "POST:", wantErr: "missing resource"},
		{name: "empty", in: "", wantErr: "missing resource"},
		{name: "too many fields", in: "http:POST:x:/y", wantErr: "too many fields"},
		{name: "url, not path", in: "//evil.example/x", wantErr: `resource "//evil.example/x" must be a path, not a URL`},
		{name: "fragment", in: "/page#top", wantErr: "must not hold a fragment"},
		{name: "control character", in: "/a\x01", wantErr: "invalid control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCmd(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCmd(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCmd(%q): %v", tt.in, err)
			}
			if got.Proto != tt.want.Proto || got.Method != tt.want.Method || got.Resource != tt.want.Resource {
				t.Errorf("ParseCmd(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCmdString(t *testing.T) {
	for _, in := range []string{"GET:/api/info", "http:POST:/submit", "https:GET:/"} {
		c, err := ParseCmd(in)
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != in {
			t.Errorf("ParseCmd(%q).String() = %q", in, c.String())
		}
	}
}
