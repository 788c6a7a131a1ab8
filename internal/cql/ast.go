package cql

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Op is a comparison operator, named after its symbolic spelling.
type Op int

// Operators. Each negated operator is the exact negation of its positive one.
const (
	OpEq         Op = iota // ==, equals
	OpNe                   // !=, not_equals
	OpGt                   // >, greater_than
	OpGe                   // >=, greater_than_equal
	OpLt                   // <, less_than
	OpLe                   // <=, less_than_equal
	OpExists               // exists
	OpNotExists            // !exists, not_exists
	OpIn                   // in
	OpNotIn                // !in, not_in
	OpMatches              // =~, matches
	OpNotMatches           // !~, not_matches
)

var opSymbols = [...]string{"==", "!=", ">", ">=", "<", "<=", "exists", "!exists", "in", "not_in", "=~", "!~"}

func (o Op) String() string { return opSymbols[o] }

var opByText = map[string]Op{
	"==": OpEq, "equals": OpEq,
	"!=": OpNe, "not_equals": OpNe,
	">": OpGt, "greater_than": OpGt,
	">=": OpGe, "greater_than_equal": OpGe,
	"<": OpLt, "less_than": OpLt,
	"<=": OpLe, "less_than_equal": OpLe,
	"exists":  OpExists,
	"!exists": OpNotExists, "not_exists": OpNotExists,
	"in":  OpIn,
	"!in": OpNotIn, "not_in": OpNotIn,
	"=~": OpMatches, "matches": OpMatches,
	"!~": OpNotMatches, "not_matches": OpNotMatches,
}

// negated reports whether o is a negated operator, and its positive form.
func (o Op) positive() (Op, bool) {
	switch o {
	case OpNe:
		return OpEq, true
	case OpNotExists:
		return OpExists, true
	case OpNotIn:
		return OpIn, true
	case OpNotMatches:
		return OpMatches, true
	}
	return o, false
}

// Subject is what a comparison looks at.
type Subject int

// Subjects.
const (
	SubjAttribute Subject = iota // attribute:<name>
	SubjAgentConnected
	SubjAgentVersion
	SubjEC2InstanceID
	SubjRegisteredAt
	SubjRunningTasksCount
	SubjTaskGroup
)

var subjectNames = map[string]Subject{
	"agentConnected":    SubjAgentConnected,
	"agentVersion":      SubjAgentVersion,
	"ec2InstanceId":     SubjEC2InstanceID,
	"registeredAt":      SubjRegisteredAt,
	"runningTasksCount": SubjRunningTasksCount,
	"task:group":        SubjTaskGroup,
}

var subjectText = [...]string{
	SubjAgentConnected:    "agentConnected",
	SubjAgentVersion:      "agentVersion",
	SubjEC2InstanceID:     "ec2InstanceId",
	SubjRegisteredAt:      "registeredAt",
	SubjRunningTasksCount: "runningTasksCount",
	SubjTaskGroup:         "task:group",
}

// validOps lists the operators ECS's documentation allows per subject, plus
// exists/!exists everywhere. Attributes take every operator.
var validOps = map[Subject][]Op{
	SubjAgentConnected:    {OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches, OpExists, OpNotExists},
	SubjAgentVersion:      {OpEq, OpNe, OpGt, OpGe, OpLt, OpLe, OpExists, OpNotExists},
	SubjEC2InstanceID:     {OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches, OpExists, OpNotExists},
	SubjRegisteredAt:      {OpEq, OpNe, OpGt, OpGe, OpLt, OpLe, OpExists, OpNotExists},
	SubjRunningTasksCount: {OpEq, OpNe, OpGt, OpGe, OpLt, OpLe, OpExists, OpNotExists},
	SubjTaskGroup:         {OpEq, OpNe, OpIn, OpNotIn, OpMatches, OpNotMatches, OpExists, OpNotExists},
}

// Instance is a container instance as an expression sees it.
type Instance interface {
	// Attribute returns the value of a named attribute ("" for a name-only
	// attribute) and whether the instance has it. Built-in attributes
	// (ecs.instance-type, ecs.availability-zone, ...) come through here too.
	Attribute(name string) (value string, ok bool)
	EC2InstanceID() string // "" when not an EC2 instance
	AgentConnected() bool
	AgentVersion() string    // "" when unknown
	RegisteredAt() time.Time // zero when unknown
	RunningTasksCount() int
	// HasTaskGroup reports whether the instance runs a task of group.
	HasTaskGroup(group string) bool
	// TaskGroups lists the groups of the instance's running tasks.
	TaskGroups() []string
}

// Expr is a parsed expression, safe for concurrent evaluation.
type Expr struct {
	root    node
	dynamic bool
}

// Eval reports whether in satisfies the expression.
func (e *Expr) Eval(in Instance) bool { return e.root.eval(in) }

