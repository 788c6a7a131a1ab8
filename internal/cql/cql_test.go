package cql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testInstance() *Static {
	return &Static{
		Attributes: map[string]string{
			"ecs.instance-type":     "t2.small",
			"ecs.availability-zone": "us-east-1a",
			"ecs.os-type":           "linux",
			"stack":                 "prod",
			"gpu":                   "",
			"disk":                  "120",
			"weight":                "9",
		},
		EC2ID:        "i-abcd1234",
		Connected:    true,
		Version:      "1.84.0",
		Registered:   time.Date(2025, 6, 18, 22, 28, 28, 0, time.UTC),
		RunningTasks: 1,
		Groups:       []string{"service:production", "family:web"},
	}
}

func TestEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want bool
	}{
		// Examples from ECS's documentation.
		{"attribute:ecs.instance-type == t2.small", true},
		{"attribute:ecs.instance-type == t2.medium", false},
		{"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", true},
		{"attribute:ecs.availability-zone in [us-east-1c, us-east-1d]", false},
		{"task:group == service:production", true},
		{"not(task:group == database)", true},
		{"not(task:group == service:production)", false},
		{"runningTasksCount == 1", true},
		{"ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", true},
		{`ec2InstanceId in ["i-wxyx7890"]`, false},
		{"attribute:ecs.instance-type =~ t2.*", true},
		{"attribute:ecs.instance-type =~ g2.*", false},
		{"attribute:ecs.instance-type =~ t2", false}, // whole-string match
		{"registeredAt < 2026-01-01", true},
		{"registeredAt >= 2018-06-18T22:28:28Z", true},
		{"registeredAt == 2025-06-18", true}, // day precision
		{"registeredAt == 2025-06-18T22:28:28+00:00", true},
		{"registeredAt == 2025-06-18T22:28:29", false},
		{"registeredAt > 2025-06-18T23:28:28+02:00", true},
		{"attribute:ecs.os-type == linux and attribute:ecs.instance-type =~ t2.*", true},
		{"(attribute:ecs.instance-type == t2.small or attribute:ecs.instance-type == t2.medium) and not(attribute:ecs.availability-zone == us-east-1d)", true},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1d", false},
		{"attribute:ecs.instance-type == t2.small || attribute:ecs.availability-zone == us-east-1d", true},
		{"attribute:ecs.instance-type == t2.small && !(attribute:stack == prod)", false},
		{"agentConnected == true", true},
		{"agentConnected != true", false},
		{"agentConnected in [false]", false},
		{"agentConnected =~ t.*", true},

		// Every operator, spelled both ways.
		{"attribute:stack == prod", true},
		{"attribute:stack equals prod", true},
		{"attribute:stack != prod", false},
		{"attribute:stack not_equals dev", true},
		{"attribute:missing != prod", true},
		{"attribute:missing == prod", false},
		{"attribute:disk > 100", true}, // numeric, not "120" > "100" by luck:
		{"attribute:weight > 10", false},
		{"attribute:weight greater_than 8", true},
		{"attribute:weight >= 9", true},
		{"attribute:weight greater_than_equal 9.0", true},
		{"attribute:weight < 10", true},
		{"attribute:weight less_than 9", false},
		{"attribute:weight <= 9", true},
		{"attribute:weight less_than_equal 8", false},
		{"attribute:weight == 9.0", true}, // numbers compare as numbers
		{"attribute:stack > pra", true},   // strings compare as strings
		{"attribute:stack < prz", true},
		{"attribute:missing < 5", false},
		{"attribute:gpu exists", true},
		{"attribute:missing exists", false},
		{"attribute:missing !exists", true},
		{"attribute:gpu not_exists", false},
		{"attribute:gpu == ''", true},
		{"attribute:stack in [dev, prod]", true},
		{"attribute:stack !in [dev, prod]", false},
		{"attribute:stack not_in [dev, test]", true},
		{"attribute:missing not_in [dev, test]", true},
		{"attribute:stack =~ p.*", true},
		{"attribute:stack matches 'pr(o|e)d'", true},
		{"attribute:stack !~ p.*", false},
		{"attribute:stack not_matches d.*", true},
		{"ec2InstanceId == i-abcd1234", true},
		{"ec2InstanceId != i-abcd1234", false},
		{"ec2InstanceId =~ 'i-[a-z0-9]{8}'", true},
		{"ec2InstanceId exists", true},
		{"runningTasksCount > 0", true},
		{"runningTasksCount >= 2", false},
		{"runningTasksCount < 2", true},
		{"runningTasksCount <= 0", false},
		{"runningTasksCount != 1", false},
		{"agentVersion >= 1.9.0", true}, // versions, not strings
		{"agentVersion < 1.84.1", true},
		{"agentVersion == 1.84", true},
		{"agentVersion > 1.84.0", false},
		{"task:group != database", true},
		{"task:group in [database, family:web]", true},
		{"task:group not_in [database, cache]", true},
		{"task:group =~ service:.*", true},
		{"task:group !~ service:.*", false},
		{"task:group exists", true},

		// Precedence: not > and > or.
		{"attribute:stack == dev and attribute:stack == dev or attribute:stack == prod", true},
		{"attribute:stack == prod or attribute:stack == dev and attribute:stack == dev", true},
		{"not attribute:stack == dev and attribute:stack == prod", true},
		{"not (attribute:stack == prod or attribute:stack == dev)", false},
		{"!attribute:stack == prod", false},
		{"((attribute:stack == prod))", true},
		// A value may be spelled like a keyword.
		{"attribute:stack == and or attribute:stack == or", false},
	}
	in := testInstance()
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := e.Eval(in); got != tt.want {
				t.Errorf("Eval = %v, want %v (canonical %s)", got, tt.want, e)
			}
			// The canonical form parses to the same meaning.
			e2, err := Parse(e.String())
			if err != nil {
				t.Fatalf("Parse(%q): %v", e.String(), err)
			}
			if e2.String() != e.String() || e2.Eval(in) != tt.want {
				t.Errorf("canonical form %q does not round-trip", e.String())
			}
		})
	}
}

