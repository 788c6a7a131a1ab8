package controlplane

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootKeyKeptAcrossStarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, err := LoadOrCreateRootKey(dir, RootKey{})
	if err != nil {
		t.Fatal(err)
	}
	if len(k1.AccessKeyID) != 20 || k1.AccessKeyID[:4] != "AKIA" || len(k1.SecretAccessKey) != 40 {
		t.Fatalf("key shape: %+v", k1)
	}
	k2, err := LoadOrCreateRootKey(dir, RootKey{})
	if err != nil || k2 != k1 {
		t.Fatalf("second start got %+v (%v), want %+v", k2, err, k1)
	}
	st, _ := os.Stat(filepath.Join(dir, rootKeyFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v", st.Mode())
	}
	fixed := RootKey{AccessKeyID: "AKIAFIXEDFIXEDFIXED1", SecretAccessKey: "s"}
	if k, err := LoadOrCreateRootKey(dir, fixed); err != nil || k != fixed {
		t.Fatalf("fixed key: %+v %v", k, err)
	}
	if _, err := LoadOrCreateRootKey(dir, RootKey{AccessKeyID: "only-id"}); err == nil {
		t.Fatal("a key id without a secret must be refused")
	}
	os.WriteFile(filepath.Join(dir, rootKeyFile), []byte("{"), 0o600)
	if _, err := LoadOrCreateRootKey(dir, RootKey{}); err == nil {
		t.Fatal("a corrupt credentials file must be reported")
	}
}
