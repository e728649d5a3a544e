package integration

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// socket is a listening socket of this process: a TCP socket in LISTEN
// state or an unconnected UDP socket (HTTP/3), as the kernel lists them
// in /proc/net.
type socket struct {
	network string // "tcp" or "udp"
	addr    netip.AddrPort
}

func (s socket) String() string { return s.network + " " + s.addr.String() }

// listeners returns the listening sockets this process holds: the ones in
// /proc/self/net/{tcp,tcp6,udp,udp6} whose inode is one of the process's
// open file descriptors. Sockets of other processes on the machine are
// left out, whatever their port.
func listeners() ([]socket, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil {
			continue // closed since ReadDir
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var out []socket
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/self/net/" + table)
		if err != nil {
			return nil, err
		}
		socks, err := parseSockets(f, strings.TrimSuffix(table, "6"), inodes)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("/proc/self/net/%s: %w", table, err)
		}
		out = append(out, socks...)
	}
	return out, nil
}

// parseSockets reads one /proc/net/{tcp,udp}[6] table and returns its
// listening sockets whose inode is in inodes (all of them when inodes is
// nil). Columns: sl local_address rem_address st ... inode; addresses are
// hex, each 32-bit word in host (little-endian) order.
func parseSockets(r io.Reader, network string, inodes map[string]bool) ([]socket, error) {
	const (
		tcpListen      = "0A"
		udpUnconnected = "07"
	)
	var out []socket
	sc := bufio.NewScanner(r)
	sc.Scan() // header line
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		local, remote, state, inode := f[1], f[2], f[3], f[9]
		if inodes != nil && !inodes[inode] {
			continue
		}
		switch {
		case network == "tcp" && state == tcpListen:
		case network == "udp" && state == udpUnconnected && strings.Trim(remote, "0:") == "":
		default:
			continue
		}
		addr, err := parseProcAddr(local)
		if err != nil {
			return nil, err
		}
		out = append(out, socket{network: network, addr: addr})
	}
	return out, sc.Err()
}

// parseProcAddr decodes a /proc/net address such as 0100007F:24E3
// (127.0.0.1:9443) or its 32-hex-digit IPv6 form.
// IPv4-mapped IPv6 addresses come back as IPv4.
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q: no port", s)
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: not 4 or 16 hex bytes", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: port: %v", s, err)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// outsideLoopback returns the sockets not bound to a loopback address
// (0.0.0.0 and :: included: they listen on every interface).
func outsideLoopback(socks []socket) []socket {
	var out []socket
	for _, s := range socks {
		if !s.addr.Addr().IsLoopback() {
			out = append(out, s)
		}
	}
	return out
}

// requireLoopback fails the test if this process listens anywhere but on
// loopback: Caddy's admin, HTTP, HTTPS and HTTP/3 listeners, and the
// tests' own upstreams and CAs.
func requireLoopback(t *testing.T) {
	t.Helper()
	socks, err := listeners()
	if err != nil {
		t.Fatalf("listing this process's listeners: %v", err)
	}
	if bad := outsideLoopback(socks); len(bad) > 0 {
		t.Errorf("listening outside loopback: %v; the harness must bind 127.0.0.1 only (Caddyfile: the globals' default_bind; JSON: \"listen\": [\"127.0.0.1:port\"])", bad)
	}
}

// waitHandOver waits until no address has two listening sockets, that is
// until the listeners of the config a /load replaced are closed. Caddy
// opens a new config's listeners beside the old ones (SO_REUSEPORT) and
// closes the old ones afterwards, the admin endpoint's in the background,
// even when the new config is refused. A connection made before then
// may reach the old server and be dropped unanswered (see
// docs/testing.md); waiting here keeps a test's next request off it.
func waitHandOver(t *testing.T) {
	t.Helper()
	eventually(t, 15*time.Second, "the previous config's listeners to close", func() (bool, string) {
		socks, err := listeners()
		if err != nil {
			t.Fatalf("listing this process's listeners: %v", err)
		}
		seen := map[socket]bool{}
		var twice []socket
		for _, s := range socks {
			if seen[s] {
				twice = append(twice, s)
			}
			seen[s] = true
		}
		return len(twice) == 0, fmt.Sprintf("two listening sockets on %v", twice)
	})
}

// TestHarnessListensOnLoopback loads a config as every Caddyfile test does
// and checks, from the kernel's socket tables, that each listener Caddy
// opened (admin, the HTTP port with its redirects, HTTPS over TCP and
// HTTP/3 over UDP) is bound to loopback, not to every interface.
func TestHarnessListensOnLoopback(t *testing.T) {
	load(t, caddyfile("local_certs", "localhost {\n\thsts\n\trespond \"ok\"\n}\n"), "caddyfile")
	waitCert(t, "localhost", localRoot(t))

	socks, err := listeners()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("listeners of this process: %v", socks)
	for _, want := range []struct {
		network string
		port    int
	}{{"tcp", adminPort}, {"tcp", httpPort}, {"tcp", httpsPort}, {"udp", httpsPort}} {
		if !slices.ContainsFunc(socks, func(s socket) bool { return s.network == want.network && int(s.addr.Port()) == want.port }) {
			t.Errorf("no %s listener on port %d among %v: the check would pass without looking at Caddy", want.network, want.port, socks)
		}
	}
	if bad := outsideLoopback(socks); len(bad) > 0 {
		t.Errorf("listening outside loopback: %v", bad)
	}
}

// TestSocketTables checks the /proc/net reader against lines the kernel
// writes, so that requireLoopback can fail: 0.0.0.0 and :: are outside
// loopback, a connected UDP socket and a TCP connection are not listeners,
// and sockets of other processes (other inodes) are left out.
func TestSocketTables(t *testing.T) {
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:24E3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0
   1: 00000000:2378 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 102 1 0000000000000000 100 0 0 10 0
   2: 0100007F:24E3 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 103 1 0000000000000000 20 4 30 10 -1
   3: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0
`
	const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:24E3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 104 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:24E3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 105 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:2378 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 106 1 0000000000000000 100 0 0 10 0
`
	const udp = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 0100007F:24E3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 107 2 0000000000000000 0
  2: 00000000:24E3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 108 2 0000000000000000 0
  3: 0F02000A:A1B2 0202000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 109 2 0000000000000000 0
`
	ours := map[string]bool{}
	for i := 101; i <= 109; i++ {
		ours[strconv.Itoa(i)] = true
	}
	var socks []socket
	for _, table := range []struct{ network, text string }{{"tcp", tcp}, {"tcp", tcp6}, {"udp", udp}} {
		got, err := parseSockets(strings.NewReader(table.text), table.network, ours)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, got...)
	}
	var all, bad []string
	for _, s := range socks {
		all = append(all, s.String())
	}
	for _, s := range outsideLoopback(socks) {
		bad = append(bad, s.String())
	}
	wantAll := []string{"tcp 127.0.0.1:9443", "tcp 0.0.0.0:9080", "tcp [::1]:9443", "tcp [::]:9443", "tcp 127.0.0.1:9080", "udp 127.0.0.1:9443", "udp 0.0.0.0:9443"}
	wantBad := []string{"tcp 0.0.0.0:9080", "tcp [::]:9443", "udp 0.0.0.0:9443"}
	if !slices.Equal(all, wantAll) {
		t.Errorf("listeners = %q, want %q", all, wantAll)
	}
	if !slices.Equal(bad, wantBad) {
		t.Errorf("outside loopback = %q, want %q", bad, wantBad)
	}
}
