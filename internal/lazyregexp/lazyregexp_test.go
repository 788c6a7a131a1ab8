package lazyregexp

import "testing"

func TestRegexp(t *testing.T) {
	t.Parallel()
	re := New(`^(\d+)-(\d+)$`)
	if !re.MatchString("1-2") || re.MatchString("1-") {
		t.Fatal("MatchString")
	}
	if m := re.FindStringSubmatch("10-20"); len(m) != 3 || m[2] != "20" {
		t.Fatalf("FindStringSubmatch = %q", m)
	}
	if loc := New(`b+`).FindStringIndex("abbc"); len(loc) != 2 || loc[0] != 1 || loc[1] != 3 {
		t.Fatalf("FindStringIndex = %v", loc)
	}
	if re.String() != `^(\d+)-(\d+)$` || re.Regexp() != re.Regexp() {
		t.Fatal("String/Regexp")
	}
}

func TestInvalidPatternPanicsOnUse(t *testing.T) {
	t.Parallel()
	re := New(`(`) // no panic yet
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an invalid pattern")
		}
	}()
	re.MatchString("x")
}
