package probe

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// manualFile is the example of the predecessor's manual, typo included.
const manualFile = `{
  "commands":
  [
   {
     "resource": "/api/info"
   },
   {
     "method": "POST",
     "resource": "/submit"
   },
   {
     "procotol": "http",
     "resource": "/api/call?arg=one"
   },
   {
     "protocol": "http",
     "method": "POST",
     "resource": "/submit2",
     "body": "key=value"
   }
  ]
}
`

func TestParseFile(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		extra map[string]string // more files beside the probe file
		want  []Cmd
	}{
		{
			name: "manual example",
			file: manualFile,
			want: []Cmd{
				{Resource: "/api/info"},
				{Method: "POST", Resource: "/submit"},
				{Proto: "http", Resource: "/api/call?arg=one"},
				{Proto: "http", Method: "POST", Resource: "/submit2", Body: "key=value"},
			},
		},
		{
			name: "headers port body_file",
			file: `{"commands": [
				{"protocol": "HTTPS", "method": "PUT", "resource": "/v1/items", "port": 8443,
				 "headers": {"Content-Type": "application/json", "X-Token": "abc"},
				 "body_file": "bodies/item.json"},
				{"resource": "/h", "headers": ["Accept: text/html", "X-A:b"]}
			]}`,
			extra: map[string]string{"bodies/item.json": `{"id": 1}`},
			want: []Cmd{
				{Proto: "https", Method: "PUT", Resource: "/v1/items", Port: 8443, Body: `{"id": 1}`,
					Headers: map[string]string{"Content-Type": "application/json", "X-Token": "abc"}},
				{Resource: "/h", Headers: map[string]string{"Accept": "text/html", "X-A": "b"}},
			},
		},
		{
			// A probe file written for SlimToolkit/mint: every field of
			// its command objects but fastcgi.
			name: "mint probe file",
			file: `{"commands": [
				{"protocol": "http", "method": "GET", "resource": "/", "port": 8080, "crawl": true},
				{"method": "POST", "resource": "/login", "username": "admin", "password": "s3cret",
				 "headers": ["Content-Type: application/json"], "body": "{}", "crawl": false, "fastcgi": null}
			]}`,
			want: []Cmd{
				{Proto: "http", Method: "GET", Resource: "/", Port: 8080, Crawl: true},
				{Method: "POST", Resource: "/login", Username: "admin", Password: "s3cret",
					Headers: map[string]string{"Content-Type": "application/json"}, Body: "{}"},
			},
		},
		{name: "keys in any case", file: `{"Commands": [{"Resource": "/x", "Method": "HEAD"}]}`,
			want: []Cmd{{Method: "HEAD", Resource: "/x"}}},
		{name: "no commands", file: `{"commands": []}`},
		{name: "null commands", file: `{"commands": null}`},
		{name: "empty object", file: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProbeFile(t, tt.file, tt.extra)
			got, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFile:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		line    int
		column  int // checked when non-zero
		field   string
		wantErr string
	}{
		{
			name: "unknown field",
			file: `{"commands": [
  {"resource": "/a"},
  {"resource": "/b",
   "metod": "POST"}
]}`,
			line: 4, column: 4, field: "commands[1].metod",
			wantErr: `unknown field "metod"`,
		},
		{
			name: "fastcgi",
			file: `{"commands": [{"resource": "/index.php",
   "fastcgi": {"root": "/var/www", "conn_timeout": 5}}]}`,
			line: 2, column: 15, field: "commands[0].fastcgi", wantErr: "FastCGI probes are not supported",
		},
		{
			name: "unknown field lists the known ones",
			file: `{"commands": [{"resource": "/", "crawl_depth": 2}]}`,
			line: 1, column: 33, field: "commands[0].crawl_depth",
			wantErr: "known: protocol, method, resource, body, body_file, headers, port, username, password, crawl",
		},
		{
			name: "crawl of the wrong type",
			file: `{"commands": [{"resource": "/", "crawl": "yes"}]}`,
			line: 1, column: 42, field: "commands[0].crawl", wantErr: "must be true or false, not string",
		},
		{
			name: "password without username",
			file: `{"commands": [{"resource": "/", "password": "x"}]}`,
			line: 1, column: 45, field: "commands[0].password", wantErr: "password without username",
		},
		{
			name: "unknown top-level field",
			file: `{
  "comands": []
}`,
			line: 2, column: 3, field: "comands", wantErr: `unknown field "comands"`,
		},
		{
			name: "port of the wrong type",
			file: `{"commands": [
  {"resource": "/a",
   "port": "8080"}
]}`,
			line: 3, column: 12, field: "commands[0].port", wantErr: "must be an integer, not string",
		},
		{
			name: "resource of the wrong type",
			file: `{"commands": [{"resource": 12}]}`,
			line: 1, column: 28, field: "commands[0].resource", wantErr: "must be a string, not number",
		},
		{
			name: "header of the wrong type",
			file: `{"commands": [{"resource": "/",
  "headers": {
    "X-Count": 3}}]}`,
			line: 3, field: "commands[0].headers.X-Count", wantErr: "must be a string, not number",
		},
		{
			name: "bad header line",
			file: `{"commands": [{"resource": "/",
  "headers": ["Accept text/html"]}]}`,
			line: 2, field: "commands[0].headers[0]", wantErr: `must be "Name: value"`,
		},
		{
			name: "bad method",
			file: `{"commands": [
  {"resource": "/a"},
  {"method": "post", "resource": "/b"}
]}`,
			line: 3, column: 14, field: "commands[1].method", wantErr: `bad method "post": must be upper-case`,
		},
		{
			name: "bad protocol",
			file: `{"commands": [
  {"procotol": "ftp", "resource": "/b"}
]}`,
			line: 2, field: "commands[0].procotol", wantErr: `unknown protocol "ftp"`,
		},
		{
			name: "resource without slash",
			file: `{"commands": [

  {"resource": "api/info"}]}`,
			line: 3, field: "commands[0].resource", wantErr: `must start with "/"`,
		},
		{
			name: "missing resource",
			file: `{"commands": [
  {"resource": "/a"},
  {
    "method": "POST"
  }
]}`,
			line: 3, column: 3, field: "commands[1].resource", wantErr: "missing resource",
		},
		{
			name: "body and body_file",
			file: `{"commands": [{"resource": "/a",
  "body": "x",
  "body_file": "b.txt"}]}`,
			line: 3, field: "commands[0].body_file", wantErr: "body and body_file are both set",
		},
		{
			name: "body_file unreadable",
			file: `{"commands": [{"resource": "/a",
  "body_file": "missing.txt"}]}`,
			line: 2, field: "commands[0].body_file", wantErr: "reading body file: open",
		},
		{
			name: "protocol twice through the alias",
			file: `{"commands": [{"resource": "/a", "protocol": "http",
  "procotol": "https"}]}`,
			line: 2, field: "commands[0].procotol", wantErr: `duplicate field "protocol"`,
		},
		{
			name: "port out of range",
			file: `{"commands": [{"resource": "/a", "port": 70000}]}`,
			line: 1, field: "commands[0].port", wantErr: "port 70000 out of range",
		},
		{
			name: "syntax error",
			file: `{"commands": [
  {"resource": "/a"}
  {"resource": "/b"}
]}`,
			line: 3, column: 3, wantErr: "invalid character '{' after array element",
		},
		{
			name: "syntax error inside a value",
			file: `{"commands": [{"resource": "/a",
  "headers": {"A": "b" "C": "d"}}]}`,
			line: 2, column: 24, wantErr: "invalid character '\"' after object key:value pair",
		},
		{
			name: "bad literal",
			file: `{"commands": [{"resource": "/a",
  "body": tru}]}`,
			line: 2, column: 14, wantErr: "invalid character '}' in literal true",
		},
		{
			name: "truncated",
			file: `{"commands": [
  {"resource": "/a"}`,
			line: 2, wantErr: "unexpected end of file",
		},
		{
			name: "not an object",
			file: `["/a"]`,
			line: 1, column: 1, wantErr: "want a JSON object",
		},
		{
			name: "command not an object",
			file: `{"commands": ["/a"]}`,
			line: 1, column: 15, field: "commands[0]", wantErr: "must be an object",
		},
		{
			name: "trailing data",
			file: `{"commands": []}
{}`,
			line: 2, column: 1, wantErr: "unexpected data after the top-level object",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeProbeFile(t, tt.file, nil)
			_, err := ParseFile(path)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFile error = %v, want a *FileError", err)
			}
			if fe.Path != path || fe.Line != tt.line || fe.Field != tt.field || tt.column != 0 && fe.Column != tt.column {
				t.Errorf("got %s:%d:%d field %q, want line %d column %d field %q",
					fe.Path, fe.Line, fe.Column, fe.Field, tt.line, tt.column, tt.field)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "parsing probe command file: "+path+":") {
				t.Errorf("error %q does not start with the file's location", err)
			}
		})
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "nope.json"))
	if err == nil || !strings.Contains(err.Error(), "reading probe command file") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error = %v, want a wrapped not-exist error", err)
	}
}

// writeProbeFile writes a probe file, and extra files beside it, into a
// fresh directory and returns its path.
func writeProbeFile(t *testing.T, content string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range extra {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "probe.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
