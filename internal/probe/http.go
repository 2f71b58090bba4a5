package probe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

const (
	// maxHTMLBytes is how much of an HTML body is kept for the crawl; the
	// rest is still read and hashed.
	maxHTMLBytes = 4 << 20
	// maxBodyBytes is how much of any body is kept in Request.Body, for
	// comparing two runs' answers beyond their digests.
	maxBodyBytes = 256 << 10
	// maxRedirects bounds the same-host redirects followed per request.
	maxRedirects = 10
	userAgent    = "slimtrace-probe"
)

// runner holds what one Run shares between its requests.
type runner struct {
	o       Options
	log     *zerolog.Logger
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	client  *http.Client
	schemes map[int]string // port -> the protocol it was found to speak
	down    map[int]error  // port -> why it stopped accepting connections
}

func newRunner(ctx context.Context, o Options) *runner {
	log := o.Logger
	if log == nil {
		log = zerolog.Ctx(ctx)
	}
	r := &runner{
		o:       o,
		log:     log,
		dial:    o.DialContext,
		schemes: map[int]string{},
		down:    map[int]error{},
	}
	r.client = &http.Client{
		Transport: &http.Transport{
			Proxy:       nil, // the target is reached by DialContext, never through a proxy
			DialContext: o.DialContext,
			TLSClientConfig: &tls.Config{
				// Targets serve their own, usually self-signed, certificates;
				// old images may still speak TLS 1.0.
				InsecureSkipVerify: true, //nolint:gosec // a probe, not a client that trusts answers
				MinVersion:         tls.VersionTLS10,
			},
			MaxIdleConnsPerHost: 2,
		},
		CheckRedirect: r.checkRedirect,
	}
	return r
}

func (r *runner) close() { r.client.CloseIdleConnections() }

func (r *runner) backoff() backoff {
	return backoff{wait: r.o.RetryWait, max: r.o.MaxRetryWait}
}

// checkRedirect follows redirects that stay on the probed host and port;
// others are recorded as the 3xx they are: an app must not point the
// probes, with the user's headers and body, at other services (with
// --network host, the host's own).
func (r *runner) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects || !strings.EqualFold(req.URL.Hostname(), r.o.Host) ||
		len(via) > 0 && portOf(req.URL) != portOf(via[0].URL) {
		return http.ErrUseLastResponse
	}
	return nil
}

// portOf is u's port, spelled out when u leaves it to the scheme.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPorts[u.Scheme]
}

// probePort sends the port's commands, then crawls from their pages.
func (r *runner) probePort(ctx context.Context, port int, res *Result) {
	r.log.Info().Int("port", port).Msg("probing port")
	c := newCrawl(r.o)
	crawl := false
	for _, pc := range r.cmdsFor(port) {
		if ctx.Err() != nil {
			return
		}
		resp := r.send(ctx, port, pc.cmd, pc.source)
		r.record(res, resp.req)
		if r.o.Crawl || pc.cmd.Crawl {
			c.seed(resp)
			crawl = true
		}
	}
	if crawl {
		c.run(ctx, r, res)
	}
}

type plannedCmd struct {
	cmd    Cmd
	source Source
}

// cmdsFor lists what is sent to port: the default GET / and the port-less
// commands on the chosen ports, and the commands naming this port.
func (r *runner) cmdsFor(port int) []plannedCmd {
	var out []plannedCmd
	sel := r.o.selected(port)
	if sel && !r.o.NoDefaultCmd {
		out = append(out, plannedCmd{Cmd{Resource: "/"}, SourceDefault})
	}
	for _, c := range r.o.Cmds {
		if c.Port == port || c.Port == 0 && sel {
			out = append(out, plannedCmd{c, SourceCmd})
		}
	}
	return out
}

func (r *runner) record(res *Result, req Request) {
	res.add(req)
	ev := r.log.Info()
	switch {
	case req.Source == SourceCrawl:
		ev = r.log.Debug()
	case !req.Passed():
		ev = r.log.Warn()
	}
	ev.Int("port", req.Port).Str("proto", req.Proto).Str("method", req.Method).
		Str("resource", req.Resource).Str("source", string(req.Source))
	if req.Depth > 0 {
		ev.Int("depth", req.Depth)
	}
	if req.Error != "" {
		ev.Str("error", req.Error)
	} else {
		ev.Int("status", req.Status).Int64("size", req.Size)
	}
	ev.Dur("latency", req.Latency).Msg("probe request")
}

// response is one exchange's outcome, with what the caller needs beyond
// the record.
type response struct {
	req       Request
	url       *url.URL // after redirects
	html      []byte   // the body, when HTML
	connected bool     // a connection was made: any failure is at the protocol level
	tlsOK     bool     // a TLS handshake completed
}