// String renders the expression canonically: symbolic operators, quoted
// values, explicit parentheses. Parsing the result yields the same string.
func (e *Expr) String() string {
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

// Dynamic reports whether the expression reads what placing a task changes
// (runningTasksCount, task:group); a static expression's value for an
// instance holds until the instance's attributes change.
func (e *Expr) Dynamic() bool { return e.dynamic }

type node interface {
	eval(Instance) bool
	write(*strings.Builder)
}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

func (n andNode) eval(in Instance) bool { return n.l.eval(in) && n.r.eval(in) }
func (n orNode) eval(in Instance) bool  { return n.l.eval(in) || n.r.eval(in) }
func (n notNode) eval(in Instance) bool { return !n.x.eval(in) }

func (n andNode) write(b *strings.Builder) {
	b.WriteByte('(')
	n.l.write(b)
	b.WriteString(" and ")
	n.r.write(b)
	b.WriteByte(')')
}

func (n orNode) write(b *strings.Builder) {
	b.WriteByte('(')
	n.l.write(b)
	b.WriteString(" or ")
	n.r.write(b)
	b.WriteByte(')')
}

func (n notNode) write(b *strings.Builder) {
	b.WriteString("not(")
	n.x.write(b)
	b.WriteByte(')')
}

// value is one literal, pre-converted for its subject.
type value struct {
	s     string
	num   float64 // attributes: the value as a number, when isNum
	isNum bool
	n     int64     // runningTasksCount
	t     time.Time // registeredAt
	prec  time.Duration
	ver   []int64 // agentVersion
}

type cmpNode struct {
	subj Subject
	attr string // SubjAttribute only
	op   Op     // positive form
	neg  bool
	vals []value
	re   *regexp.Regexp // OpMatches
}

func (n *cmpNode) write(b *strings.Builder) {
	if n.subj == SubjAttribute {
		b.WriteString("attribute:")
		b.WriteString(n.attr)
	} else {
		b.WriteString(subjectText[n.subj])
	}
	op := n.op
	if n.neg {
		switch op {
		case OpEq:
			op = OpNe
		case OpExists:
			op = OpNotExists
		case OpIn:
			op = OpNotIn
		case OpMatches:
			op = OpNotMatches
		}
	}
	b.WriteByte(' ')
	b.WriteString(op.String())
	switch n.op {
	case OpExists:
	case OpIn:
		b.WriteString(" [")
		for i, v := range n.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(b, v.s)
		}
		b.WriteByte(']')
	default:
		b.WriteByte(' ')
		writeQuoted(b, n.vals[0].s)
	}
}

func writeQuoted(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 {
		q = '"'
	}
	b.WriteByte(q)
	b.WriteString(s)
	b.WriteByte(q)
}

func (n *cmpNode) eval(in Instance) bool {
	return n.evalPositive(in) != n.neg
}

func (n *cmpNode) evalPositive(in Instance) bool {
	switch n.subj {
	case SubjTaskGroup:
		return n.evalGroups(in)
	case SubjRunningTasksCount:
		c := int64(in.RunningTasksCount())
		if n.op == OpExists {
			return true
		}
		return order(n.op, cmpInt(c, n.vals[0].n))
	case SubjRegisteredAt:
		t := in.RegisteredAt()
		if t.IsZero() {
			return false
		}
		if n.op == OpExists {
			return true
		}
		v := n.vals[0]
		return order(n.op, cmpInt(t.UTC().Truncate(v.prec).Unix(), v.t.Unix()))
	case SubjAgentVersion:
		s := in.AgentVersion()
		if s == "" {
			return false
		}
		if n.op == OpExists {
			return true
		}
		return order(n.op, cmpVersion(parseVersion(s), n.vals[0].ver))
	}
	var s string
	ok := true
	switch n.subj {
	case SubjAttribute:
		s, ok = in.Attribute(n.attr)
	case SubjEC2InstanceID:
		s = in.EC2InstanceID()
		ok = s != ""
	case SubjAgentConnected:
		s = strconv.FormatBool(in.AgentConnected())
	}
	if !ok {
		return false
	}
	switch n.op {
	case OpExists:
		return true
	case OpMatches:
		return n.re.MatchString(s)
	case OpIn:
		for _, v := range n.vals {
			if equalValue(s, v) {
				return true
			}
		}
		return false
	case OpEq:
		return equalValue(s, n.vals[0])
	}
	// Ordering: numerically when both sides are numbers.
	v := n.vals[0]
	if v.isNum {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return order(n.op, cmpFloat(f, v.num))
		}
	}
	return order(n.op, strings.Compare(s, v.s))
}

func (n *cmpNode) evalGroups(in Instance) bool {
	switch n.op {
	case OpExists:
		return len(in.TaskGroups()) > 0
	case OpEq:
		return in.HasTaskGroup(n.vals[0].s)
	case OpIn:
		for _, v := range n.vals {
			if in.HasTaskGroup(v.s) {
				return true
			}
		}
		return false
	case OpMatches:
		for _, g := range in.TaskGroups() {
			if n.re.MatchString(g) {
				return true
			}
		}
	}
	return false
}

func equalValue(s string, v value) bool {
	if s == v.s {
		return true
	}
	if v.isNum {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f == v.num
		}
	}
	return false
}

// order applies an ordering or equality operator to a three-way comparison.
func order(op Op, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpGt:
		return c > 0
	case OpGe:
		return c >= 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	}
	return false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseVersion reads a dotted version ("1.84.0", "v1.2"); non-numeric parts
// count as 0 so that any string has a version.
func parseVersion(s string) []int64 {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	var out []int64
	for p := range strings.SplitSeq(s, ".") {
		// Stop a part at its first non-digit: "0-rc1" is 0.
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, _ := strconv.ParseInt(p[:end], 10, 64)
		out = append(out, n)
	}
	return out
}

func cmpVersion(a, b []int64) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int64
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := cmpInt(x, y); c != 0 {
			return c
		}
	}
	return 0
}
