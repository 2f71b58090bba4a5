package probe

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// pages serves a fixed site; other paths are 404.
func pages(site map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := site[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, ".css"):
			w.Header().Set("Content-Type", "text/css")
		case strings.HasSuffix(r.URL.Path, ".js"):
			w.Header().Set("Content-Type", "text/javascript")
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		fmt.Fprint(w, body)
	}
}

func TestCrawl(t *testing.T) {
	site := map[string]string{
		"/": `<!doctype html><html><head>
			<link rel="stylesheet" href="/style.css">
			<script src="/app.js"></script>
			</head><body>
			<a href="/a">a</a> <a href="/a#section">a again</a>
			<img src="img.png">
			<a href="http://external.example/x">external</a>
			<a href="//other.example/y">protocol-relative external</a>
			<a href="https://` + targetHost + `:8080/other-scheme">other scheme</a>
			<a href="mailto:ops@example.com">mail</a>
			<a href="javascript:void(0)">js</a>
			<a href="#top">top</a>
			</body></html>`,
		"/a":         `<a href="/">home, a cycle</a> <a href="/a/b">b</a> <a href="http://` + targetHost + `:8080/abs">abs</a> <a href="/based">based</a>`,
		"/a/b":       `<a href="../c">c</a>`,
		"/c":         `<a href="/d">d, one level too deep</a>`,
		"/d":         `never fetched`,
		"/abs":       `no links`,
		"/based":     `<html><head><base href="/sub/"></head><body><a href="x">x</a></body></html>`,
		"/sub/x":     `leaf`,
		"/style.css": `body { background: url(/bg.png) } /* <a href="/from-css"> */`,
		"/app.js":    `document.write('<a href="/from-js">')`,
	}
	s := newSite(t, false, pages(site))
	d := newDialer(t, map[int]string{8080: s.addr()})
	o := fast(d)
	o.Ports = []int{8080}
	o.Crawl = true
	o.CrawlMaxDepth = 3

	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /",                                                   // the default command, depth 0
		"GET /style.css", "GET /app.js", "GET /a", "GET /img.png", // depth 1, in document order
		"GET /a/b", "GET /abs", "GET /based", // depth 2
		"GET /c", "GET /sub/x", // depth 3
	}
	if got := s.requests(); !slices.Equal(got, want) {
		t.Errorf("server got:\n %q\nwant\n %q", got, want)
	}
	if got, want := d.askedFor(), []string{targetHost + ":8080"}; !slices.Equal(got, want) {
		t.Errorf("dialer asked for %q, want only %q", got, want)
	}
	depths := map[string]int{}
	for _, r := range res.Requests {
		if r.Source == SourceCrawl {
			depths[r.Resource] = r.Depth
		}
	}
	if depths["/a"] != 1 || depths["/a/b"] != 2 || depths["/c"] != 3 || len(depths) != len(want)-1 {
		t.Errorf("crawl depths %v", depths)
	}
	// img.png is a 404: recorded as failed, like any other request.
	if res.Passed != len(want)-1 || res.Failed != 1 {
		t.Errorf("passed %d failed %d: %q", res.Passed, res.Failed, summary(res))
	}
}

func TestCrawlMaxPages(t *testing.T) {
	var home strings.Builder
	site := map[string]string{}
	for i := range 20 {
		fmt.Fprintf(&home, `<a href="/p%d">p</a>`, i)
		site[fmt.Sprintf("/p%d", i)] = "page"
	}
	site["/"] = home.String()
	s := newSite(t, false, pages(site))
	o := fast(newDialer(t, map[int]string{8080: s.addr()}))
	o.Ports = []int{8080}
	o.Crawl = true
	o.CrawlMaxPages = 5

	if _, err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /", "GET /p0", "GET /p1", "GET /p2", "GET /p3", "GET /p4"}
	if got := s.requests(); !slices.Equal(got, want) {
		t.Errorf("server got %q, want %q", got, want)
	}
}

