package trace

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// NetworkFamily is one (family, type) of socket the target's processes
// asked for with socket(2) or socketpair(2) (or a 32-bit socketcall of
// either).
type NetworkFamily struct {
	// Family is the address family by AppArmor's name, which is the AF_
	// constant's in lower case: "unix", "inet", "inet6", "netlink"; or
	// "family_N" for a number neither knows.
	Family string `json:"family"`
	// Type is the socket type by AppArmor's name: "stream", "dgram", "raw",
	// "rdm", "seqpacket", "dccp", "packet"; or "type_N".
	Type string `json:"type"`
	// Calls succeeded; Failed returned an error (an unsupported family,
	// a limit). AppArmor checks a socket before the kernel looks its
	// family up, so failed calls are mediated too.
	Calls  uint64 `json:"calls"`
	Failed uint64 `json:"failed,omitempty"`
	// Setup: made by processes without a lineage (the runtime's setup
	// before the entrypoint's exec).
	Setup bool `json:"setup,omitempty"`
	// CgroupID: as Syscall's, in a trace of watched cgroups.
	CgroupID uint64 `json:"cgroup_id,omitempty"`
}

// Capability is one capability the target's processes were checked for
// (capability:cap_capable), and how often the kernel's capability code
// granted or denied it.
type Capability struct {
	// Name is the capability by AppArmor's name, which is the CAP_
	// constant's in lower case without the prefix: "net_bind_service",
	// "chown"; or "cap_N" for a number neither knows.
	Name    string `json:"name"`
	Number  int    `json:"number"`
	Granted uint64 `json:"granted"`
	Denied  uint64 `json:"denied"`
	// Setup: checks of processes without a lineage (the runtime's setup
	// before the entrypoint's exec, or processes already running when
	// tracing began).
	Setup bool `json:"setup,omitempty"`
	// OtherCreds: checks of credentials other than the process's own,
	// made on its behalf (overlayfs works on its layers with the
	// mounter's credentials): a security module judges those by the
	// credentials' owner, not by the process's profile.
	OtherCreds bool `json:"other_creds,omitempty"`
	// Unmediated: checks the capability code made for itself, which no
	// security module sees (the CAP_SYS_ADMIN test of memory overcommit
	// on every private writable mapping).
	Unmediated bool `json:"unmediated,omitempty"`
	// CgroupID: as Syscall's, in a trace of watched cgroups.
	CgroupID uint64 `json:"cgroup_id,omitempty"`
}

// capabilityNames are capabilities(7) by number (Linux 6.x,
// include/uapi/linux/capability.h); a test checks them against
// golang.org/x/sys/unix's CAP_ constants.
var capabilityNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
	"linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
	"mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
	"checkpoint_restore",
}

// CapabilityName names capability number n: "net_bind_service" for 10.
func CapabilityName(n int) string {
	if n >= 0 && n < len(capabilityNames) {
		return capabilityNames[n]
	}
	return fmt.Sprintf("cap_%d", n)
}

// familyNames are the address families by number (include/linux/socket.h);
// a test checks them against golang.org/x/sys/unix's AF_ constants.
var familyNames = map[uint32]string{
	1: "unix", 2: "inet", 3: "ax25", 4: "ipx", 5: "appletalk", 6: "netrom", 7: "bridge", 8: "atmpvc",
	9: "x25", 10: "inet6", 11: "rose", 12: "decnet", 13: "netbeui", 14: "security", 15: "key", 16: "netlink",
	17: "packet", 18: "ash", 19: "econet", 20: "atmsvc", 21: "rds", 22: "sna", 23: "irda", 24: "pppox",
	25: "wanpipe", 26: "llc", 27: "ib", 28: "mpls", 29: "can", 30: "tipc", 31: "bluetooth", 32: "iucv",
	33: "rxrpc", 34: "isdn", 35: "phonet", 36: "ieee802154", 37: "caif", 38: "alg", 39: "nfc", 40: "vsock",
	41: "kcm", 42: "qipcrtr", 43: "smc", 44: "xdp", 45: "mctp",
}

// socketTypeNames are socket(2)'s types by number.
var socketTypeNames = map[uint32]string{
	1: "stream", 2: "dgram", 3: "raw", 4: "rdm", 5: "seqpacket", 6: "dccp", 10: "packet",
}

// FamilyName names address family n: "inet6" for 10.
func FamilyName(n uint32) string {
	if s, ok := familyNames[n]; ok {
		return s
	}
	return fmt.Sprintf("family_%d", n)
}

// SocketTypeName names socket type n (without SOCK_NONBLOCK and
// SOCK_CLOEXEC): "stream" for 1.
func SocketTypeName(n uint32) string {
	if s, ok := socketTypeNames[n]; ok {
		return s
	}
	return fmt.Sprintf("type_%d", n)
}

// SortNetworkFamilies orders families by family, type, then setup last.
func SortNetworkFamilies(f []NetworkFamily) {
	slices.SortFunc(f, func(a, b NetworkFamily) int {
		return cmp.Or(strings.Compare(a.Family, b.Family), strings.Compare(a.Type, b.Type), boolCmp(a.Setup, b.Setup),
			cmp.Compare(a.CgroupID, b.CgroupID))
	})
}

// SortCapabilities orders capabilities by number, then the application's
// own checks, the setup's, and those of other credentials.
func SortCapabilities(c []Capability) {
	slices.SortFunc(c, func(a, b Capability) int {
		return cmp.Or(cmp.Compare(a.Number, b.Number), boolCmp(a.Unmediated, b.Unmediated),
			boolCmp(a.OtherCreds, b.OtherCreds), boolCmp(a.Setup, b.Setup), cmp.Compare(a.CgroupID, b.CgroupID))
	})
}
