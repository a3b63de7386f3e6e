package probe

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/cctest/cctest/simulators/tee/testpki"
)

// The compression dictionary is the test PKI's Intel PCK Platform CA and
// root in PEM, byte for byte (the probe cannot import the simulators).
func TestDictionaryIsTheTestPKI(t *testing.T) {
	var want []byte
	for _, c := range []*x509.Certificate{testpki.IntelPCKPlatformCA(), testpki.IntelRoot()} {
		want = append(want, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if !bytes.Equal(dictionary, want) {
		t.Fatal("probe/dictionary.pem differs from simulators/tee/testpki's Intel PCK Platform CA + root")
	}
}
