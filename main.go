// Command sesame is a trust-scoped secret and identity fabric for Linux: one executable that
// is the command line and, by its name or --role, each of sesame's daemon roles.
//
// See README.md for what it does, ARCHITECTURE.md for how the code is laid out, and package
// roles for how the executable chooses what to be.
package main

import (
	"os"

	"github.com/open-sesame/sesame/roles"
)

// version is set at link time: -ldflags "-X main.version=…".
var version = "devel"

func main() {
	os.Exit(roles.Main(os.Args, version))
}
