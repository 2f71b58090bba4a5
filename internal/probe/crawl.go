package probe

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// linkAttrs maps the tags the crawl follows to their link attribute.
var linkAttrs = map[string]string{
	"a":      "href",
	"link":   "href",
	"script": "src",
	"img":    "src",
	"iframe": "src",
	"source": "src",
}

// crawl is a breadth-first walk over one port's same-origin links.
type crawl struct {
	maxDepth, maxPages int
	seen               map[string]bool // URLs requested or queued, without fragments
	queue              []link
}

type link struct {
	url   *url.URL
	depth int
}

func newCrawl(o Options) *crawl {
	return &crawl{maxDepth: o.CrawlMaxDepth, maxPages: o.CrawlMaxPages, seen: map[string]bool{}}
}

// seed takes a command's response: a URL it got is not fetched again, and
// its links, if it is a page, start the walk.
func (c *crawl) seed(resp response) {
	if resp.url == nil {
		return
	}
	if resp.req.Method == http.MethodGet {
		c.seen[resp.url.String()] = true
	}
	c.follow(resp, 0)
}

// follow queues the unseen links of a page found at depth.
func (c *crawl) follow(resp response, depth int) {
	if resp.html == nil || depth >= c.maxDepth {
		return
	}
	for _, u := range links(resp.url, resp.html) {
		if k := u.String(); !c.seen[k] {
			c.seen[k] = true
			c.queue = append(c.queue, link{u, depth + 1})
		}
	}
}

// run fetches the queue, breadth first, until it is empty or maxPages
// pages were fetched.
func (c *crawl) run(ctx context.Context, r *runner, res *Result) {
	for fetched := 0; len(c.queue) > 0 && fetched < c.maxPages && ctx.Err() == nil; fetched++ {
		l := c.queue[0]
		c.queue = c.queue[1:]
		cmd := Cmd{Method: http.MethodGet, Resource: l.url.RequestURI()}
		resp := r.exchange(ctx, l.url, cmd, SourceCrawl, l.depth)
		r.record(res, resp.req)
		c.seen[resp.url.String()] = true // where a redirect landed
		c.follow(resp, l.depth)
	}
}

// links returns the same-origin links of an HTML page at page, resolved,
// without fragments, in document order. A <base href> changes how links
// resolve, not which origin they must have.
func links(page *url.URL, body []byte) []*url.URL {
	base := page
	var out []*url.URL
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
		default:
			continue
		}
		name, hasAttr := z.TagName()
		tag := string(name)
		want := linkAttrs[tag]
		if tag == "base" {
			want = "href"
		}
		if want == "" {
			continue
		}
		for hasAttr {
			var k, v []byte
			k, v, hasAttr = z.TagAttr()
			if string(k) != want {
				continue
			}
			u := resolve(base, string(v))
			if u == nil {
				break
			}
			if tag == "base" {
				base = u
			} else if sameOrigin(u, page) {
				out = append(out, u)
			}
			break
		}
	}
}

// resolve turns a link into an absolute URL without fragment; nil for
// links to nothing fetchable (empty, fragment-only, mailto:, javascript:,
// data: and the like).
func resolve(base *url.URL, ref string) *url.URL {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") {
		return nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if r.Scheme != "" && r.Scheme != "http" && r.Scheme != "https" {
		return nil
	}
	u := base.ResolveReference(r)
	u.Fragment, u.RawFragment = "", ""
	if u.Port() == "" { // spell the port out, as the commands' URLs do
		u.Host = net.JoinHostPort(u.Hostname(), defaultPorts[u.Scheme])
	}
	return u
}

var defaultPorts = map[string]string{ProtoHTTP: "80", ProtoHTTPS: "443"}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host)
}
