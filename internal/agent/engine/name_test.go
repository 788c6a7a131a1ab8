package engine

import (
	"regexp"
	"testing"
)

// dockerSafe drops exactly what the former pattern [^a-zA-Z0-9_.-] removed.
func TestDockerSafe(t *testing.T) {
	unsafe := regexp.MustCompile(`[^a-zA-Z0-9_.-]`)
	for _, s := range []string{"", "ecs-web-3-app-0123abcd", "my app/v2:x", "naïve-日本-ok", "a\x00b\tc", "Z.z_9-", "~!@#$%^&*()+="} {
		if got, want := dockerSafe(s), unsafe.ReplaceAllString(s, ""); got != want {
			t.Errorf("dockerSafe(%q) = %q, want %q", s, got, want)
		}
	}
}
