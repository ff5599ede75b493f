package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Config is what the CLI keeps between runs, in the file Photon's CLI used
// (~/.photon-cli/.photon-config, JSON), so a config written by either works with the
// other: its field names are Photon's, RefreshToken and CAFile are ours. The file holds
// tokens: it is written with mode 0600 in a 0700 directory.
type Config struct {
	CloudTarget       string
	Token             string
	RefreshToken      string `json:",omitempty"`
	IgnoreCertificate bool
	CAFile            string `json:",omitempty"`
	Tenant            *Named `json:",omitempty"`
	Project           *Named `json:",omitempty"`
}

// Named is a tenant or project chosen with `tenant set` or `project set`.
type Named struct {
	Name string
	ID   string
}

// configDir is $HOME/.photon-cli (%APPDATA% on Windows), as Photon's CLI had it.
func configDir() (string, error) {
	home := os.Getenv("HOME")
	if runtime.GOOS == "windows" {
		home = os.Getenv("APPDATA")
	}
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(home, ".photon-cli"), nil
}

func configPath() (string, error) {
	dir, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ".photon-config"), nil
}

// loadConfig reads the config; a missing file is an empty config.
func loadConfig() (*Config, error) {
	p, err := configPath()
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, err
	}
	c := &Config{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return c, nil
}

// save writes the config whole, through a temporary file, so a crash leaves the old one.
func (c *Config) save() error {
	p, err := configPath()
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".photon-config-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
