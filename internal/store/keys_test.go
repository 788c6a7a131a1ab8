package store

import (
	"slices"
	"testing"
)

func TestKey(t *testing.T) {
	t.Parallel()
	if got, want := Key("000000000000", "us-east-1", "ecs", "clusters", "default"),
		"/berth/000000000000/us-east-1/ecs/clusters/default"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
	arn := "arn:aws:ecs:us-east-1:000000000000:task/default/0123abcd"
	k := Key("acct", "tasks", arn)
	if want := "/berth/acct/tasks/arn:aws:ecs:us-east-1:000000000000:task%2Fdefault%2F0123abcd"; k != want {
		t.Errorf("Key(arn) = %q, want %q", k, want)
	}
	if got := LastPart(k); got != arn {
		t.Errorf("LastPart = %q, want %q", got, arn)
	}
	parts, ok := SplitKey(k)
	if !ok || !slices.Equal(parts, []string{"acct", "tasks", arn}) {
		t.Errorf("SplitKey = %q, %v", parts, ok)
	}
	// Escaping keeps parts unambiguous: "a/b" as one part differs from "a","b".
	if Key("a/b") == Key("a", "b") {
		t.Error("Key(\"a/b\") == Key(\"a\", \"b\")")
	}
	if Key("100%") == Key("100%25") {
		t.Error("'%' not escaped")
	}
	if got, want := Prefix("acct", "tasks"), "/berth/acct/tasks/"; got != want {
		t.Errorf("Prefix = %q, want %q", got, want)
	}
	if Prefix() != Root {
		t.Errorf("Prefix() = %q", Prefix())
	}
	for _, p := range []string{"plain", "a/b", "%", "%2F", "x%/y//", "日本/語"} {
		if u, ok := UnescapePart(EscapePart(p)); !ok || u != p {
			t.Errorf("round trip %q: %q %v", p, u, ok)
		}
	}
	for _, bad := range []string{"%", "%2", "%41", "a%zz"} {
		if _, ok := UnescapePart(bad); ok {
			t.Errorf("UnescapePart(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "/other/x", "/berth/", "/berth/a//b", "/berth/a/%"} {
		if _, ok := SplitKey(bad); ok {
			t.Errorf("SplitKey(%q) accepted", bad)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Key with an empty part did not panic")
			}
		}()
		Key("a", "")
	}()
}