// send sends c to port. Without a protocol it uses the one the port was
// found to speak; on a port not yet known it tries http, and https when
// http fails at the protocol level (a connection was made but the answer
// was not HTTP, or was a 400, the usual answer of a TLS server to plain
// HTTP). A successful handshake settles the port as https; a plain answer
// settles it as http.
func (r *runner) send(ctx context.Context, port int, c Cmd, src Source) response {
	proto := c.Proto
	if proto == "" {
		proto = r.schemes[port]
	}
	if proto != "" {
		return r.sendTo(ctx, proto, port, c, src)
	}
	plain := r.sendTo(ctx, ProtoHTTP, port, c, src)
	answered := plain.req.Error == ""
	if answered && plain.req.Status != http.StatusBadRequest || !plain.connected || ctx.Err() != nil {
		if answered {
			r.schemes[port] = ProtoHTTP
		}
		return plain
	}
	r.log.Debug().Int("port", port).Str("http_error", plain.req.Error).Int("http_status", plain.req.Status).
		Msg("trying https")
	secure := r.sendTo(ctx, ProtoHTTPS, port, c, src)
	if secure.tlsOK {
		r.schemes[port] = ProtoHTTPS
		return secure
	}
	if answered {
		r.schemes[port] = ProtoHTTP
	}
	return plain
}

// url is where c's resource is on port, with proto.
func (r *runner) url(proto string, port int, resource string) (*url.URL, error) {
	u, err := url.Parse(resource)
	if err != nil {
		return nil, fmt.Errorf("bad resource %q: %w", resource, err)
	}
	u.Scheme, u.Host = proto, net.JoinHostPort(r.o.Host, strconv.Itoa(port))
	return u, nil
}

// sendTo sends c to port with proto.
func (r *runner) sendTo(ctx context.Context, proto string, port int, c Cmd, src Source) response {
	u, err := r.url(proto, port, c.Resource)
	if err != nil { // Options.withDefaults checked the resource: not reached
		return response{req: Request{Port: port, Proto: proto, Method: c.method(), Resource: c.Resource,
			Source: src, Error: err.Error()}}
	}
	return r.exchange(ctx, u, c, src, 0)
}

// exchange sends c to u, again (with backoff, up to RetryCount times) while
// no connection can be made. A port that exhausts its retries is marked
// down, and later requests to it fail at once.
func (r *runner) exchange(ctx context.Context, u *url.URL, c Cmd, src Source, depth int) response {
	port, _ := strconv.Atoi(u.Port())
	fail := func(err error) response {
		return response{url: u, req: Request{
			Port: port, Proto: u.Scheme, Method: c.method(), Resource: u.RequestURI(),
			Source: src, Depth: depth, Error: err.Error(),
		}}
	}
	if err := r.down[port]; err != nil {
		return fail(err)
	}
	b := r.backoff()
	for attempt := 0; ; attempt++ {
		resp := r.attempt(ctx, u, c)
		resp.req.Source, resp.req.Depth = src, depth
		if resp.req.Error == "" || resp.connected || ctx.Err() != nil {
			return resp
		}
		if attempt >= r.o.RetryCount {
			r.down[port] = fmt.Errorf("port %d stopped accepting connections: %s", port, resp.req.Error)
			return resp
		}
		r.log.Debug().Int("port", port).Str("resource", resp.req.Resource).Str("error", resp.req.Error).
			Dur("retry_in", b.wait).Msg("retrying request")
		if err := b.sleep(ctx); err != nil {
			return resp
		}
	}
}

// attempt sends c to u once and reads the whole answer.
func (r *runner) attempt(ctx context.Context, u *url.URL, c Cmd) response {
	var connected, tlsOK atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:           func(httptrace.GotConnInfo) { connected.Store(true) },
		TLSHandshakeStart: func() { connected.Store(true) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				tlsOK.Store(true)
			}
		},
	})
	resp := r.roundTrip(ctx, u, c)
	resp.connected, resp.tlsOK = connected.Load(), tlsOK.Load()
	return resp
}

// roundTrip sends c to u and reads the whole answer.
func (r *runner) roundTrip(ctx context.Context, u *url.URL, c Cmd) response {
	resp := response{url: u}
	port, _ := strconv.Atoi(u.Port())
	resp.req = Request{Port: port, Proto: u.Scheme, Method: c.method(), Resource: u.RequestURI()}
	fail := func(err error) response {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the record already names the URL
		}
		resp.req.Error = err.Error()
		return resp
	}

	ctx, cancel := context.WithTimeout(ctx, r.o.RequestTimeout)
	defer cancel()
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method(), u.String(), body)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("User-Agent", userAgent)
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	for k, v := range c.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}

	start := time.Now()
	hr, err := r.client.Do(req)
	if err != nil {
		resp.req.Latency = time.Since(start)
		return fail(err)
	}
	defer hr.Body.Close()
	resp.url = hr.Request.URL
	resp.req.Status = hr.StatusCode
	h := sha256.New()
	kept := &capped{max: max(maxHTMLBytes, maxBodyBytes)}
	n, err := io.Copy(io.MultiWriter(h, kept), hr.Body)
	resp.req.Latency = time.Since(start)
	resp.req.Size = n
	resp.req.SHA256 = hex.EncodeToString(h.Sum(nil))
	resp.req.Body = bytes.Clone(kept.Bytes()[:min(kept.Len(), maxBodyBytes)]) // not the whole buffer
	if err != nil {
		return fail(fmt.Errorf("reading body: %w", err))
	}
	if isHTML(hr.Header.Get("Content-Type"), kept.Bytes()) {
		resp.html = kept.Bytes()[:min(kept.Len(), maxHTMLBytes)]
	}
	return resp
}

// capped keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// isHTML reports whether a body is an HTML page, by its declared type or,
// when none was declared, by sniffing.
func isHTML(contentType string, body []byte) bool {
	if contentType == "" {
		contentType = http.DetectContentType(body)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}
