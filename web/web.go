// Package web holds the web console's built assets, embedded so that perseus serve needs no npm step.
package web

import (
	"embed"
	"io/fs"
)

// dist is the output of scripts/web-build (sources under web/src), committed.
//
//go:embed all:dist
var dist embed.FS

// Dist returns the console's built files, rooted at web/dist: index.html
// at its top, the rest under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded: it is always there
	}
	return sub
}
