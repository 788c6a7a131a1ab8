package main

import (
	"fmt"
	"strconv"
	"strings"
)

// analyze computes which structures need a Validate method (those reachable
// from operation inputs), which shapes carry constraints, and the rule and
// pattern variables the checks use.
func (g *generator) analyze() {
	g.inputs = map[string]bool{}
	reach := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if reach[name] {
			return
		}
		reach[name] = true
		s := g.m.shape(name)
		switch s.Type {
		case "structure":
			if !s.Document {
				g.inputs[name] = true
			}
			for _, m := range s.Members {
				walk(m.Shape)
			}
		case "list":
			walk(s.Member.Shape)
		case "map":
			walk(s.Key.Shape)
			walk(s.Value.Shape)
		}
	}
	for _, op := range g.m.sortedOperations() {
		if op.Input != nil {
			walk(op.Input.Shape)
		}
	}

	// Patterns first: a pattern Go cannot compile is no constraint at all.
	for _, s := range g.m.sortedShapes() {
		if s.Type != "string" || s.Pattern == nil || !reach[s.Name] {
			continue
		}
		src, err := goPattern(*s.Pattern)
		if err != nil {
			g.skipped[s.Name] = err.Error()
			continue
		}
		if _, ok := g.patterns[src]; !ok {
			g.patterns[src] = g.private.unique("pattern"+strconv.Itoa(len(g.patterns)), "pattern "+src)
		}
	}

	// needs is a least fixpoint: recursive shapes converge in a few rounds.
	g.needs = map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, s := range g.m.sortedShapes() {
			if !g.needs[s.Name] && g.computeNeeds(s) {
				g.needs[s.Name] = true
				changed = true
			}
		}
	}
	for _, s := range g.m.sortedShapes() {
		if reach[s.Name] && g.hasOwnRule(s) {
			g.ruleName[s.Name] = g.private.unique("rule"+exportName(s.Name), "rule of "+s.Name)
		}
	}
}

// hasOwnRule reports whether the shape itself carries a checkable constraint.
func (g *generator) hasOwnRule(s *Shape) bool {
	switch s.Type {
	case "string":
		return s.Min != "" || s.Max != "" || len(s.Enum) > 0 || (s.Pattern != nil && g.skipped[s.Name] == "")
	case "integer", "long", "double", "float", "blob", "list", "map":
		return s.Min != "" || s.Max != ""
	}
	return false
}

func (g *generator) computeNeeds(s *Shape) bool {
	if g.hasOwnRule(s) {
		return true
	}
	switch s.Type {
	case "list":
		return g.needs[s.Member.Shape]
	case "map":
		return g.needs[s.Key.Shape] || g.needs[s.Value.Shape]
	case "structure":
		if s.Document {
			return false
		}
		for _, m := range s.Members {
			if g.needs[m.Shape] || (s.IsRequired(m.Name) && !s.Union && requiredCheckable(g.m.shape(m.Shape))) {
				return true
			}
		}
	}
	return false
}

// requiredCheckable reports whether a missing required member of this shape
// can be detected: numbers and booleans decode to a valid zero value.
func requiredCheckable(s *Shape) bool {
	switch s.Type {
	case "integer", "long", "double", "float", "boolean":
		return false
	}
	return true
}

