//go:build !unix

package verifier

func processCPU() (int64, bool) { return 0, false }
