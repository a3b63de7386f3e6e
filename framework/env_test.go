package framework

import "github.com/cctest/cctest/environments"

// A created environment is what the runner puts in the run (Run.Env).
var (
	_ Environment = environments.Cluster{}
	_ Environment = (*environments.Cluster)(nil)
)
