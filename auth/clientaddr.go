package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are examined.
const maxForwardedHops = 32

// ClientAddr is the address of the client behind r. It is the peer
// (RemoteAddr) unless the peer is one of trusted; then X-Forwarded-For is
// read from the right, skipping trusted proxies, and the first address
// that is not one is the client. An untrusted peer's X-Forwarded-For is
// ignored: anyone can write one. An entry that does not parse stops the
// walk at the last trusted hop.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		hop, err := parseHop(hops[i])
		if err != nil {
			break
		}
		addr = hop
		if !isTrusted(addr, trusted) {
			break
		}
	}
	return addr.String()
}

// parseHop parses one X-Forwarded-For entry: an address, perhaps with a
// port.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
