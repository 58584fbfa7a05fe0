package registrytest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestStart: each kind of registry answers /v2/ as configured, and Stop ends its process.
func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       Options
		anonStatus int
	}{
		{"plain", Options{}, http.StatusOK},
		{"htpasswd", Options{Auth: true}, http.StatusUnauthorized},
		{"tls", Options{TLS: true}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Start(t, tc.opts)
			client := &http.Client{Timeout: 5 * time.Second}
			scheme := "http"
			if tc.opts.TLS {
				scheme = "https"
				pemData, err := os.ReadFile(r.CAFile)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pemData) {
					t.Fatal("CA file holds no certificate")
				}
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			}
			get := func(user, pass string) int {
				req, err := http.NewRequest(http.MethodGet, scheme+"://"+r.Host+"/v2/", nil)
				if err != nil {
					t.Fatal(err)
				}
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("GET /v2/: %v", err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := get("", ""); got != tc.anonStatus {
				t.Fatalf("anonymous GET /v2/: %d, want %d", got, tc.anonStatus)
			}
			if tc.opts.Auth {
				if got := get(r.Username, r.Password); got != http.StatusOK {
					t.Fatalf("GET /v2/ with the right password: %d", got)
				}
				if got := get(r.Username, "wrong"); got != http.StatusUnauthorized {
					t.Fatalf("GET /v2/ with a wrong password: %d", got)
				}
			}
			pid := r.PID()
			r.Stop()
			if err := syscall.Kill(pid, 0); err == nil {
				t.Fatalf("registry pid %d still runs after Stop", pid)
			}
		})
	}
}

// TestClosedAddr: nothing answers on the address of a registry that is down.
func TestClosedAddr(t *testing.T) {
	addr := ClosedAddr(t)
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get("http://" + addr + "/v2/"); err == nil {
		resp.Body.Close()
		t.Fatalf("something answers on %s", addr)
	}
}
