package container

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
)

// HostEntry is one extra /etc/hosts line, parsed from docker's --add-host
// syntax.
type HostEntry struct {
	Host string
	IP   net.IP
}

// ParseHostEntry parses HOST:IP (or HOST=IP). The host is split at the first
// separator, so IPv6 addresses work: "db:::1".
func ParseHostEntry(s string) (HostEntry, error) {
	i := strings.IndexAny(s, ":=")
	if i < 0 {
		return HostEntry{}, fmt.Errorf("host entry %q: want HOST:IP", s)
	}
	host, addr := s[:i], strings.Trim(s[i+1:], "[]")
	if host == "" || strings.ContainsAny(host, " \t") {
		return HostEntry{}, fmt.Errorf("host entry %q: bad host name %q", s, host)
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return HostEntry{}, fmt.Errorf("host entry %q: %q is not an IP address", s, addr)
	}
	return HostEntry{Host: host, IP: ip}, nil
}

// hostsFile renders the container's /etc/hosts. base is the host's
// /etc/hosts for a container on the host network, nil for a private one.
func hostsFile(base []byte, hostname string, extra []HostEntry) []byte {
	var b bytes.Buffer
	if base != nil {
		b.Write(base)
		if len(base) > 0 && base[len(base)-1] != '\n' {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost\n")
		b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
		b.WriteString("fe00::0\tip6-localnet\n")
		b.WriteString("ff00::0\tip6-mcastprefix\n")
		b.WriteString("ff02::1\tip6-allnodes\n")
		b.WriteString("ff02::2\tip6-allrouters\n")
		if hostname != "" {
			fmt.Fprintf(&b, "127.0.0.1\t%s\n", hostname)
		}
	}
	for _, e := range extra {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, e.Host)
	}
	return b.Bytes()
}

// resolvConf renders the container's /etc/resolv.conf from the host's one,
// with servers and search domains replaced when given. On a private network
// the host's loopback name servers are dropped: nothing listens on the
// container's own loopback.
func resolvConf(host []byte, servers, search []string, private bool) []byte {
	var hostServers, hostSearch, options []string
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if ip := net.ParseIP(f[1]); private && ip != nil && ip.IsLoopback() {
				continue
			}
			hostServers = append(hostServers, f[1])
		case "search", "domain":
			hostSearch = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(servers) == 0 {
		servers = hostServers
	}
	if len(search) == 0 {
		search = hostSearch
	}
	var b bytes.Buffer
	b.WriteString("# written by slimtrace\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}
