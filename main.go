// Command gadgetpack builds, checks and moves Inspektor Gadget OCI artifacts on disk, offline.
package main

import (
	"context"
	"os"

	"github.com/gadgetpack/gadgetpack/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args))
}
