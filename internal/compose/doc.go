// Package compose reads Compose files (the Compose Specification, through
// its own Go library, compose-go) into the plain description slimtrace
// needs to run an app beside the services it depends on: each service's
// image, command, environment, ports, mounts, dependencies and healthcheck,
// in start order. Interpolation, env files, profiles, extends and the
// merging of several files are the library's; what this package adds is
// the refusal, by name, of every key slimtrace would otherwise silently
// ignore, and the choice of a target service and its dependencies.
//
// It is pure: it imports compose-go and the image spec's types, no
// containerd, BuildKit, os/exec or network package, and its only I/O is
// the library reading the compose and env files it is given (and its
// warnings, such as a variable not set, which it logs with logrus).
package compose
