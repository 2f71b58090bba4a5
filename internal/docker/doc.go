// Package docker is slimtrace's client of Docker Engine's API: the few
// calls that find images and containers in Docker, export and load
// images, with Docker's own ways of being reached (DOCKER_HOST, TLS
// material, contexts). It may import the standard library only: no other
// internal package, no Docker SDK.
package docker
