// Package metrics is a server's Prometheus registry: requests, uploads, status changes and store failures, and a metadata store that counts its own.
package metrics

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are one server's metrics, in a registry of its own, so that
// several servers in one process (tests, embedding programs) never share or
// clash.
type Metrics struct {
	Reg         *prometheus.Registry
	Requests    *prometheus.CounterVec   // route, code
	Duration    *prometheus.HistogramVec // route
	BytesIn     *prometheus.CounterVec   // route
	BytesOut    *prometheus.CounterVec   // route
	InFlight    prometheus.Gauge
	Uploads     *prometheus.HistogramVec // route, code
	Transitions *prometheus.CounterVec   // from, to
	StoreErrors *prometheus.CounterVec   // store, op
}

// New returns the metrics of a server of this version, in a registry of
// their own.
func New(version string) *Metrics {
	o := &Metrics{Reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { o.Reg.MustRegister(c) }
	o.Requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perseus_http_requests_total",
		Help: "HTTP requests answered, by route pattern and status code."}, []string{"route", "code"})
	o.Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "perseus_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"})
	o.BytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perseus_http_request_body_bytes_total",
		Help: "Request body bytes read, by route pattern."}, []string{"route"})
	o.BytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perseus_http_response_body_bytes_total",
		Help: "Response body bytes written, by route pattern."}, []string{"route"})
	o.InFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "perseus_http_requests_in_flight",
		Help: "HTTP requests being answered now."})
	o.Uploads = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "perseus_upload_duration_seconds",
		Help:    "Time to receive and settle one upload request (every PUT route), by route pattern and status code.",
		Buckets: prometheus.ExponentialBuckets(0.005, 4, 10)}, []string{"route", "code"})
	o.Transitions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perseus_file_status_transitions_total",
		Help: "File status changes made by this server: from none (a new record) or a status, to a status or deleted."},
		[]string{"from", "to"})
	o.StoreErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perseus_store_errors_total",
		Help: "Failed calls to a backend store (not counting not-found or lost races), by store and operation."},
		[]string{"store", "op"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "perseus_build_info",
		Help: "Always 1, labelled with the version of this server and the Go toolchain that built it."},
		[]string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	for _, c := range []prometheus.Collector{o.Requests, o.Duration, o.BytesIn, o.BytesOut, o.InFlight, o.Uploads,
		o.Transitions, o.StoreErrors, build, collectors.NewBuildInfoCollector(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return o
}

// Handler serves the registry in the Prometheus text format.
func (o *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(o.Reg, promhttp.HandlerOpts{Registry: o.Reg})
}

// Transition counts one change of a file's status.
func (o *Metrics) Transition(from, to string) { o.Transitions.WithLabelValues(from, to).Inc() }

// BlobError counts one failed call to the blob store.
func (o *Metrics) BlobError(op string) { o.StoreErrors.WithLabelValues("blob", op).Inc() }
