package fileset

import (
	"path"
	"slices"
	"strings"
)

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name, uid, home string
}

// lookupUser finds a user by name or uid in /etc/passwd's content.
func lookupUser(b []byte, user string) (passwdEntry, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[0] == user || (isNumber(user) && f[2] == user) {
			return passwdEntry{name: f[0], uid: f[2], home: f[5]}, true
		}
	}
	return passwdEntry{}, false
}

// parseNsswitch reads nsswitch.conf: each database's services in order,
// without the [STATUS=action] items.
func parseNsswitch(b []byte) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		db, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		db = strings.TrimSpace(db)
		var svcs []string
		inAction := false
		for _, w := range strings.Fields(rest) {
			switch {
			case strings.HasPrefix(w, "["):
				inAction = !strings.HasSuffix(w, "]")
			case inAction:
				inAction = !strings.HasSuffix(w, "]")
			default:
				svcs = append(svcs, w)
			}
		}
		out[db] = svcs
	}
	return out
}

// nssDefaults are glibc's services for a database nsswitch.conf leaves out.
var nssDefaults = map[string][]string{"passwd": {"files"}, "group": {"files"}, "hosts": {"dns", "files"}}

// netFiles are what name and service lookups read.
var netFiles = []string{"/etc/nsswitch.conf", "/etc/hosts", "/etc/resolv.conf", "/etc/host.conf", "/etc/gai.conf",
	"/etc/services", "/etc/protocols"}

// nss keeps the resolver files (--include-oslibs-net) and, for glibc, the
// NSS modules of the databases the set needs (users, hosts) with libresolv.
func (c *computer) nss() {
	net := !c.opts.NoOSLibsNet
	if net {
		for _, p := range netFiles {
			c.keep(p, ReasonNSS, "")
		}
		c.nssDBs = append(c.nssDBs, "hosts")
	}
	ld := c.elf.glibc
	if len(c.nssDBs) == 0 || ld == nil {
		return // NSS modules are glibc's
	}
	var conf map[string][]string
	if b, err := c.readResolved(Resolve(c.fs, "/etc/nsswitch.conf")); err == nil {
		conf = parseNsswitch(b)
	}
	type lib struct{ name, db string }
	var libs []lib
	for _, db := range c.nssDBs {
		svcs, ok := conf[db]
		if !ok {
			svcs = nssDefaults[db]
		}
		if db == "hosts" {
			svcs = append(slices.Clone(svcs), "files", "dns")
		}
		for _, s := range svcs {
			libs = append(libs, lib{"libnss_" + s + ".so.2", db})
		}
	}
	if net {
		libs = append(libs, lib{"libresolv.so.2", "hosts"})
	}
	hdr := c.elf.glibcHdr
	dirs := c.sysDirs(ld, hdr)
	for _, l := range libs {
		if p, ok := c.findLib(l.name, dirs, hdr); ok {
			lk, e := c.keep(p, ReasonNSS, "NSS module for "+l.db)
			if e != nil && e.Mode.IsRegular() {
				c.enqueue(item{path: lk.Resolved, ld: ld})
			}
		}
	}
}

// certStores are where TLS libraries look for CA certificates, on the
// distributions we know; directories are kept whole, with what their
// links point to.
var certStores = []string{
	"/etc/ssl/certs", "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem", "/etc/ssl/openssl.cnf",
	"/usr/lib/ssl/certs", "/usr/lib/ssl/cert.pem", "/usr/lib/ssl/openssl.cnf",
	"/etc/pki/tls/certs", "/etc/pki/tls/cert.pem", "/etc/pki/tls/openssl.cnf", "/etc/pki/ca-trust/extracted",
	"/var/lib/ca-certificates",
}

// isTLSFile tells the libraries and modules that speak TLS by name.
func isTLSFile(p string) bool {
	base := path.Base(p)
	for _, prefix := range []string{"libssl.so", "libssl3.so", "libcrypto.so", "libgnutls.so", "libnss3.so",
		"libmbedtls.so", "libwolfssl.so", "libtls.so", "libboringssl"} {
		if strings.HasPrefix(base, prefix) {
			return true
		}
	}
	return (strings.HasPrefix(base, "_ssl.") && strings.Contains(base, ".so")) || // Python
		base == "openssl.so" || // Ruby
		base == "libjava.so" // a JVM: its TLS reads lib/security/cacerts
}

// certs keeps the CA stores when a kept file speaks TLS or the application
// read a store (--include-cert-all), and the bundles language packages
// ship: certifi's in the Python site directories the application used, a
// JVM's cacerts.
func (c *computer) certs() {
	if c.opts.NoCertAll {
		return
	}
	by := c.tlsBy
	paths := make([]string, 0, len(c.entries))
	for p := range c.entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if by == "" {
		for _, p := range paths {
			e := c.entries[p]
			if e.Mode.IsRegular() && isTLSFile(p) ||
				c.traced[p] && slices.ContainsFunc(certStores, func(s string) bool { return under(p, s) }) {
				by = p
				break
			}
		}
	}
	if by == "" {
		return
	}
	detail := "TLS in use: " + by
	for _, s := range certStores {
		if l, e := c.keep(s, ReasonCerts, detail); e != nil && e.Mode.IsDir() {
			c.keepTree(l.Resolved, ReasonCerts, detail, nil)
		}
	}
	for _, site := range c.sites {
		c.keep(site+"/certifi/cacert.pem", ReasonCerts, detail)
		c.keep(site+"/pip/_vendor/certifi/cacert.pem", ReasonCerts, detail)
	}
	for _, p := range paths {
		if path.Base(p) != "libjava.so" {
			continue
		}
		dir := path.Dir(p) // lib/ (JDK 9+) or lib/ARCH/ (JDK 8)
		for _, cand := range []string{dir + "/security/cacerts", path.Dir(dir) + "/security/cacerts"} {
			c.keep(cand, ReasonCerts, detail)
		}
	}
}
