package cli

import (
	"fmt"
	"math"

	"github.com/spf13/pflag"
)

// limitFlags are serve's limits per tenant: a request rate per API key and
// quotas of what each tenant keeps.
type limitFlags struct {
	rate       float64
	burst      int
	quotaBytes int64
	quotaFiles int64
}

// register adds the limit flags to fl and their variables to env.
func (l *limitFlags) register(fl *pflag.FlagSet, env envFlags) {
	for flag, v := range map[string]string{"rate-limit": "PERSEUS_RATE_LIMIT", "rate-burst": "PERSEUS_RATE_BURST",
		"quota-bytes": "PERSEUS_QUOTA_BYTES", "quota-files": "PERSEUS_QUOTA_FILES"} {
		env[flag] = v
	}
	fl.Float64Var(&l.rate, "rate-limit", 0, "`N` requests per second each API key may make, sustained; beyond, 429 with Retry-After (0: no limit) [PERSEUS_RATE_LIMIT]")
	fl.IntVar(&l.burst, "rate-burst", 0, "`N` requests each API key may make at once (default: --rate-limit, rounded up) [PERSEUS_RATE_BURST]")
	sizeVar(fl, &l.quotaBytes, "quota-bytes", 0, "`SIZE` of uploaded files each tenant may keep, e.g. 5GiB (0: no quota) [PERSEUS_QUOTA_BYTES]")
	fl.Int64Var(&l.quotaFiles, "quota-files", 0, "`N` files (pending or uploaded) each tenant may keep (0: no quota) [PERSEUS_QUOTA_FILES]")
}

// check refuses limits the server cannot run with, in one line.
func (l limitFlags) check() error {
	bad := func(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
	switch {
	case l.rate < 0 || math.IsNaN(l.rate) || math.IsInf(l.rate, 0):
		return bad("--rate-limit %v: give requests per second, 0 for no limit", l.rate)
	case l.burst < 0:
		return bad("--rate-burst %d: must not be negative", l.burst)
	case l.burst > 0 && l.rate == 0:
		return bad("--rate-burst %d: a burst alone limits nothing; set --rate-limit too", l.burst)
	case l.quotaFiles < 0:
		return bad("--quota-files %d: must not be negative (0: no quota)", l.quotaFiles)
	}
	return nil
}
