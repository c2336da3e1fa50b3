package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestGuardDeniesWhatIsNotTheInternet(t *testing.T) {
	var g Guard
	for _, a := range []string{"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
		"fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"} {
		if err := g.Check(netip.MustParseAddr(a)); !errors.Is(err, ErrDenied) {
			t.Errorf("Check(%s) = %v, want denied", a, err)
		}
	}
	for _, a := range []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "93.184.216.34"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", a, err)
		}
	}
	err := g.Check(netip.MustParseAddr("169.254.169.254"))
	if !strings.Contains(err.Error(), "169.254.0.0/16") || !strings.Contains(err.Error(), "--webhook-allow") {
		t.Errorf("the refusal does not say which network and how to allow it: %v", err)
	}

	allow, err := ParseAllow([]string{"127.0.0.0/8", " 10.1.0.0/16", "fd00::5"})
	if err != nil || len(allow) != 3 {
		t.Fatalf("ParseAllow = %v, %v", allow, err)
	}
	g = Guard{Allow: allow}
	for _, a := range []string{"127.0.0.1", "10.1.200.3", "fd00::5", "::ffff:127.0.0.1"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("allowed: Check(%s) = %v", a, err)
		}
	}
	for _, a := range []string{"10.2.0.1", "fd00::6", "169.254.169.254"} {
		if err := g.Check(netip.MustParseAddr(a)); err == nil {
			t.Errorf("Check(%s) allowed, beyond the allowed networks", a)
		}
	}
	if _, err := ParseAllow([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParseAllow(10.0.0.0/33): no error")
	}
	if _, err := ParseAllow([]string{"example.com"}); err == nil {
		t.Error("ParseAllow(example.com): no error")
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	var g Guard
	for raw, want := range map[string]error{
		"ftp://example.com/":                                ErrInvalidURL,
		"example.com/hook":                                  ErrInvalidURL,
		"https://":                                          ErrInvalidURL,
		"https://user:pw@example.com":                       ErrInvalidURL,
		"https://example.com/#frag":                         ErrInvalidURL,
		"https://example.com:0/":                            ErrInvalidURL,
		"http://127.0.0.1:8080/hook":                        ErrDenied,
		"http://[::1]/hook":                                 ErrDenied,
		"http://169.254.169.254/":                           ErrDenied,
		"http://localhost/hook":                             ErrDenied, // resolves to loopback
		"https://" + strings.Repeat("a", MaxURL) + ".com/":  ErrInvalidURL,
		"https://no-such-host.invalid/hook":                 ErrInvalidURL,
		"https://93.184.216.34/hook":                        nil,
		"http://[2606:4700:4700::1111]:8443/path?query=yes": nil,
	} {
		if err := g.CheckURL(ctx, nil, raw); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckURL(%.60q) = %v, want %v", raw, err, want)
		}
	}
	g.Allow, _ = ParseAllow([]string{"127.0.0.0/8", "::1"})
	for _, raw := range []string{"http://127.0.0.1:8080/hook", "http://localhost:9/x"} {
		if err := g.CheckURL(ctx, nil, raw); err != nil {
			t.Errorf("allowed loopback: CheckURL(%q) = %v", raw, err)
		}
	}
}

// TestSenderChecksTheAddressItConnectsTo: the guard holds at connect time,
// after resolution, whatever was checked at registration.
func TestSenderChecksTheAddressItConnectsTo(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) // a name, resolved when it connects
	secret := NewSecret()

	r := NewSender(Guard{}, 5*time.Second, "test").Send(context.Background(), url, secret, "evt_1", []byte("{}"))
	if r.OK() || r.Status != 0 || !errors.Is(r.Err, ErrDenied) || hits != 0 {
		t.Fatalf("to loopback without allowing it: %+v (hits %d)", r, hits)
	}
	t.Logf("refused: %v", r.Err)
	allow, _ := ParseAllow([]string{"127.0.0.0/8", "::1/128"})
	r = NewSender(Guard{Allow: allow}, 5*time.Second, "test").Send(context.Background(), url, secret, "evt_1", []byte("{}"))
	if !r.OK() || r.Status != 200 || hits != 1 {
		t.Fatalf("to loopback, allowed: %+v (hits %d)", r, hits)
	}
}

// TestSenderFollowsNoRedirect: a 3xx is a failed delivery that says so,
// and its target is never asked.
func TestSenderFollowsNoRedirect(t *testing.T) {
	target := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			target++
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	allow, _ := ParseAllow([]string{"127.0.0.0/8"})
	r := NewSender(Guard{Allow: allow}, 5*time.Second, "test").Send(context.Background(), srv.URL, NewSecret(), "evt_1", []byte("{}"))
	if r.OK() || r.Status != http.StatusTemporaryRedirect || target != 0 || !strings.Contains(r.Err.Error(), "redirects are not followed") {
		t.Fatalf("a redirect: %+v, target asked %d times", r, target)
	}
}
