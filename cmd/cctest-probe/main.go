// Command cctest-probe is the probe image's entrypoint: `cctest probe`
// alone, without the control plane, so the image stays small. Arguments are
// the probe's ("attest ...", "egress ...", "runtime ..."), optionally
// preceded by "probe" so pods can use the same args with either image.
package main

import (
	"os"

	probecmd "github.com/cctest/cctest/probe/command"
)

func main() { os.Exit(probecmd.Main(os.Args[1:])) }