func TestCrawlOff(t *testing.T) {
	s := newSite(t, false, pages(map[string]string{"/": `<a href="/a">a</a>`, "/a": "a"}))
	o := fast(newDialer(t, map[int]string{8080: s.addr()}))
	o.Ports = []int{8080}
	if _, err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if got := s.requests(); !slices.Equal(got, []string{"GET /"}) {
		t.Errorf("server got %q without crawl", got)
	}
}

func TestLinks(t *testing.T) {
	tests := []struct {
		name string
		page string
		body string
		want []string
	}{
		{
			name: "relative, absolute and root-relative",
			page: "http://h:8080/dir/page",
			body: `<a href="x">` + `<a href="../y?q=1">` + `<a href="/z">` + `<a href="http://h:8080/abs">`,
			want: []string{"http://h:8080/dir/x", "http://h:8080/y?q=1", "http://h:8080/z", "http://h:8080/abs"},
		},
		{
			name: "default port spelled out",
			page: "http://h:80/",
			body: `<a href="http://h/a">` + `<img src="/b.png"/>`,
			want: []string{"http://h:80/a", "http://h:80/b.png"},
		},
		{
			name: "fragments dropped, fragment-only skipped",
			page: "http://h:80/",
			body: `<a href="#top">` + `<a href="/a#part">` + `<a href="">`,
			want: []string{"http://h:80/a"},
		},
		{
			name: "other origins and schemes skipped",
			page: "http://h:80/",
			body: `<a href="https://h:80/">` + `<a href="http://h:81/">` + `<a href="http://g:80/">` +
				`<a href="mailto:a@b">` + `<a href="javascript:x()">` + `<a href="data:text/plain,x">` + `<a href="tel:1">`,
		},
		{
			name: "base changes resolution only",
			page: "http://h:80/p",
			body: `<base href="/sub/"><a href="x">` + `<script src="y.js"></script>`,
			want: []string{"http://h:80/sub/x", "http://h:80/sub/y.js"},
		},
		{
			name: "attributes by tag",
			page: "http://h:80/",
			body: `<link href="/l"><script src="/s"></script><iframe src="/f"></iframe>` +
				`<video><source src="/v"></video><a name="n" href="/a"><img alt="/no" src="/i"><div href="/no">`,
			want: []string{"http://h:80/l", "http://h:80/s", "http://h:80/f", "http://h:80/v", "http://h:80/a", "http://h:80/i"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := url.Parse(tt.page)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range links(page, []byte(tt.body)) {
				got = append(got, u.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("links:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestCrawlPerCommand: a command with Crawl (mint's "crawl": true) is
// crawled from, the others are not, and its basic-auth credentials reach
// the server.
func TestCrawlPerCommand(t *testing.T) {
	site := pages(map[string]string{"/": `<a href="/from-root">r</a>`, "/docs": `<a href="/from-docs">d</a>`,
		"/from-root": "r", "/from-docs": "d", "/private": "p"})
	var auth []string
	s := newSite(t, false, func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok {
			auth = append(auth, r.URL.Path+" "+u+":"+p)
		}
		site(w, r)
	})
	o := fast(newDialer(t, map[int]string{8080: s.addr()}))
	o.Ports = []int{8080}
	o.Cmds = []Cmd{{Resource: "/docs", Crawl: true}, {Resource: "/private", Username: "admin", Password: "s3cret"}}
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /", "GET /docs", "GET /private", "GET /from-docs"}
	if got := s.requests(); !slices.Equal(got, want) {
		t.Errorf("server got %q, want %q", got, want)
	}
	if !slices.Equal(auth, []string{"/private admin:s3cret"}) {
		t.Errorf("basic auth seen: %q", auth)
	}
	for _, q := range res.Requests {
		if strings.Contains(fmt.Sprintf("%+v", q), "s3cret") {
			t.Errorf("the password is in a result: %+v", q)
		}
	}
}
