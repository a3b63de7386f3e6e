package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/verifier"
)

func TestAnswersThatAreNotTheAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathChallenge:
			w.Write([]byte(`{"nonce":"not-hex"}`))
		case PathAttest:
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>proxy error</html>"))
		default:
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte(`{"error":"short and stout"}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Challenge(ctx, ""); err == nil || !strings.Contains(err.Error(), "not hex") {
		t.Errorf("bad nonce: %v", err)
	}
	_, err = c.Attest(ctx, []byte{1}, "pod:a", verifier.Evidence{})
	var api *APIError
	if !errors.As(err, &api) || api.Status != http.StatusBadGateway || !strings.Contains(err.Error(), "proxy error") {
		t.Errorf("non-JSON error body: %v", err)
	}
	if _, err := c.Verdict(ctx, "x"); !errors.As(err, &api) || api.Message != "short and stout" {
		t.Errorf("JSON error body: %v", err)
	}
	if got := c.VerdictURL("a b"); got != srv.URL+"/v1/verdicts/a%20b" {
		t.Errorf("verdict URL %s", got)
	}
}

func TestUnreachable(t *testing.T) {
	c, _ := New("http://127.0.0.1:1", Options{})
	_, err := c.Challenge(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "attestation service 127.0.0.1:1: dial tcp 127.0.0.1:1") {
		t.Errorf("unreachable: %v", err)
	}
}
