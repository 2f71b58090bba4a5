package probe

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// strictTLS is a TLS server that, unlike net/http's, does not answer plain
// HTTP with a 400 but drops the connection, as many servers do: a failure
// at the protocol level.
func strictTLS(t *testing.T, h http.HandlerFunc) (s *site, addr string) {
	t.Helper()
	s = newSite(t, true, h) // for its certificate and its record of hits
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := &connListener{addr: l.Addr(), ch: make(chan net.Conn)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(conns.ch)
				return
			}
			go func() {
				tc := tls.Server(c, s.TLS)
				if err := tc.Handshake(); err != nil {
					c.Close()
					return
				}
				conns.ch <- tc
			}()
		}
	}()
	srv := &http.Server{Handler: s.Config.Handler}
	go srv.Serve(conns)
	t.Cleanup(func() { l.Close(); srv.Close() })
	return s, l.Addr().String()
}

// connListener hands connections already accepted to http.Server.
type connListener struct {
	addr net.Addr
	ch   chan net.Conn
}

func (l *connListener) Accept() (net.Conn, error) {
	c, ok := <-l.ch
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *connListener) Close() error   { return nil }
func (l *connListener) Addr() net.Addr { return l.addr }

func TestRunFallback(t *testing.T) {
	plain := newSite(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "bad request", http.StatusBadRequest)
		}
	})
	strict, strictAddr := strictTLS(t, echo)

	tests := []struct {
		name      string
		route     string
		cmds      []string
		wantRecs  []string
		wantHits  []string
		hitServer *site
	}{
		{
			name:  "protocol error on http: https",
			route: strictAddr, cmds: []string{"/x", "/y"},
			wantRecs:  []string{"80 https GET /x 200", "80 https GET /y 200"},
			wantHits:  []string{"GET /x", "GET /y"},
			hitServer: strict,
		},
		{
			name:  "plain 400: http kept",
			route: plain.addr(), cmds: []string{"/bad", "/bad", "/ok"},
			wantRecs:  []string{"80 http GET /bad 400", "80 http GET /bad 400", "80 http GET /ok 200"},
			wantHits:  []string{"GET /bad", "GET /bad", "GET /ok"},
			hitServer: plain,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.hitServer.mu.Lock()
			tt.hitServer.hits = nil
			tt.hitServer.mu.Unlock()
			o := fast(newDialer(t, map[int]string{80: tt.route}))
			o.Ports = []int{80}
			o.NoDefaultCmd = true
			o.Cmds = mustCmds(t, tt.cmds...)
			res, err := Run(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(res); !slices.Equal(got, tt.wantRecs) {
				t.Errorf("requests:\n got %q\nwant %q", got, tt.wantRecs)
			}
			if got := tt.hitServer.requests(); !slices.Equal(got, tt.wantHits) {
				t.Errorf("server got %q, want %q", got, tt.wantHits)
			}
		})
	}
}

func TestRunRedirects(t *testing.T) {
	s := newSite(t, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		case "/away":
			http.Redirect(w, r, "http://login.example/", http.StatusFound)
		case "/other-port":
			// Another service on the same host: not followed, so the
			// probe's headers never reach it.
			http.Redirect(w, r, "http://"+targetHost+":9090/admin", http.StatusFound)
		default:
			echo(w, r)
		}
	})
	other := newSite(t, false, echo)
	d := newDialer(t, map[int]string{8080: s.addr(), 9090: other.addr()})
	o := fast(d)
	o.Ports = []int{8080}
	o.NoDefaultCmd = true
	o.Cmds = mustCmds(t, "/old", "/away", "/other-port")

	res, err := Run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The same-host redirect is followed; the other is recorded as it is.
	if got, want := summary(res), []string{"8080 http GET /old 200", "8080 http GET /away 302", "8080 http GET /other-port 302"}; !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if got, want := s.requests(), []string{"GET /old", "GET /new", "GET /away", "GET /other-port"}; !slices.Equal(got, want) {
		t.Errorf("server got %q, want %q", got, want)
	}
	if got := d.askedFor(); !slices.Equal(got, []string{targetHost + ":8080"}) {
		t.Errorf("dialer asked for %q", got)
	}
	if got := other.requests(); len(got) > 0 {
		t.Errorf("the other port got %q", got)
	}
	if res.Passed != 3 {
		t.Errorf("passed %d, want 3", res.Passed)
	}
}

func TestRunLogs(t *testing.T) {
	s := newSite(t, false, echo)
	for _, viaContext := range []bool{false, true} {
		var buf bytes.Buffer
		log := zerolog.New(&buf)
		o := fast(newDialer(t, map[int]string{8080: s.addr()}))
		o.Ports = []int{8080}
		ctx := t.Context()
		if viaContext {
			ctx = log.WithContext(ctx)
		} else {
			o.Logger = &log
		}
		if _, err := Run(ctx, o); err != nil {
			t.Fatal(err)
		}
		line := `"level":"info","port":8080,"proto":"http","method":"GET","resource":"/","source":"default","status":200,"size":5`
		if !strings.Contains(buf.String(), line) || !strings.Contains(buf.String(), `"message":"probe request"`) {
			t.Errorf("context logger %v: log\n%s\nlacks %s", viaContext, buf.String(), line)
		}
	}
}
