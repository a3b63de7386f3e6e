package reports

import (
	"io"
	"testing"
)

// A 1,000-spec run (with evidence on a quarter of the specs): how long the
// page, the JUnit XML and the whole bundle take to render, and the page size.
func BenchmarkWriteHTML1000Specs(b *testing.B) {
	r := roundTrip(b, synthetic(1000))
	var n countingWriter
	if err := WriteHTML(&n, r); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteHTML(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/1024, "KiB/page")
}

func BenchmarkWriteJUnit1000Specs(b *testing.B) {
	r := roundTrip(b, synthetic(1000))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteJUnit(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteBundle1000Specs(b *testing.B) {
	r := roundTrip(b, synthetic(1000))
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := WriteBundle(dir, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad1000Specs(b *testing.B) {
	path := b.TempDir() + "/report.json"
	if err := WriteFileAtomic(path, func(w io.Writer) error { return encodeJSONReport(w, synthetic(1000)) }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
