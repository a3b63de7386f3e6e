package jcs

import (
	"crypto/sha512"
	"encoding/hex"
	"math"
	"strconv"
	"testing"

	gojcs "github.com/gowebpki/jcs"
)

// Trustee's attestation-service test case (attestation-service/src/lib.rs,
// parse_runtime_data): the structured runtime data {"b": 1, "a": "test",
// "c": {"d": "e"}} hashes, canonicalized, to this SHA-384.
func TestTrusteeRuntimeDataVector(t *testing.T) {
	got, err := Transform([]byte(`{"b": 1, "a": "test", "c": {"d": "e"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"a":"test","b":1,"c":{"d":"e"}}` {
		t.Fatalf("canonical form %s", got)
	}
	sum := sha512.Sum384(got)
	const want = "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3"
	if hex.EncodeToString(sum[:]) != want {
		t.Fatalf("SHA-384 %x, Trustee's test says %s", sum, want)
	}
}

// RFC 8785 section 3.2.2: whitespace removed, literals kept, numbers in
// ECMAScript form, strings with minimal escapes (\u000f lower-case hex,
// \n short form, "/" unescaped, "€" as UTF-8).
func TestRFC8785Sample(t *testing.T) {
	in := `{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	got, err := Transform([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// RFC 8785 section 3.2.3: members sorted by UTF-16 code units, so the
// emoji (surrogates D83D DE00) sorts before U+FB33 though its code point
// is larger.
func TestRFC8785SortingByUTF16(t *testing.T) {
	in := `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`
	want := "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\"," +
		"\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"
	got, err := Transform([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// RFC 8785 appendix B: IEEE 754 bit patterns and their canonical text.
func TestRFC8785Numbers(t *testing.T) {
	cases := map[string]string{
		"0000000000000000": "0",
		"8000000000000000": "0",
		"0000000000000001": "5e-324",
		"8000000000000001": "-5e-324",
		"7fefffffffffffff": "1.7976931348623157e+308",
		"ffefffffffffffff": "-1.7976931348623157e+308",
		"4340000000000000": "9007199254740992",
		"c340000000000000": "-9007199254740992",
		"4430000000000000": "295147905179352830000",
		"44b52d02c7e14af5": "9.999999999999997e+22",
		"44b52d02c7e14af6": "1e+23",
		"44b52d02c7e14af7": "1.0000000000000001e+23",
		"444b1ae4d6e2ef4e": "999999999999999700000",
		"444b1ae4d6e2ef4f": "999999999999999900000",
		"444b1ae4d6e2ef50": "1e+21",
		"3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
		"3eb0c6f7a0b5ed8d": "0.000001",
		"41b3de4355555553": "333333333.3333332",
		"41b3de4355555554": "333333333.33333325",
		"41b3de4355555555": "333333333.3333333",
		"41b3de4355555556": "333333333.3333334",
		"41b3de4355555557": "333333333.33333343",
		"becbf647612f3696": "-0.0000033333333333333333",
		"43143ff3c1cb0959": "1424953923781206.2",
	}
	for bits, want := range cases {
		u, err := strconv.ParseUint(bits, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		f := math.Float64frombits(u)
		got, err := gojcs.NumberToJSON(f)
		if err != nil || got != want {
			t.Errorf("%s: got %q (%v), want %q", bits, got, err, want)
		}
		// And through a document: the parsed text canonicalizes the same.
		doc, err := Transform([]byte("[" + strconv.FormatFloat(f, 'g', -1, 64) + "]"))
		if err != nil || string(doc) != "["+want+"]" {
			t.Errorf("%s in a document: got %s (%v), want [%s]", bits, doc, err, want)
		}
	}
}

// encoding/json escapes <, > and & for HTML; the canonical form must not.
func TestMarshalUndoesHTMLEscapes(t *testing.T) {
	got, err := Marshal(map[string]any{"z": "<a&b>", "a": []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"a":[1,2],"z":"<a&b>"}` {
		t.Fatalf("got %s", got)
	}
}

func TestRejectsInvalidJSON(t *testing.T) {
	for _, in := range []string{`{"a":`, `{"a":1}x`, `{'a':1}`} {
		if _, err := Transform([]byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}
