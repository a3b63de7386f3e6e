// Package tee simulates TEE machines for CI and demos: Intel TDX quotes
// (v4, or v5 with a TDX 1.0 or 1.5 body; ECDSA-P256 attestation key, QE
// report, certification data type 6 wrapping a PEM PCK chain) and AMD SEV-SNP
// attestation reports (Milan and Genoa, versions 2, 3 and 5, signed by a VCEK
// or, as on AWS, a VLEK, with the extended certificate table), signed by
// a fixed test PKI shaped like Intel's and AMD's (see testpki). The real
// go-tdx-guest / go-sev-guest verification code accepts them against the test
// roots, and only against those.
//
// A Machine is created cheaply and deterministically from its name (PPID,
// CHIP_ID, ...); keys and leaf certificates are minted on first use. Faults
// (tampered, debug, wrong-measurement, old-tcb, untrusted-root, forged-chain,
// replay, migratable, vmpl, expired-cert, revoked) are switches on a machine.
// TDXQuoteProvider / SNPQuoteProvider implement the libraries' quote provider
// interfaces, and PCS / KDS are in-process fakes of Intel's and AMD's
// collateral services, so collateral and revocation checks run offline.
package tee
