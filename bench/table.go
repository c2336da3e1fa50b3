package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one line of the table.
type row struct {
	n        int
	what     string
	perseus  string // the absolute figure of Perseus
	baseline string // the absolute figure of the baseline, or ""
	ratio    string // perseus / baseline, or ""
	target   string
	met      string // yes, no, or "-" when there is no target (or in smoke mode)
	notes    []string
}

// table collects rows and notes in the order they were measured.
type table struct{ rows []row }

func (t *table) add(r row) { t.rows = append(t.rows, r) }

// note adds notes to the last row numbered n.
func (t *table) note(n int, notes ...string) {
	for i := len(t.rows) - 1; i >= 0; i-- {
		if t.rows[i].n == n {
			t.rows[i].notes = append(t.rows[i].notes, notes...)
			return
		}
	}
}

func (t *table) print(w io.Writer, machine string, took time.Duration, cmd string) {
	slices.SortStableFunc(t.rows, func(a, b row) int { return a.n - b.n })
	fmt.Fprintf(w, "%s\n", machine)
	fmt.Fprintf(w, "command: %s (all rows took %s)\n\n", command(cmd), took.Round(time.Second))
	fmt.Fprintln(w, "| # | what | perseus | baseline | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", r.n, r.what, r.perseus, dash(r.baseline), dash(r.ratio), r.target, r.met)
	}
	fmt.Fprintln(w)
	for _, r := range t.rows {
		for _, n := range r.notes {
			fmt.Fprintf(w, "- row %d: %s\n", r.n, n)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// command is how the run was started: scripts/bench exports PERSEUS_BENCH_COMMAND.
func command(self string) string {
	if c := os.Getenv("PERSEUS_BENCH_COMMAND"); c != "" {
		return c
	}
	return strings.Join(append([]string{self}, os.Args[1:]...), " ")
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("machine: %d CPUs (%s), %s, %s, %s", runtime.NumCPU(), cpu, kernel, runtime.Version(),
		time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// verdict says whether a target is met; smoke runs only check that things run.
func (e *env) verdict(ok bool) string {
	switch {
	case e.smokeMode:
		return "-"
	case ok:
		return "yes"
	}
	return "no"
}

// pct returns the p-th percentile of sorted.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func ms(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// rate is n bytes over d, in MiB/s.
func rate(n int64, d time.Duration) string {
	return fmt.Sprintf("%.0f MiB/s", float64(n)/(1<<20)/d.Seconds())
}

func ratio(a, b time.Duration) (float64, string) {
	r := float64(a) / float64(b)
	return r, fmt.Sprintf("%.2f×", r)
}