// rulesFile declares the compiled patterns and one rule per constrained shape.
func (g *generator) rulesFile() []byte {
	var b strings.Builder
	if len(g.patterns) > 0 {
		b.WriteString("// Patterns of the model, compiled once on first use (every berth process\n" +
			"// runs this package's init; the agent never validates a request). Like AWS, a\n" +
			"// pattern must match the whole value.\nvar (\n")
		srcs := make([]string, 0, len(g.patterns))
		for src := range g.patterns {
			srcs = append(srcs, src)
		}
		// Variables are numbered in discovery order; emit them in that order.
		byName := map[string]string{}
		for _, src := range srcs {
			byName[g.patterns[src]] = src
		}
		for i := 0; i < len(srcs); i++ {
			name := "pattern" + strconv.Itoa(i)
			fmt.Fprintf(&b, "\t%s = lazyregexp.New(%s)\n", name, strconv.Quote(byName[name]))
		}
		b.WriteString(")\n\n")
	}
	for _, s := range g.m.sortedShapes() {
		if why, ok := g.skipped[s.Name]; ok {
			fmt.Fprintf(&b, "// The pattern of %s is not checked: %s.\n//\n//\t%s\n\n", s.Name, why, *s.Pattern)
		}
	}
	for _, s := range g.m.sortedShapes() {
		name, ok := g.ruleName[s.Name]
		if !ok {
			continue
		}
		var fields []string
		if s.Min != "" {
			fields = append(fields, "HasMin: true", "Min: "+g.bound(s, s.Min))
		}
		if s.Max != "" {
			fields = append(fields, "HasMax: true", "Max: "+g.bound(s, s.Max))
		}
		typ := "awsapi.LenRule"
		switch s.Type {
		case "string":
			typ = "awsapi.StringRule"
			if len(s.Enum) > 0 {
				q := make([]string, len(s.Enum))
				for i, v := range s.Enum {
					q[i] = strconv.Quote(v)
				}
				fields = append(fields, "Enum: []string{"+strings.Join(q, ", ")+"}")
			}
			if s.Pattern != nil && g.skipped[s.Name] == "" {
				src, _ := goPattern(*s.Pattern)
				fields = append(fields, "Pattern: "+g.patterns[src], "PatternText: "+strconv.Quote(*s.Pattern))
			}
		case "integer", "long":
			typ = "awsapi.IntRule"
		case "double", "float":
			typ = "awsapi.FloatRule"
		}
		if s.Sensitive && (typ == "awsapi.StringRule" || typ == "awsapi.LenRule") {
			fields = append(fields, "Sensitive: true")
		}
		fmt.Fprintf(&b, "var %s = %s{%s}\n\n", name, typ, strings.Join(fields, ", "))
	}
	return []byte(b.String())
}

// bound renders a min/max trait as a Go literal of the rule's type.
func (g *generator) bound(s *Shape, n fmt.Stringer) string {
	text := n.String()
	switch s.Type {
	case "double", "float":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			panic(fmt.Sprintf("shape %s: bad bound %q", s.Name, text))
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		panic(fmt.Sprintf("shape %s: bad bound %q", s.Name, text))
	}
	return strconv.FormatInt(int64(f), 10)
}

// validateFiles declares Validate and validate for every input structure.
func (g *generator) validateFiles() [][]byte {
	var c chunker
	for _, s := range g.m.sortedShapes() {
		if !g.inputs[s.Name] {
			continue
		}
		c.add(g.validateDecl(s))
	}
	return c.bytes()
}

func (g *generator) validateDecl(s *Shape) string {
	tn := g.typeName[s.Name]
	var b strings.Builder
	fmt.Fprintf(&b, "// Validate checks the model's constraints on s and everything it holds,\n")
	fmt.Fprintf(&b, "// returning all violations as an *awsapi.ValidationErrors. A nil s is valid.\n")
	fmt.Fprintf(&b, "func (s *%s) Validate() error {\n\tif s == nil {\n\t\treturn nil\n\t}\n", tn)
	fmt.Fprintf(&b, "\tvar v awsapi.Validator\n\ts.validate(&v, \"\")\n\treturn v.Err()\n}\n\n")
	if !g.needs[s.Name] {
		fmt.Fprintf(&b, "func (s *%s) validate(*awsapi.Validator, string) {}\n\n", tn)
		return b.String()
	}
	fmt.Fprintf(&b, "func (s *%s) validate(v *awsapi.Validator, p string) {\n", tn)
	names := fieldNames(s)
	for i, m := range s.Members {
		t := g.m.shape(m.Shape)
		required := s.IsRequired(m.Name) && !s.Union
		field := "s." + names[i]
		pth := fmt.Sprintf("awsapi.Join(p, %q)", m.WireName())
		var body strings.Builder
		if required {
			g.check(&body, t, field, pth, 1)
			g.requiredCheck(&b, t, field, pth, body.String())
			continue
		}
		x := field
		if g.isPointer(m.Shape) && t.Type != "structure" {
			x = "*" + field
		}
		g.check(&body, t, x, pth, 1)
		if body.Len() > 0 {
			fmt.Fprintf(&b, "\tif %s != nil {\n%s\t}\n", field, body.String())
		}
	}
	b.WriteString("}\n\n")
	return b.String()
}

