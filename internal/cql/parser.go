package cql

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxDepth bounds nesting (parentheses and not) so a hostile expression
// cannot exhaust the stack; ECS caps expressions at 2000 characters anyway.
const maxDepth = 100

// Parse compiles src. Errors are *SyntaxError.
func Parse(src string) (*Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errorf(t, "expected and, or or end of expression")
	}
	return &Expr{root: root, dynamic: p.dynamic}, nil
}

// MustParse is Parse for expressions known to be valid; it panics otherwise.
func MustParse(src string) *Expr {
	e, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return e
}

type parser struct {
	toks    []token
	i       int
	dynamic bool
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf(format, args...), Found: t.describe()}
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tokWord && t.text == w
}

func (p *parser) or(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokOr || p.isWord("or") {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tokAnd || p.isWord("and") {
		p.next()
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (node, error) {
	t := p.peek()
	if depth >= maxDepth {
		return nil, &SyntaxError{Pos: t.pos, Msg: "expression nested too deeply"}
	}
	switch {
	case t.kind == tokNot || p.isWord("not"):
		p.next()
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case t.kind == tokLParen:
		p.next()
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tokRParen {
			return nil, p.errorf(c, "expected )")
		}
		return x, nil
	}
	return p.comparison()
}

const subjectsHint = "subject (attribute:<name>, agentConnected, agentVersion, ec2InstanceId, registeredAt, runningTasksCount or task:group)"

func (p *parser) comparison() (node, error) {
	t := p.next()
	if t.kind != tokWord {
		return nil, p.errorf(t, "expected %s", subjectsHint)
	}
	n := &cmpNode{}
	if name, ok := strings.CutPrefix(t.text, "attribute:"); ok {
		if name == "" {
			return nil, &SyntaxError{Pos: t.pos + len("attribute:"), Msg: "expected attribute name after attribute:"}
		}
		n.subj, n.attr = SubjAttribute, name
	} else if s, ok := subjectNames[t.text]; ok {
		n.subj = s
	} else {
		return nil, p.errorf(t, "expected %s", subjectsHint)
	}
	if n.subj == SubjRunningTasksCount || n.subj == SubjTaskGroup {
		p.dynamic = true
	}

	ot := p.next()
	op, ok := opByText[ot.text]
	if !ok || (ot.kind != tokOp && ot.kind != tokWord) {
		return nil, p.errorf(ot, "expected operator")
	}
	if allowed, limited := validOps[n.subj]; limited && !slices.Contains(allowed, op) {
		return nil, &SyntaxError{Pos: ot.pos, Msg: fmt.Sprintf("expected an operator valid for %s (not %s)", t.text, ot.text)}
	}
	n.op, n.neg = op.positive()

	switch n.op {
	case OpExists:
		return n, nil
	case OpIn:
		if b := p.next(); b.kind != tokLBrack {
			return nil, p.errorf(b, "expected [")
		}
		for {
			v, err := p.value(n)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
			sep := p.next()
			if sep.kind == tokRBrack {
				return n, nil
			}
			if sep.kind != tokComma {
				return nil, p.errorf(sep, "expected , or ]")
			}
		}
	}
	v, err := p.value(n)
	if err != nil {
		return nil, err
	}
	n.vals = []value{v}
	if n.op == OpMatches {
		// Java's String.matches: the whole value must match.
		re, err := regexp.Compile(`^(?:` + v.s + `)$`)
		if err != nil {
			return nil, &SyntaxError{Pos: p.toks[p.i-1].pos, Msg: "expected a regular expression: " + err.Error()}
		}
		n.re = re
	}
	return n, nil
}

// dateLayouts are registeredAt's accepted literals, with the precision they
// compare at.
var dateLayouts = []struct {
	layout string
	prec   time.Duration
}{
	{time.RFC3339, time.Second},
	{"2006-01-02T15:04:05", time.Second},
	{"2006-01-02", 24 * time.Hour},
}

func (p *parser) value(n *cmpNode) (value, error) {
	t := p.next()
	if t.kind != tokWord && t.kind != tokString {
		return value{}, p.errorf(t, "expected value")
	}
	v := value{s: t.text}
	if n.op == OpMatches {
		return v, nil
	}
	switch n.subj {
	case SubjRunningTasksCount:
		i, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return value{}, p.errorf(t, "expected integer")
		}
		v.n = i
	case SubjRegisteredAt:
		for _, l := range dateLayouts {
			if tm, err := time.Parse(l.layout, t.text); err == nil {
				v.t, v.prec = tm.UTC(), l.prec
				return v, nil
			}
		}
		return value{}, p.errorf(t, "expected date (2018-06-18T22:28:28Z, 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28 or 2018-06-18)")
	case SubjAgentVersion:
		v.ver = parseVersion(t.text)
	case SubjAgentConnected:
		if t.text != "true" && t.text != "false" {
			return value{}, p.errorf(t, "expected true or false")
		}
	case SubjAttribute:
		if f, err := strconv.ParseFloat(t.text, 64); err == nil && !strings.ContainsAny(t.text, "xXpPnN_") {
			v.num, v.isNum = f, true
		}
	}
	return v, nil
}
