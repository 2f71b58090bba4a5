module github.com/slimtrace/slimtrace

go 1.26.0

require (
	github.com/alecthomas/kong v1.15.0 // indirect
	github.com/cilium/ebpf v0.20.0 // indirect
	github.com/elastic/go-seccomp-bpf v1.6.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/rs/zerolog v1.35.1 // indirect
	golang.org/x/net v0.46.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

tool github.com/cilium/ebpf/cmd/bpf2go
