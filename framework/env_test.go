package framework

import "github.com/cctest/cctest/environments"

// A created environment is what the runner hands to SetEnvironment.
var (
	_ Environment = environments.Cluster{}
	_ Environment = (*environments.Cluster)(nil)
)