// requiredCheck wraps the checks of a required member with its presence test.
func (g *generator) requiredCheck(b *strings.Builder, t *Shape, field, pth, body string) {
	var missing string
	switch t.Type {
	case "string":
		missing = field + ` == ""`
	case "list", "map", "blob", "structure":
		missing = field + " == nil"
	case "timestamp":
		missing = field + ".IsZero()"
	default: // numbers and booleans: always present
		b.WriteString(body)
		return
	}
	fmt.Fprintf(b, "\tif %s {\n\t\tv.Missing(%s)\n\t}", missing, pth)
	if body != "" {
		fmt.Fprintf(b, " else {\n%s\t}", body)
	}
	b.WriteString("\n")
}

// check emits the checks of a present value x (addressable, or a pointer for
// structures) of shape t at path expression pth.
func (g *generator) check(b *strings.Builder, t *Shape, x, pth string, depth int) {
	if !g.needs[t.Name] {
		return
	}
	ind := strings.Repeat("\t", depth)
	rule := "&" + g.ruleName[t.Name]
	switch t.Type {
	case "string":
		if len(t.Enum) > 0 {
			x = "string(" + x + ")"
		}
		fmt.Fprintf(b, "%sv.String(%s, %s, %s)\n", ind, pth, x, rule)
	case "integer", "long":
		fmt.Fprintf(b, "%sv.Int(%s, int64(%s), %s)\n", ind, pth, x, rule)
	case "double", "float":
		fmt.Fprintf(b, "%sv.Float(%s, %s, %s)\n", ind, pth, x, rule)
	case "blob":
		fmt.Fprintf(b, "%sv.Len(%s, %s, len(%s), %s)\n", ind, pth, x, x, rule)
	case "structure":
		fmt.Fprintf(b, "%s%s.validate(v, %s)\n", ind, x, pth)
	case "list":
		if g.hasOwnRule(t) {
			fmt.Fprintf(b, "%sv.Len(%s, %s, len(%s), %s)\n", ind, pth, x, x, rule)
		}
		e := g.m.shape(t.Member.Shape)
		if !g.needs[e.Name] {
			return
		}
		erule := "&" + g.ruleName[e.Name]
		switch e.Type {
		case "string":
			fmt.Fprintf(b, "%sawsapi.StringElems(v, %s, %s, %s)\n", ind, pth, x, erule)
		case "integer", "long":
			fmt.Fprintf(b, "%sawsapi.IntElems(v, %s, %s, %s)\n", ind, pth, x, erule)
		case "double", "float":
			fmt.Fprintf(b, "%sawsapi.FloatElems(v, %s, %s, %s)\n", ind, pth, x, erule)
		default:
			i := "i" + strconv.Itoa(depth)
			fmt.Fprintf(b, "%sfor %s := range %s {\n", ind, i, x)
			g.check(b, e, x+"["+i+"]", fmt.Sprintf("awsapi.Index(%s, %s)", pth, i), depth+1)
			fmt.Fprintf(b, "%s}\n", ind)
		}
	case "map":
		if g.hasOwnRule(t) {
			fmt.Fprintf(b, "%sv.Len(%s, %s, len(%s), %s)\n", ind, pth, x, x, rule)
		}
		if k := g.m.shape(t.Key.Shape); g.needs[k.Name] {
			fmt.Fprintf(b, "%sawsapi.MapKeys(v, %s, %s, &%s)\n", ind, pth, x, g.ruleName[k.Name])
		}
		e := g.m.shape(t.Value.Shape)
		if !g.needs[e.Name] {
			return
		}
		switch e.Type {
		case "string":
			fmt.Fprintf(b, "%sawsapi.MapStringValues(v, %s, %s, &%s)\n", ind, pth, x, g.ruleName[e.Name])
		case "integer", "long":
			fmt.Fprintf(b, "%sawsapi.MapIntValues(v, %s, %s, &%s)\n", ind, pth, x, g.ruleName[e.Name])
		default:
			k, ev := "k"+strconv.Itoa(depth), "e"+strconv.Itoa(depth)
			fmt.Fprintf(b, "%sfor _, %s := range awsapi.SortedKeys(%s) {\n", ind, k, x)
			fmt.Fprintf(b, "%s\t%s := %s[%s]\n", ind, ev, x, k)
			g.check(b, e, ev, fmt.Sprintf("awsapi.Key(%s, %s)", pth, k), depth+1)
			fmt.Fprintf(b, "%s}\n", ind)
		}
	}
}
