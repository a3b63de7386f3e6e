// Package probe is what `cctest probe attest|egress|runtime` does on a
// node. The same code runs in a container on real nodes (cmd/cctest-probe,
// evidence from the real TEE device, real network) and inside the
// simulated kubelet, which hands it the node's simulated device and the
// simulated pod network through Env. Specs read the outcome the same way in
// both cases: exit code 0 = pass, and the termination message is one JSON
// line, a Result (ParseMessage reads it).
//
// Container contract (what a spec's probe pod sets):
//
//	image: ghcr.io/cctest/cctest-probe (Image), args: ["probe", "attest", ...]
//	  (or command ["cctest", "probe", ...] with the full cctest image)
//	env POD_UID  from fieldRef metadata.uid   (binds the evidence to the pod)
//	env NODE_NAME from fieldRef spec.nodeName (reported as "node")
//	env CCTEST_ATTESTATION_URL / CCTEST_ATTESTATION_CA (optional, --discover)
//
// The termination message is limited to 4096 bytes by the kubelet: large
// evidence is left out of it (EvidenceOmitted says so) and is then read
// from the stored verdict (Verdict.URL) or the container log, which always
// gets the full Result.
//
// No Kubernetes dependencies here: the probe binary stays small.
package probe
