// Command perseus is the Perseus file service: the server (perseus serve) and its command-line client.
package main

import (
	"os"

	"github.com/perseus-go/perseus/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
