package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// targetHost is the address the probe is told to reach. Nothing listens
// there: only the test dialer knows where each port really is.
const targetHost = "10.255.0.1"

// hit is what a test server received.
type hit struct {
	method, uri, host, body string
	header                  http.Header
	tls                     bool
}

// site is a real local server that records what it receives.
type site struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newSite(t *testing.T, tlsOn bool, h http.HandlerFunc) *site {
	t.Helper()
	s := &site{}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits = append(s.hits, hit{r.Method, r.RequestURI, r.Host, string(body), r.Header.Clone(), r.TLS != nil})
		s.mu.Unlock()
		h(w, r)
	})
	s.Server = httptest.NewUnstartedServer(wrapped)
	// Handshake failures are expected: the probe tries http first.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *site) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, h := range s.hits {
		out = append(out, h.method+" "+h.uri)
	}
	return out
}

func (s *site) addr() string { return s.Listener.Addr().String() }

// echo answers with the method and URI it received.
func echo(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %s", r.Method, r.RequestURI)
}

// dialer stands for the caller's namespace dialer: it sends each asked
// port to a real local address and records what it was asked. Ports it
// does not know are dialed on a closed local port, for a real refusal.
type dialer struct {
	mu     sync.Mutex
	routes map[int]string
	asked  []string
	closed string
}

func newDialer(t *testing.T, routes map[int]string) *dialer {
	return &dialer{routes: routes, closed: closedAddr(t)}
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	_, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	real, ok := d.routes[port]
	d.mu.Unlock()
	if !ok {
		real = d.closed
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, real)
}

func (d *dialer) askedFor() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(d.asked)))
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// fast are options that keep retries short.
func fast(d *dialer) Options {
	return Options{DialContext: d.DialContext, Host: targetHost, RetryCount: 3, RetryWait: 10 * time.Millisecond}
}

