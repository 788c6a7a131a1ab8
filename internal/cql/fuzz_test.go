package cql

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, fails only with a positioned
// *SyntaxError, and that what it accepts renders to a canonical form that
// parses again to the same form and the same value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"attribute:ecs.instance-type == t2.small",
		"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
		"task:group == service:production",
		"not(task:group == database)",
		"runningTasksCount == 1",
		"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
		"attribute:ecs.instance-type =~ g2.*",
		"registeredAt < 2026-01-01",
		"(a or b) and c",
		"attribute:x !exists || !(agentVersion >= 1.2.3) && agentConnected != true",
	} {
		f.Add(s)
	}
	in := testInstance()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 1 || se.Pos > len(src)+1 {
				t.Fatalf("Parse(%q): error %v is not a positioned *SyntaxError", src, err)
			}
			return
		}
		canon := e.String()
		e2, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its canonical form %q fails: %v", src, canon, err)
		}
		if e2.String() != canon {
			t.Fatalf("canonical form unstable: %q -> %q", canon, e2.String())
		}
		if e.Eval(in) != e2.Eval(in) {
			t.Fatalf("%q and its canonical form %q disagree", src, canon)
		}
	})
}
