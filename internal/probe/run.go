package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// Defaults taken by the zero values of Options.
const (
	DefaultRetryCount     = 5
	DefaultRetryWait      = time.Second
	DefaultRequestTimeout = 15 * time.Second
	DefaultCrawlMaxDepth  = 3
	DefaultCrawlMaxPages  = 100

	// maxRetryWaitFactor caps the backoff at this many RetryWaits when
	// MaxRetryWait is zero: 1s, 2s, 4s, 8s, 8s by default.
	maxRetryWaitFactor = 8
)

// ErrNoPorts is returned by Run when there is no port to probe.
var ErrNoPorts = errors.New("no ports to probe")

// Options configure Run. Zero values take the defaults above.
type Options struct {
	// DialContext reaches the target, typically inside its network
	// namespace. Nil dials from the current namespace.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Host is the target's address as DialContext understands it, e.g.
	// "127.0.0.1".
	Host string
	// Ports are the exposed TCP ports: the image's and --expose.
	Ports []int
	// OnlyPorts (--http-probe-ports), when not empty, is probed instead of
	// Ports. A port need not be exposed: dialing happens inside the
	// target's namespace, where nothing has to be published.
	OnlyPorts []int
	// Cmds are the user's commands. One with a Port is sent to that port
	// only, which is probed even if neither Ports nor OnlyPorts holds it.
	Cmds []Cmd
	// NoDefaultCmd leaves out the GET / otherwise sent first to every port.
	NoDefaultCmd bool

	// StartWait (--http-probe-start-wait) is waited once, before the first
	// connection attempt. Default 0: the readiness wait makes it rarely
	// needed.
	StartWait time.Duration
	// RetryCount (--http-probe-retry-count) is how many times a port is
	// dialed again before it is declared not ready, and how many times a
	// request that could not connect is sent again. Default 5; negative
	// means no retries.
	RetryCount int
	// RetryWait (--http-probe-retry-wait) is the first wait between
	// retries; it doubles at each retry up to MaxRetryWait. Default 1s.
	RetryWait time.Duration
	// MaxRetryWait caps the backoff. Default 8×RetryWait.
	MaxRetryWait time.Duration
	// RequestTimeout bounds one request, reading the body included.
	// Default 15s.
	RequestTimeout time.Duration

	// Crawl (--http-probe-crawl) follows the same-origin links of the HTML
	// pages the commands return.
	Crawl bool
	// CrawlMaxDepth bounds the link distance from a command's page.
	// Default 3.
	CrawlMaxDepth int
	// CrawlMaxPages bounds the pages the crawl fetches per port. Default 100.
	CrawlMaxPages int

	// Logger receives a line per request. Nil uses the context's logger
	// (zerolog.Ctx), which is disabled unless one was attached.
	Logger *zerolog.Logger
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Host == "" {
		return o, errors.New("no target host")
	}
	if u, err := url.Parse("http://" + net.JoinHostPort(o.Host, "1")); err != nil || u.Hostname() != o.Host {
		return o, fmt.Errorf("bad target host %q", o.Host)
	}
	for _, p := range slices.Concat(o.Ports, o.OnlyPorts) {
		if err := checkPort(p); err != nil {
			return o, err
		}
	}
	for _, c := range o.Cmds {
		if err := c.check(); err != nil {
			return o, fmt.Errorf("invalid probe command %q: %w", c.String(), err)
		}
	}
	if o.DialContext == nil {
		o.DialContext = (&net.Dialer{}).DialContext
	}
	switch {
	case o.RetryCount == 0:
		o.RetryCount = DefaultRetryCount
	case o.RetryCount < 0:
		o.RetryCount = 0
	}
	if o.RetryWait <= 0 {
		o.RetryWait = DefaultRetryWait
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = maxRetryWaitFactor * o.RetryWait
	}
	o.MaxRetryWait = max(o.MaxRetryWait, o.RetryWait)
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.CrawlMaxDepth <= 0 {
		o.CrawlMaxDepth = DefaultCrawlMaxDepth
	}
	if o.CrawlMaxPages <= 0 {
		o.CrawlMaxPages = DefaultCrawlMaxPages
	}
	return o, nil
}

