package trace

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The name tables agree with golang.org/x/sys/unix's constants.
func TestSecurityNames(t *testing.T) {
	caps := map[string]int{
		"chown": unix.CAP_CHOWN, "dac_override": unix.CAP_DAC_OVERRIDE, "kill": unix.CAP_KILL,
		"setgid": unix.CAP_SETGID, "setuid": unix.CAP_SETUID, "net_bind_service": unix.CAP_NET_BIND_SERVICE,
		"net_raw": unix.CAP_NET_RAW, "sys_chroot": unix.CAP_SYS_CHROOT, "sys_admin": unix.CAP_SYS_ADMIN,
		"mknod": unix.CAP_MKNOD, "audit_write": unix.CAP_AUDIT_WRITE, "setfcap": unix.CAP_SETFCAP,
		"syslog": unix.CAP_SYSLOG, "perfmon": unix.CAP_PERFMON, "bpf": unix.CAP_BPF,
		"checkpoint_restore": unix.CAP_CHECKPOINT_RESTORE,
	}
	for name, nr := range caps {
		if got := CapabilityName(nr); got != name {
			t.Errorf("capability %d named %q, want %q", nr, got, name)
		}
	}
	if len(capabilityNames) != unix.CAP_LAST_CAP+1 {
		t.Errorf("%d capability names, CAP_LAST_CAP is %d", len(capabilityNames), unix.CAP_LAST_CAP)
	}
	if got := CapabilityName(63); got != "cap_63" {
		t.Errorf("unknown capability named %q", got)
	}
	families := map[string]int{
		"unix": unix.AF_UNIX, "inet": unix.AF_INET, "inet6": unix.AF_INET6, "netlink": unix.AF_NETLINK,
		"packet": unix.AF_PACKET, "key": unix.AF_KEY, "alg": unix.AF_ALG, "vsock": unix.AF_VSOCK,
		"bluetooth": unix.AF_BLUETOOTH, "can": unix.AF_CAN, "xdp": unix.AF_XDP, "mctp": unix.AF_MCTP,
		"qipcrtr": unix.AF_QIPCRTR, "smc": unix.AF_SMC, "kcm": unix.AF_KCM, "ieee802154": unix.AF_IEEE802154,
	}
	for name, nr := range families {
		if got := FamilyName(uint32(nr)); got != name {
			t.Errorf("family %d named %q, want %q", nr, got, name)
		}
	}
	if len(familyNames) != unix.AF_MAX-1 {
		t.Errorf("%d family names, AF_MAX is %d", len(familyNames), unix.AF_MAX)
	}
	types := map[string]int{"stream": unix.SOCK_STREAM, "dgram": unix.SOCK_DGRAM, "raw": unix.SOCK_RAW,
		"rdm": unix.SOCK_RDM, "seqpacket": unix.SOCK_SEQPACKET, "dccp": unix.SOCK_DCCP, "packet": unix.SOCK_PACKET}
	for name, nr := range types {
		if got := SocketTypeName(uint32(nr)); got != name {
			t.Errorf("socket type %d named %q, want %q", nr, got, name)
		}
	}
	if FamilyName(99) != "family_99" || SocketTypeName(9) != "type_9" {
		t.Error("unknown numbers are not named by number")
	}
}

func TestSecurityText(t *testing.T) {
	r := NewCollector(Limits{}, nil).Report(Target{Cgroup: "/x"}, Tracer{Arch: "x86_64", CapabilitiesRecorded: true},
		time.Unix(0, 0), time.Unix(1, 0), nil, Lost{})
	r.NetworkFamilies = []NetworkFamily{{Family: "inet6", Type: "stream", Failed: 2}, {Family: "inet", Type: "stream", Calls: 3}}
	r.Capabilities = []Capability{{Name: "sys_chroot", Number: 18, Granted: 1, Setup: true},
		{Name: "net_bind_service", Number: 10, Granted: 1, Denied: 2}}
	SortNetworkFamilies(r.NetworkFamilies)
	SortCapabilities(r.Capabilities)
	if r.NetworkFamilies[0].Family != "inet" || r.Capabilities[0].Name != "net_bind_service" {
		t.Errorf("not sorted: %+v %+v", r.NetworkFamilies, r.Capabilities)
	}
	var b bytes.Buffer
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Network families (2)", "inet stream", "inet6 stream", "2 failed",
		"Capabilities checked (2)", "net_bind_service", "2 denied", "[runtime setup]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
	r.Tracer.CapabilitiesRecorded = false
	b.Reset()
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Capabilities: not recorded") {
		t.Errorf("text report does not say capabilities were not recorded:\n%s", b.String())
	}
}