func mustCmds(t *testing.T, specs ...string) []Cmd {
	t.Helper()
	var cmds []Cmd
	for _, s := range specs {
		c, err := ParseCmd(s)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	return cmds
}

// summary renders requests as "port proto method resource status" lines.
func summary(res *Result) []string {
	var out []string
	for _, r := range res.Requests {
		s := fmt.Sprintf("%d %s %s %s %d", r.Port, r.Proto, r.Method, r.Resource, r.Status)
		if r.Error != "" {
			s += " error"
		}
		out = append(out, s)
	}
	return out
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestRunHTTPThenHTTPS(t *testing.T) {
	plain := newSite(t, false, echo)
	secure := newSite(t, true, echo)
	d := newDialer(t, map[int]string{8080: plain.addr(), 8443: secure.addr()})
	o := fast(d)
	o.Ports = []int{8080, 8443}
	o.Cmds = mustCmds(t, "/api/info", "POST:/submit")

	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"8080 http GET / 200",
		"8080 http GET /api/info 200",
		"8080 http POST /submit 200",
		"8443 https GET / 200",
		"8443 https GET /api/info 200",
		"8443 https POST /submit 200",
	}
	if got := summary(res); !slices.Equal(got, want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
	if res.Passed != 6 || res.Failed != 0 || !slices.Equal(res.Ports, []int{8080, 8443}) {
		t.Errorf("passed %d failed %d ports %v", res.Passed, res.Failed, res.Ports)
	}
	// Each server got each command once: no https attempt reached the
	// plain server's handler, and the TLS one was learned once.
	for _, s := range []*site{plain, secure} {
		if got, want := s.requests(), []string{"GET /", "GET /api/info", "POST /submit"}; !slices.Equal(got, want) {
			t.Errorf("server %s got %q, want %q", s.URL, got, want)
		}
	}
	if h := secure.hits[0]; !h.tls || h.host != targetHost+":8443" {
		t.Errorf("TLS server got tls=%v host %q", h.tls, h.host)
	}
	if h := plain.hits[0]; h.host != targetHost+":8080" || h.header.Get("User-Agent") != userAgent {
		t.Errorf("plain server got host %q user agent %q", h.host, h.header.Get("User-Agent"))
	}
	// The dialer was asked for the target's address, never anything else.
	if got, want := d.askedFor(), []string{targetHost + ":8080", targetHost + ":8443"}; !slices.Equal(got, want) {
		t.Errorf("dialer asked for %q, want %q", got, want)
	}
	r := res.Requests[1]
	if body := "GET /api/info"; r.Size != int64(len(body)) || r.SHA256 != sha(body) || r.Latency <= 0 || r.Source != SourceCmd {
		t.Errorf("record %+v: want size %d, sha256 %s, a latency, source cmd", r, len(body), sha(body))
	}
	if res.Requests[0].Source != SourceDefault {
		t.Errorf("first request source %q, want %q", res.Requests[0].Source, SourceDefault)
	}
}

func TestRunExplicitProto(t *testing.T) {
	plain := newSite(t, false, echo)
	secure := newSite(t, true, echo)
	d := newDialer(t, map[int]string{8080: plain.addr(), 8443: secure.addr()})
	o := fast(d)
	o.Ports = []int{8080, 8443}
	o.NoDefaultCmd = true
	o.Cmds = mustCmds(t, "https:/tls-only", "http:/plain-only")

	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	// https to the plain port fails the handshake; http to the TLS port
	// gets the 400 a TLS server answers to plain HTTP. Neither falls back.
	want := []string{
		"8080 https GET /tls-only 0 error",
		"8080 http GET /plain-only 200",
		"8443 https GET /tls-only 200",
		"8443 http GET /plain-only 400",
	}
	if got := summary(res); !slices.Equal(got, want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
	if res.Passed != 2 || res.Failed != 2 {
		t.Errorf("passed %d failed %d, want 2 and 2", res.Passed, res.Failed)
	}
	if got := plain.requests(); !slices.Equal(got, []string{"GET /plain-only"}) {
		t.Errorf("plain server got %q", got)
	}
	if got := secure.requests(); !slices.Equal(got, []string{"GET /tls-only"}) {
		t.Errorf("TLS server got %q", got)
	}
}

func TestRunBodyAndHeaders(t *testing.T) {
	s := newSite(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	d := newDialer(t, map[int]string{9000: s.addr()})
	path := writeProbeFile(t, `{"commands": [
  {"method": "PUT", "resource": "/items/7?dry=1", "body_file": "item.json",
   "headers": {"Content-Type": "application/json", "Host": "api.example", "X-Token": "s3cret"}},
  {"protocol": "http", "method": "POST", "resource": "/submit2", "body": "key=value",
   "headers": ["Content-Type: application/x-www-form-urlencoded"]}
]}`, map[string]string{"item.json": `{"name": "seven"}`})
	cmds, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o := fast(d)
	o.Ports = []int{9000}
	o.NoDefaultCmd = true
	o.Cmds = cmds

	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed != 2 {
		t.Errorf("requests %q, want 2 passed", summary(res))
	}
	if len(s.hits) != 2 {
		t.Fatalf("server got %q, want 2 requests", s.requests())
	}
	put, post := s.hits[0], s.hits[1]
	if put.method != "PUT" || put.uri != "/items/7?dry=1" || put.body != `{"name": "seven"}` ||
		put.host != "api.example" || put.header.Get("Content-Type") != "application/json" ||
		put.header.Get("X-Token") != "s3cret" {
		t.Errorf("PUT arrived as %+v", put)
	}
	if post.method != "POST" || post.body != "key=value" ||
		post.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("POST arrived as %+v", post)
	}
}

func TestRunPorts(t *testing.T) {
	a := newSite(t, false, echo)
	b := newSite(t, false, echo)
	c := newSite(t, false, echo)
	routes := map[int]string{1001: a.addr(), 1002: b.addr(), 1003: c.addr()}
	cmdOnly, err := ParseCmd("/only-on-1003")
	if err != nil {
		t.Fatal(err)
	}
	cmdOnly.Port = 1003

	tests := []struct {
		name       string
		ports      []int
		onlyPorts  []int
		cmds       []Cmd
		wantA      []string
		wantB      []string
		wantC      []string
		wantPorts  []int
		wantErrors bool
	}{
		{name: "exposed", ports: []int{1001, 1002}, wantA: []string{"GET /"}, wantB: []string{"GET /"}, wantPorts: []int{1001, 1002}},
		{name: "restricted", ports: []int{1001, 1002}, onlyPorts: []int{1002}, wantB: []string{"GET /"}, wantPorts: []int{1002}},
		{name: "restricted to an unexposed port", ports: []int{1001}, onlyPorts: []int{1003}, wantC: []string{"GET /"}, wantPorts: []int{1003}},
		{
			name: "command with a port", ports: []int{1001}, cmds: []Cmd{cmdOnly},
			wantA: []string{"GET /"}, wantC: []string{"GET /only-on-1003"}, wantPorts: []int{1001, 1003},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range []*site{a, b, c} {
				s.mu.Lock()
				s.hits = nil
				s.mu.Unlock()
			}
			o := fast(newDialer(t, routes))
			o.Ports, o.OnlyPorts, o.Cmds = tt.ports, tt.onlyPorts, tt.cmds
			res, err := Run(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Ports, tt.wantPorts) {
				t.Errorf("ports %v, want %v", res.Ports, tt.wantPorts)
			}
			for i, pair := range []struct {
				s    *site
				want []string
			}{{a, tt.wantA}, {b, tt.wantB}, {c, tt.wantC}} {
				if got := pair.s.requests(); !slices.Equal(got, pair.want) {
					t.Errorf("server %d got %q, want %q", i, got, pair.want)
				}
			}
		})
	}
}

func TestRunNoPorts(t *testing.T) {
	res, err := Run(t.Context(), fast(newDialer(t, nil)))
	if !errors.Is(err, ErrNoPorts) || res == nil {
		t.Fatalf("Run = %v, %v; want a result and ErrNoPorts", res, err)
	}
}

func TestRunBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{name: "no host", o: Options{Ports: []int{80}}, wantErr: "no target host"},
		{name: "bad host", o: Options{Host: "a b/c", Ports: []int{80}}, wantErr: `bad target host "a b/c"`},
		{name: "bad port", o: Options{Host: "h", Ports: []int{0}}, wantErr: "port 0 out of range"},
		{name: "bad command", o: Options{Host: "h", Ports: []int{80}, Cmds: []Cmd{{Resource: "x"}}}, wantErr: `invalid probe command "GET:x"`},
		{name: "bad proto", o: Options{Host: "h", Ports: []int{80}, Cmds: []Cmd{{Proto: "ftp", Resource: "/"}}}, wantErr: `unknown protocol "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(t.Context(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// serveLate returns a local address where an echo server starts listening
// after delay.
func serveLate(t *testing.T, delay time.Duration) string {
	t.Helper()
	addr := closedAddr(t)
	srv := &http.Server{Handler: http.HandlerFunc(echo)}
	t.Cleanup(func() { srv.Close() })
	go func() {
		time.Sleep(delay)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listening late: %v", err)
			return
		}
		srv.Serve(l)
	}()
	return addr
}

func TestRunPortOpensLate(t *testing.T) {
	const delay = 300 * time.Millisecond
	addr := serveLate(t, delay)
	d := newDialer(t, map[int]string{8080: addr})
	o := fast(d)
	o.Ports = []int{8080}
	o.RetryCount = 10 // 10ms, 20ms, 40ms, ... 80ms: well over a second in all

	start := time.Now()
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < delay {
		t.Errorf("done after %s, before the port opened", elapsed)
	}
	if got := summary(res); !slices.Equal(got, []string{"8080 http GET / 200"}) {
		t.Errorf("requests %q", got)
	}
	if n := len(d.asked); n < 3 {
		t.Errorf("dialed %d times, want several attempts", n)
	}
}

// TestRunPortOpensSoon: with the default retry wait (1 s), a port that
// opens 40 ms after the probes start is found within a few polls, not after
// the first retry wait.
func TestRunPortOpensSoon(t *testing.T) {
	addr := serveLate(t, 40*time.Millisecond)
	d := newDialer(t, map[int]string{8080: addr})
	o := Options{DialContext: d.DialContext, Host: targetHost, Ports: []int{8080}}
	start := time.Now()
	if _, err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("probed after %s: the readiness wait slept a retry wait (1 s)", elapsed)
	}
}

func TestRunPortNeverOpens(t *testing.T) {
	good := newSite(t, false, echo)
	d := newDialer(t, map[int]string{8080: good.addr()}) // 9090 is refused
	o := fast(d)
	o.Ports = []int{9090, 8080}
	o.RetryCount = 3

	start := time.Now()
	res, err := Run(t.Context(), o)
	elapsed := time.Since(start)

	var nr *NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("Run error = %v, want a *NotReadyError", err)
	}
	// Dialed every 10ms for as long as 3 retries would take: 10ms + 20ms + 40ms.
	if nr.Port != 9090 || nr.Attempts < 4 || nr.Waited < 70*time.Millisecond || !errors.Is(nr, syscall.ECONNREFUSED) {
		t.Errorf("NotReadyError %+v: want port 9090, 4 attempts or more over 70ms, connection refused", nr)
	}
	if elapsed > time.Second {
		t.Errorf("gave up after %s, want well under a second", elapsed)
	}
	// The other port was probed all the same.
	if got := summary(res); !slices.Equal(got, []string{"8080 http GET / 200"}) {
		t.Errorf("requests %q", got)
	}
	if !strings.Contains(err.Error(), "port 9090 not accepting connections after") {
		t.Errorf("error %q", err)
	}
}

func TestRunRetriesRefusedRequest(t *testing.T) {
	s := newSite(t, false, echo)
	d := newDialer(t, map[int]string{8080: s.addr()})
	// Dial 1 is the readiness check; dials 2 and 3, the request's first
	// attempts, are refused as by an app restarting.
	var mu sync.Mutex
	n := 0
	o := fast(d)
	o.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		n++
		refuse := n == 2 || n == 3
		mu.Unlock()
		if refuse {
			return (&net.Dialer{}).DialContext(ctx, network, d.closed)
		}
		return d.DialContext(ctx, network, addr)
	}
	o.Ports = []int{8080}

	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(res); !slices.Equal(got, []string{"8080 http GET / 200"}) {
		t.Errorf("requests %q", got)
	}
	if got := s.requests(); !slices.Equal(got, []string{"GET /"}) {
		t.Errorf("server got %q", got)
	}
}

func TestRunPortGoesDown(t *testing.T) {
	s := newSite(t, false, echo)
	d := newDialer(t, map[int]string{8080: s.addr()})
	o := fast(d)
	o.Ports = []int{8080}
	o.RetryCount = 2
	o.Cmds = mustCmds(t, "/a", "/b")
	var once sync.Once
	o.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		once.Do(func() { s.Listener.Close() }) // the app dies after the readiness check
		return c, err
	}

	start := time.Now()
	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 3 || res.Passed != 0 {
		t.Fatalf("requests %q: want 3 failed", summary(res))
	}
	if e := res.Requests[2].Error; !strings.Contains(e, "port 8080 stopped accepting connections") {
		t.Errorf("last error %q", e)
	}
	// Only the first request waited through its retries.
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("took %s", elapsed)
	}
}

func TestRunCancelReadinessWait(t *testing.T) {
	d := newDialer(t, nil) // every port refused
	o := fast(d)
	o.Ports = []int{8080}
	o.RetryWait = 10 * time.Second
	o.RetryCount = 5

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := Run(ctx, o)
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if elapsed > 150*time.Millisecond {
		t.Errorf("stopped %s after the start, want about 50ms", elapsed)
	}
}

func TestRunCancelRequest(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newSite(t, false, func(w http.ResponseWriter, r *http.Request) {
		select { // a slow page
		case <-r.Context().Done():
		case <-release:
		}
	})
	o := fast(newDialer(t, map[int]string{8080: s.addr()}))
	o.Ports = []int{8080}
	o.Cmds = mustCmds(t, "/next")

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, o)
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if elapsed > 150*time.Millisecond {
		t.Errorf("stopped %s after the start, want about 50ms", elapsed)
	}
	if got := summary(res); !slices.Equal(got, []string{"8080 http GET / 0 error"}) {
		t.Errorf("requests %q: want the interrupted one only", got)
	}
}

func TestRunStartWait(t *testing.T) {
	s := newSite(t, false, echo)
	o := fast(newDialer(t, map[int]string{8080: s.addr()}))
	o.Ports = []int{8080}
	o.StartWait = 100 * time.Millisecond
	start := time.Now()
	if _, err := Run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < o.StartWait {
		t.Errorf("done after %s, before the start wait", elapsed)
	}
}
