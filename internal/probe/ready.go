package probe

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// readyDialTimeout bounds one connection attempt of the readiness wait.
const readyDialTimeout = 3 * time.Second

// NotReadyError says a port never accepted a TCP connection. The caller
// knows the container: it can add the last log lines and the exit status.
type NotReadyError struct {
	Port     int
	Attempts int
	Waited   time.Duration // from the first attempt to the last
	LastErr  error
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("port %d not accepting connections after %d attempts in %s: %v",
		e.Port, e.Attempts, e.Waited.Round(time.Millisecond), e.LastErr)
}

func (e *NotReadyError) Unwrap() error { return e.LastErr }

// backoff is an exponential wait: wait, 2×wait, ... capped at max.
type backoff struct {
	wait, max time.Duration
}

// sleep waits the current delay, or less if ctx ends first, then doubles it.
func (b *backoff) sleep(ctx context.Context) error {
	if err := sleep(ctx, b.wait); err != nil {
		return err
	}
	b.wait = min(2*b.wait, b.max)
	return nil
}

// sleep waits d, or less if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// readyPoll is the first and the longest wait between the readiness wait's
// dials: a port that opens a few milliseconds after the app starts is seen
// within ten, one that takes seconds costs a dial every quarter second.
const (
	readyPollFirst = 10 * time.Millisecond
	readyPollMax   = 250 * time.Millisecond
)

// waitReady dials port until it accepts a connection, for as long as
// RetryCount retries with the backoff between them would take (23 s by
// default), but checking far more often than the backoff: nothing tells
// when an app starts listening, and a dial on the target's loopback costs
// microseconds.
func (r *runner) waitReady(ctx context.Context, port int) error {
	addr := net.JoinHostPort(r.o.Host, strconv.Itoa(port))
	budget := r.backoff().total(r.o.RetryCount)
	poll := backoff{wait: min(readyPollFirst, r.o.RetryWait), max: min(readyPollMax, r.o.RetryWait)}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, min(readyDialTimeout, r.o.RequestTimeout))
		c, err := r.dial(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			r.log.Debug().Int("port", port).Int("attempts", attempt).Dur("waited", time.Since(start)).Msg("port ready")
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for port %d: %w", port, context.Cause(ctx))
		}
		if time.Since(start) >= budget {
			return &NotReadyError{Port: port, Attempts: attempt, Waited: time.Since(start), LastErr: err}
		}
		if attempt == 1 {
			r.log.Debug().Int("port", port).Dur("for", budget).Err(err).Msg("port not ready: waiting")
		}
		if err := poll.sleep(ctx); err != nil {
			return fmt.Errorf("waiting for port %d: %w", port, err)
		}
	}
}

// total is how long n sleeps of b take.
func (b backoff) total(n int) time.Duration {
	var d time.Duration
	for range n {
		d += b.wait
		b.wait = min(2*b.wait, b.max)
	}
	return d
}
