package registry

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gadgetpack/gadgetpack/internal/registrytest"
)

// isolateAuth points every auth file location into a fresh temp dir and returns it.
func isolateAuth(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG"} {
		t.Setenv(v, "")
	}
	return home
}

func touch(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuthFiles: the auth files looked at, in containers-auth.json(5)'s order, those that exist.
func TestAuthFiles(t *testing.T) {
	home := isolateAuth(t)
	if got := AuthFiles(); len(got) != 0 {
		t.Fatalf("AuthFiles with no file = %v", got)
	}
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	docker := touch(t, filepath.Join(home, ".docker", "config.json"), `{}`)
	podman := touch(t, filepath.Join(home, ".config", "containers", "auth.json"), `{}`)
	if got := AuthFiles(); !slices.Equal(got, []string{podman, docker}) {
		t.Fatalf("AuthFiles = %v, want %v", got, []string{podman, docker})
	}
	runtime := touch(t, filepath.Join(run, "containers", "auth.json"), `{}`)
	if got := AuthFiles(); !slices.Equal(got, []string{runtime, podman, docker}) {
		t.Fatalf("AuthFiles = %v", got)
	}
	cfgHome, dockerCfg := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfgHome)
	t.Setenv("DOCKER_CONFIG", dockerCfg)
	xdg := touch(t, filepath.Join(cfgHome, "containers", "auth.json"), `{}`)
	dc := touch(t, filepath.Join(dockerCfg, "config.json"), `{}`)
	if got := AuthFiles(); !slices.Equal(got, []string{runtime, xdg, dc}) {
		t.Fatalf("AuthFiles with XDG_CONFIG_HOME and DOCKER_CONFIG = %v", got)
	}
	t.Setenv("REGISTRY_AUTH_FILE", "/somewhere/auth.json")
	if got := AuthFiles(); !slices.Equal(got, []string{"/somewhere/auth.json"}) {
		t.Fatalf("AuthFiles with REGISTRY_AUTH_FILE = %v", got)
	}
}

// TestAuthFileLogin: a registry behind htpasswd takes the credential of an explicit auth file,
// of REGISTRY_AUTH_FILE and of the default files (the first one holding the registry wins).
func TestAuthFileLogin(t *testing.T) {
	r := registrytest.Start(t, registrytest.Options{Auth: true})
	src := newLayout(t)
	writeImage(t, src, "example.com/auth:v1", "auth", 1000)
	dir := t.TempDir()
	good := r.AuthFile(t, filepath.Join(dir, "good"), "", "")
	bad := r.AuthFile(t, filepath.Join(dir, "bad"), r.Username, "wrong")

	t.Run("explicit", func(t *testing.T) {
		isolateAuth(t)
		if _, err := Push(t.Context(), src, "example.com/auth:v1", r.Ref("auth:v1"), Options{PlainHTTP: true, AuthFile: good}); err != nil {
			t.Fatal(err)
		}
		if _, err := Pull(t.Context(), filepath.Join(t.TempDir(), "l"), r.Ref("auth:v1"), "", Options{PlainHTTP: true, AuthFile: good}); err != nil {
			t.Fatal(err)
		}
		_, err := Pull(t.Context(), filepath.Join(t.TempDir(), "l"), r.Ref("auth:v1"), "", Options{PlainHTTP: true, AuthFile: bad})
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("pull with a wrong password in the auth file: %v", err)
		}
	})
	t.Run("REGISTRY_AUTH_FILE", func(t *testing.T) {
		isolateAuth(t)
		t.Setenv("REGISTRY_AUTH_FILE", good)
		if _, err := Pull(t.Context(), filepath.Join(t.TempDir(), "l"), r.Ref("auth:v1"), "", Options{PlainHTTP: true}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("defaults, first holding the registry wins", func(t *testing.T) {
		home := isolateAuth(t)
		run := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", run)
		// The runtime file knows another registry only; the podman file has the right
		// password; the docker file a wrong one, never read.
		touch(t, filepath.Join(run, "containers", "auth.json"), `{"auths":{"other.example":{"auth":"eDp5"}}}`)
		data, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		touch(t, filepath.Join(home, ".config", "containers", "auth.json"), string(data))
		data, err = os.ReadFile(bad)
		if err != nil {
			t.Fatal(err)
		}
		touch(t, filepath.Join(home, ".docker", "config.json"), string(data))
		if _, err := Pull(t.Context(), filepath.Join(t.TempDir(), "l"), r.Ref("auth:v1"), "", Options{PlainHTTP: true}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCredentialErrors: a credential source that cannot be used is an error before any request.
func TestCredentialErrors(t *testing.T) {
	isolateAuth(t)
	malformed := touch(t, filepath.Join(t.TempDir(), "auth.json"), `{"auths":`)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"missing auth file", Options{AuthFile: filepath.Join(t.TempDir(), "none.json")}},
		{"malformed auth file", Options{AuthFile: malformed}},
		{"REGISTRY_AUTH_FILE missing", Options{}},
		{"user without password", Options{Username: "u"}},
		{"password without user", Options{Password: "p"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "REGISTRY_AUTH_FILE missing" {
				t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(t.TempDir(), "gone.json"))
			}
			_, err := tc.opts.credentialFunc("r.example:5000")
			if !errors.Is(err, ErrCredentials) {
				t.Fatalf("got %v, want ErrCredentials", err)
			}
		})
	}
}
