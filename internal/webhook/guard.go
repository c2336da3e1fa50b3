package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Denied are the networks no webhook reaches unless the operator allows
// them (Guard.Allow, perseus serve --webhook-allow): what is not the
// public internet, where a request would reach the server's own host, its
// private network or a cloud's metadata service on a tenant's behalf.
var Denied = []Network{
	{"0.0.0.0/8", "this network (0.0.0.0, unspecified)"},
	{"127.0.0.0/8", "loopback"},
	{"10.0.0.0/8", "private (RFC 1918)"},
	{"172.16.0.0/12", "private (RFC 1918)"},
	{"192.168.0.0/16", "private (RFC 1918)"},
	{"100.64.0.0/10", "shared address space (carrier-grade NAT)"},
	{"169.254.0.0/16", "link-local (cloud metadata at 169.254.169.254)"},
	{"192.0.0.0/24", "IETF protocol assignments"},
	{"198.18.0.0/15", "benchmarking"},
	{"224.0.0.0/4", "multicast"},
	{"240.0.0.0/4", "reserved and broadcast (255.255.255.255)"},
	{"::/128", "unspecified"},
	{"::1/128", "loopback"},
	{"::/96", "IPv4-compatible"},
	{"64:ff9b::/96", "NAT64 (an IPv4 address inside)"},
	{"64:ff9b:1::/48", "local NAT64"},
	{"fc00::/7", "unique local (private; AWS metadata at fd00:ec2::254)"},
	{"fe80::/10", "link-local"},
	{"ff00::/8", "multicast"},
}

// Network is a denied network and what it is, for the message that names it.
type Network struct {
	CIDR, What string
}

var denied = func() []netip.Prefix {
	out := make([]netip.Prefix, len(Denied))
	for i, n := range Denied {
		out[i] = netip.MustParsePrefix(n.CIDR)
	}
	return out
}()

// Guard decides which addresses webhooks may reach: any but the Denied
// networks, and in them those the operator allowed. An allowed network
// overrides a denied one. The zero Guard denies every Denied network.
type Guard struct {
	Allow []netip.Prefix
}

// ParseAllow reads a list of networks in CIDR notation (10.1.0.0/16, or
// an address alone for itself), as --webhook-allow takes them.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network: give CIDR notation such as 10.1.0.0/16 or fd00::/8, or one address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ErrDenied is what a refused address wraps.
var ErrDenied = errors.New("webhook: address not allowed")

// deniedError says which address was refused and why.
type deniedError struct {
	addr netip.Addr
	net  Network
}

func (e *deniedError) Error() string {
	return fmt.Sprintf("%s is %s (%s), which webhooks may not reach unless the server allows it (perseus serve --webhook-allow %s)",
		e.addr, e.net.What, e.net.CIDR, e.net.CIDR)
}

func (e *deniedError) Unwrap() error { return ErrDenied }

// Check returns nil when a may be reached, or an error wrapping ErrDenied
// that names the network it is in. An IPv4 address written in IPv6
// (::ffff:a.b.c.d) is checked as the IPv4 address it is.
func (g Guard) Check(a netip.Addr) error {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	for i, p := range denied {
		if p.Contains(a) {
			return &deniedError{addr: a, net: Denied[i]}
		}
	}
	return nil
}

// control is a net.Dialer's ControlContext: it checks the address the
// connection is about to be made to, after name resolution, so that a
// name that resolves to one address when the webhook is registered and
// to another when it is delivered (DNS rebinding) is checked again.
func (g Guard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s is not an address", ErrDenied, address)
	}
	return g.Check(ap.Addr())
}

// MaxURL is the longest webhook URL taken, in bytes.
const MaxURL = 2048

// ErrInvalidURL is what a malformed webhook URL wraps.
var ErrInvalidURL = errors.New("webhook: invalid URL")

// CheckURL checks a webhook URL when it is registered: an absolute http or
// https URL with a host, without user or password, at most MaxURL bytes,
// whose host (an address, or a name resolved with r) is allowed. It
// returns an error wrapping ErrInvalidURL or ErrDenied, saying why. A
// name that no longer resolves, or resolves elsewhere, later is checked
// again at each delivery.
func (g Guard) CheckURL(ctx context.Context, r *net.Resolver, raw string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidURL, fmt.Sprintf(format, args...))
	}
	if len(raw) > MaxURL {
		return bad("the URL is longer than %d bytes", MaxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("%q does not parse as a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("%q: the scheme must be http or https", raw)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return bad("%q: give an absolute URL with a host, such as https://example.com/hooks", raw)
	case u.User != nil:
		return bad("%q: a user or password in the URL is not taken; authenticate deliveries by their signature", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("%q: a fragment (#…) is never sent; remove it", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || n.Port() == 0 {
			return bad("%q: port %s is not a port number", raw, p)
		}
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return bad("%q: an address with a zone is not taken", raw)
		}
		return g.Check(a)
	}
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return bad("the host %q does not resolve", host)
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return fmt.Errorf("%w (the host %s resolves to it)", err, host)
		}
	}
	return nil
}
