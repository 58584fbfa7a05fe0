// Package registrytest starts a real OCI registry for tests: Debian's docker-registry
// (github.com/distribution/distribution v2) on 127.0.0.1, on a free port, with its storage in
// a temp dir, optionally behind htpasswd auth or TLS with a CA made for the test. The registry
// is stopped by its PID when the test ends.
//
// distribution v2 has no OCI 1.1 referrers API: clients fall back to the referrers tag schema
// (sha256-<hex> tags), which is what tests of that fallback want.
package registrytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetpack/gadgetpack/internal/testtool"
)

// Options choose how the registry is protected. The zero value is plain HTTP, no auth.
type Options struct {
	// Auth puts the registry behind htpasswd basic auth for Username and Password (made with
	// Apache's htpasswd -B).
	Auth bool
	// TLS serves HTTPS with a certificate for 127.0.0.1 signed by a CA made for the test
	// (Registry.CAFile).
	TLS bool
}

// Registry is one running docker-registry.
type Registry struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// Root is the registry's storage directory.
	Root string
	// PlainHTTP is true unless Options.TLS was set.
	PlainHTTP bool
	// CAFile is the PEM file of the CA that signed the registry's certificate (TLS only).
	CAFile string
	// Username and Password are the credentials htpasswd accepts (Auth only).
	Username, Password string

	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
}

// Start starts a docker-registry for the test and stops it (by its PID) when the test ends.
// It skips the test when docker-registry (or htpasswd, with Auth) is not installed, and fails
// it in CI.
func Start(tb testing.TB, opts Options) *Registry {
	tb.Helper()
	bin := testtool.Require(tb, "docker-registry")
	dir := tb.TempDir()
	r := &Registry{Root: filepath.Join(dir, "storage"), PlainHTTP: !opts.TLS}
	var tlsConf, authConf string
	if opts.TLS {
		cert, key, ca := writeCerts(tb, dir)
		r.CAFile = ca
		tlsConf = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	if opts.Auth {
		r.Username, r.Password = "gadget", "s3cret-"+randomHex(tb, 6)
		htpasswd := testtool.Require(tb, "htpasswd")
		out, err := exec.Command(htpasswd, "-Bbn", r.Username, r.Password).Output()
		if err != nil {
			tb.Fatalf("htpasswd: %v", err)
		}
		file := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(file, bytes.TrimSpace(out), 0o600); err != nil {
			tb.Fatal(err)
		}
		authConf = fmt.Sprintf("auth:\n  htpasswd:\n    realm: gadgetpack-test\n    path: %s\n", file)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		host := freeAddr(tb)
		config := filepath.Join(dir, "config.yml")
		// No blob descriptor cache: a test may empty the storage between runs.
		conf := "version: 0.1\n" +
			"log:\n  level: error\n  accesslog:\n    disabled: true\n" +
			"storage:\n  filesystem:\n    rootdirectory: " + r.Root + "\n  delete:\n    enabled: true\n" +
			"http:\n  addr: " + host + "\n  secret: gadgetpack-test\n" + tlsConf + authConf
		if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		r.Host = host
		if lastErr = r.start(bin, config); lastErr == nil {
			tb.Cleanup(r.stop)
			return r
		}
	}
	tb.Fatalf("docker-registry did not start: %v", lastErr)
	return nil
}

// start runs the registry and waits until it answers on /v2/.
func (r *Registry) start(bin, config string) error {
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command(bin, "serve", config)
	r.cmd.Stdout = r.log
	r.cmd.Stderr = r.log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.exited = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.exited) }()

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	scheme := "https"
	if r.PlainHTTP {
		scheme = "http"
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			return fmt.Errorf("docker-registry exited: %s", strings.TrimSpace(r.log.String()))
		default:
		}
		resp, err := client.Get(scheme + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stop()
	return errors.New("docker-registry did not answer on /v2/ within 15s")
}

// stop ends the registry by its PID: SIGTERM, then SIGKILL after 5 seconds.
func (r *Registry) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
}

// Stop stops the registry now (it is stopped at the end of the test anyway), so that a test can
// see what a client does when the registry goes away.
func (r *Registry) Stop() { r.stop() }

// PID returns the registry's process id.
func (r *Registry) PID() int { return r.cmd.Process.Pid }

// Ref returns Host/repoTag.
func (r *Registry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

// AuthFile writes a Docker/Podman config.json holding the registry's credentials (or user and
// password when given) into dir and returns its path.
func (r *Registry) AuthFile(tb testing.TB, dir, user, password string) string {
	tb.Helper()
	if user == "" {
		user, password = r.Username, r.Password
	}
	cfg := map[string]any{"auths": map[string]any{
		r.Host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + password))},
	}}
	data, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// ClosedAddr returns 127.0.0.1:PORT where nothing listens: a registry that is down.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	return freeAddr(tb)
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return addr
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by it, writes them as PEM
// into dir, and returns the paths of the server certificate, its key and the CA certificate.
func writeCerts(tb testing.TB, dir string) (cert, key, ca string) {
	tb.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gadgetpack test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		tb.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	return write("server.pem", "CERTIFICATE", srvDER), write("server-key.pem", "EC PRIVATE KEY", keyDER), write("ca.pem", "CERTIFICATE", caDER)
}

// randomHex returns 2n random hex digits.
func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}
