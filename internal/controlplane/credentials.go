package controlplane

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
)

// RootKey is the root access key of a Berth installation.
type RootKey struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

const rootKeyFile = "root-credentials.json"

// LoadOrCreateRootKey returns the root key kept in dataDir, creating one on
// first start. A fixed key (both fields set) replaces the stored one, so CI
// scripts can choose their credentials.
func LoadOrCreateRootKey(dataDir string, fixed RootKey) (RootKey, error) {
	path := filepath.Join(dataDir, rootKeyFile)
	if fixed.AccessKeyID != "" || fixed.SecretAccessKey != "" {
		if fixed.AccessKeyID == "" || fixed.SecretAccessKey == "" {
			return RootKey{}, errors.New("--access-key-id and --secret-access-key must be given together")
		}
		return fixed, writeRootKey(path, fixed)
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var k RootKey
		if err := json.Unmarshal(b, &k); err != nil || k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return RootKey{}, fmt.Errorf("root credentials file %s is corrupt (delete it to create a new key): %v", path, err)
		}
		return k, nil
	case errors.Is(err, fs.ErrNotExist):
		k := RootKey{AccessKeyID: "AKIA" + randomString(16, upperAlnum), SecretAccessKey: randomString(40, secretAlphabet)}
		return k, writeRootKey(path, k)
	default:
		return RootKey{}, fmt.Errorf("reading root credentials: %w", err)
	}
}

func writeRootKey(path string, k RootKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	b, _ := json.MarshalIndent(k, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing root credentials: %w", err)
	}
	return os.Rename(tmp, path)
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		out[i] = alphabet[v.Int64()]
	}
	return string(out)
}