func TestEvalEmptyInstance(t *testing.T) {
	t.Parallel()
	in := &Static{}
	for expr, want := range map[string]bool{
		"ec2InstanceId exists":          false,
		"ec2InstanceId != i-1":          true,
		"registeredAt < 2030-01-01":     false,
		"registeredAt !exists":          true,
		"agentVersion > 0":              false,
		"task:group exists":             false,
		"task:group != x":               true,
		"runningTasksCount == 0":        true,
		"agentConnected == false":       true,
		"attribute:x not_matches .*":    true,
		"task:group matches .*":         false,
		"task:group not_in [a, b, 'c']": true,
	} {
		if got := MustParse(expr).Eval(in); got != want {
			t.Errorf("%s: Eval = %v, want %v", expr, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		pos  int
		msg  string
	}{
		{"", 1, "expected subject"},
		{"attribute:stack", 16, "expected operator"},
		{"attribute:stack ==", 19, "expected value"},
		{"attribute:stack == prod and", 28, "expected subject"},
		{"attribute:stack == prod prod", 25, "expected and, or or end of expression"},
		{"foo == bar", 1, "expected subject"},
		{"attribute: == x", 11, "expected attribute name"},
		{"attribute:x in a", 16, "expected ["},
		{"attribute:x in [a b]", 19, "expected , or ]"},
		{"attribute:x in []", 17, "expected value"},
		{"(attribute:x == a", 18, "expected )"},
		{"attribute:x == 'a", 16, "expected closing '"},
		{"attribute:x = a", 13, "expected == or =~"},
		{"attribute:x & a", 13, "expected &&"},
		{"attribute:x =~ '(('", 16, "expected a regular expression"},
		{"runningTasksCount == one", 22, "expected integer"},
		{"runningTasksCount =~ 1", 19, "expected an operator valid for runningTasksCount"},
		{"registeredAt > yesterday", 16, "expected date"},
		{"ec2InstanceId > i-1", 15, "expected an operator valid for ec2InstanceId"},
		{"agentConnected == yes", 19, "expected true or false"},
		{"task:group < a", 12, "expected an operator valid for task:group"},
		{"attribute:x ~ a", 13, "expected =~ or !~"},
		{strings.Repeat("(", 200) + "attribute:x exists" + strings.Repeat(")", 200), 101, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error = %v, want a *SyntaxError", err)
			}
			if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("error = %q (pos %d), want %q at %d", err, se.Pos, tt.msg, tt.pos)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), fmt.Sprintf(" at position %d", tt.pos)) {
				t.Errorf("error %q does not name the position", err)
			}
		})
	}
}

func TestDynamic(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]bool{
		"attribute:a == b":                          false,
		"attribute:a == b or runningTasksCount < 3": true,
		"not(task:group == x)":                      true,
		"ec2InstanceId exists":                      false,
	} {
		if got := MustParse(expr).Dynamic(); got != want {
			t.Errorf("%s: Dynamic = %v, want %v", expr, got, want)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	e := MustParse("attribute:ecs.availability-zone in [us-east-1a, us-east-1b] and attribute:ecs.instance-type =~ t2.* and not(task:group == database)")
	in := testInstance()
	for b.Loop() {
		e.Eval(in)
	}
}
