package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// AuthFiles returns the auth files read when Options.AuthFile is empty, in the order of
// containers-auth.json(5): $REGISTRY_AUTH_FILE alone when it is set; else
// ${XDG_RUNTIME_DIR}/containers/auth.json, ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json
// and ${DOCKER_CONFIG:-~/.docker}/config.json, those that exist. The first file holding a
// credential for the registry wins; docker-credential helpers named in them are run.
func AuthFiles() []string {
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" {
		return []string{p}
	}
	var cands []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		cands = append(cands, filepath.Join(d, "containers", "auth.json"))
	}
	home, _ := os.UserHomeDir()
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		cands = append(cands, filepath.Join(d, "containers", "auth.json"))
	} else if home != "" {
		cands = append(cands, filepath.Join(home, ".config", "containers", "auth.json"))
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		cands = append(cands, filepath.Join(d, "config.json"))
	} else if home != "" {
		cands = append(cands, filepath.Join(home, ".docker", "config.json"))
	}
	var out []string
	for _, p := range cands {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// credentialFunc returns where the credential for host comes from: Username and Password, or
// AuthFile (which must exist), or AuthFiles(). It returns nil (anonymous) when there is no
// file. It returns ErrCredentials for a half-given credential or a file that cannot be read.
func (o Options) credentialFunc(host string) (auth.CredentialFunc, error) {
	if o.Username != "" || o.Password != "" {
		if o.Username == "" || o.Password == "" {
			return nil, fmt.Errorf("registry %s: a username needs a password and a password a username: %w", host, ErrCredentials)
		}
		return auth.StaticCredential(host, auth.Credential{Username: o.Username, Password: o.Password}), nil
	}
	var files []string
	if o.AuthFile != "" {
		files = []string{o.AuthFile}
	} else {
		files = AuthFiles()
	}
	var stores []credentials.Store
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("auth file %s: no such file: %w", f, ErrCredentials)
			}
			return nil, fmt.Errorf("auth file %s: %w: %w", f, err, ErrCredentials)
		}
		st, err := credentials.NewStore(f, credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("auth file %s: %w: %w", f, err, ErrCredentials)
		}
		stores = append(stores, st)
	}
	if len(stores) == 0 {
		return nil, nil
	}
	store := credentials.NewStoreWithFallbacks(stores[0], stores[1:]...)
	get := credentials.Credential(store)
	return func(ctx context.Context, hostport string) (auth.Credential, error) {
		cred, err := get(ctx, hostport)
		if err != nil {
			return auth.EmptyCredential, fmt.Errorf("credential for %s from %v: %w: %w", hostport, files, err, ErrCredentials)
		}
		return cred, nil
	}, nil
}