// check validates a command built by hand rather than parsed.
func (c Cmd) check() error {
	if c.Proto != "" && c.Proto != ProtoHTTP && c.Proto != ProtoHTTPS {
		return fmt.Errorf("unknown protocol %q: want http or https", c.Proto)
	}
	if err := checkMethod(c.Method); err != nil {
		return err
	}
	if err := checkResource(c.Resource); err != nil {
		return err
	}
	for k, v := range c.Headers {
		if err := checkHeader(k, v); err != nil {
			return err
		}
	}
	if c.Port != 0 {
		return checkPort(c.Port)
	}
	return nil
}

// Source says why a request was sent.
type Source string

// Sources of requests.
const (
	SourceDefault Source = "default" // the GET / sent to every port
	SourceCmd     Source = "cmd"     // a user command
	SourceCrawl   Source = "crawl"   // a link found by the crawl
)

// Request records one probe request, failed or not.
type Request struct {
	Port     int           `json:"port"`
	Proto    string        `json:"proto"`
	Method   string        `json:"method"`
	Resource string        `json:"resource"` // path and query
	Source   Source        `json:"source"`
	Depth    int           `json:"depth,omitempty"`  // link distance from a command's page, for the crawl
	Status   int           `json:"status,omitempty"` // after same-host redirects
	Size     int64         `json:"size"`             // body bytes read
	Latency  time.Duration `json:"latency"`          // from sending to the end of the body
	SHA256   string        `json:"sha256,omitempty"` // hex digest of the body read
	// Body is the body's first 256 KiB (all of it when Size is no larger):
	// kept in memory for comparisons, never written out.
	Body  []byte `json:"-"`
	Error string `json:"error,omitempty"`
}

// Passed reports whether the target answered with a 2xx or 3xx status.
func (r Request) Passed() bool {
	return r.Error == "" && r.Status >= 200 && r.Status < 400
}

// Result is what Run did.
type Result struct {
	Ports    []int     `json:"ports"` // waited for and, when ready, probed; in order
	Requests []Request `json:"requests"`
	Passed   int       `json:"passed"`
	Failed   int       `json:"failed"`
}

func (res *Result) add(r Request) {
	res.Requests = append(res.Requests, r)
	if r.Passed() {
		res.Passed++
	} else {
		res.Failed++
	}
}

// Run probes every port in turn: it waits until the port accepts TCP
// connections, sends the default GET / and the commands, and crawls when
// asked. A request that fails is recorded in the Result, not returned.
//
// Run returns an error for invalid options, ErrNoPorts, a cancelled
// context, or ports that never became ready: those are *NotReadyError
// (joined when several), found with errors.As, and the other ports are
// still probed. The Result is never nil and holds what was done.
func Run(ctx context.Context, opts Options) (*Result, error) {
	res := &Result{}
	o, err := opts.withDefaults()
	if err != nil {
		return res, fmt.Errorf("checking probe options: %w", err)
	}
	r := newRunner(ctx, o)
	defer r.close()

	res.Ports = o.ports()
	if len(res.Ports) == 0 {
		return res, ErrNoPorts
	}
	if o.StartWait > 0 {
		r.log.Debug().Dur("start_wait", o.StartWait).Msg("waiting before probing")
		if err := sleep(ctx, o.StartWait); err != nil {
			return res, fmt.Errorf("waiting before probing: %w", err)
		}
	}
	var notReady []error
	for _, port := range res.Ports {
		err := r.waitReady(ctx, port)
		var nr *NotReadyError
		if errors.As(err, &nr) {
			r.log.Warn().Int("port", port).Err(err).Msg("port not ready")
			notReady = append(notReady, err)
			continue
		}
		if err != nil {
			return res, err
		}
		r.probePort(ctx, port, res)
		if ctx.Err() != nil {
			return res, fmt.Errorf("probing port %d: %w", port, context.Cause(ctx))
		}
	}
	return res, errors.Join(notReady...)
}

// ports lists the ports to probe, in order, without duplicates.
func (o Options) ports() []int {
	ports := o.Ports
	if len(o.OnlyPorts) > 0 {
		ports = o.OnlyPorts
	}
	var out []int
	add := func(p int) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, p := range ports {
		add(p)
	}
	for _, c := range o.Cmds {
		if c.Port != 0 {
			add(c.Port)
		}
	}
	return out
}

// selected reports whether port was chosen by Ports or OnlyPorts, rather
// than only named by a command.
func (o Options) selected(port int) bool {
	if len(o.OnlyPorts) > 0 {
		return slices.Contains(o.OnlyPorts, port)
	}
	return slices.Contains(o.Ports, port)
}
