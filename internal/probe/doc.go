// Package probe exercises a running target so that the tracer sees the files
// its code paths use. It owns three kinds of probe:
//
//   - HTTP: wait until each port accepts TCP connections, then send the
//     default GET / and the user's commands (--http-probe-cmd,
//     --http-probe-cmd-file), trying http and then https when no protocol
//     is given;
//   - crawl: follow the same-origin links of the HTML pages those commands
//     return, breadth-first and bounded;
//   - exec: run a user's shell line on the host with the target's address
//     in its environment.
//
// The target lives in its own network namespace: the caller supplies the
// dialer that reaches it, and this package never decides how. Results are
// plain values (Result, ExecResult) for the report; a failing request is a
// recorded result, not an error. Progress goes to a zerolog logger, never to
// stdout.
package probe
