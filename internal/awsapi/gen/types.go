package main

import (
	"fmt"
	"strconv"
	"strings"
)

func (g *generator) docFile() []byte {
	md := g.m.Metadata
	var b strings.Builder
	// The package clause is added by render; the doc comment must sit right
	// above it, so doc.go carries only a marker the renderer moves.
	fmt.Fprintf(&b, "// Package %s is the wire API of %s (%s, API version %s), generated from\n",
		g.svc.Pkg, md.ServiceFullName, md.ServiceID, md.APIVersion)
	fmt.Fprintf(&b, "// its botocore model: shapes, enums, Validate methods, the Handler interface and\n")
	fmt.Fprintf(&b, "// the dispatcher (NewService). Handlers translate these shapes to domain types;\n")
	fmt.Fprintf(&b, "// the domain never imports this package. It imports only internal/awsapi.\n")
	return []byte(b.String())
}

// typesFiles declares one Go type per structure shape (documents become
// json.RawMessage aliases).
func (g *generator) typesFiles() [][]byte {
	var c chunker
	for _, s := range g.m.sortedShapes() {
		if s.Type != "structure" {
			continue
		}
		c.add(g.structDecl(s))
	}
	return c.bytes()
}

func (g *generator) structDecl(s *Shape) string {
	var b strings.Builder
	tn := g.typeName[s.Name]
	if s.Document {
		fmt.Fprintf(&b, "// %s is a document (free-form JSON) shape.\ntype %s = json.RawMessage\n\n", tn, tn)
		return b.String()
	}
	fmt.Fprintf(&b, "// %s is the %s structure", tn, s.Name)
	switch {
	case s.Exception:
		fmt.Fprintf(&b, ", an error shape; handlers return it with New%s.\n", tn)
	case s.Union:
		b.WriteString(", a union: exactly one member is set.\n")
	case s.EventStream:
		b.WriteString(", an event stream; the JSON edge does not serve event streams.\n")
	case s.Event:
		b.WriteString(", an event of an event stream.\n")
	default:
		b.WriteString(".\n")
	}
	if s.Deprecated {
		fmt.Fprintf(&b, "//\n// Deprecated: %s is deprecated in the model.\n", s.Name)
	}
	fmt.Fprintf(&b, "type %s struct {\n", tn)
	names := fieldNames(s)
	for i, m := range s.Members {
		target := g.m.shape(m.Shape)
		required := s.IsRequired(m.Name) && !s.Union
		var notes []string
		if required {
			notes = append(notes, "Required.")
		}
		if m.IdempotencyToken {
			notes = append(notes, "Idempotency token: clients fill it in when omitted.")
		}
		if target.Sensitive {
			notes = append(notes, "Sensitive: never log it.")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&b, "\t// %s\n", strings.Join(notes, " "))
		}
		if m.Deprecated || target.Deprecated {
			if len(notes) > 0 {
				b.WriteString("\t//\n")
			}
			msg := m.DeprecatedMsg
			if msg == "" {
				msg = m.Name + " is deprecated in the model."
			}
			fmt.Fprintf(&b, "\t// Deprecated: %s\n", oneLine(msg))
		}
		// A required structure is a pointer too: an empty object is a valid
		// value, so only nil can mean "missing".
		typ := g.goType(m.Shape, !required || (target.Type == "structure" && !target.Document))
		fmt.Fprintf(&b, "\t%s %s `json:\"%s%s\"`\n", names[i], typ, m.WireName(), g.omit(m.Shape, required))
	}
	b.WriteString("}\n\n")
	return b.String()
}

// omit picks the JSON omission option: optional pointers use omitempty;
// lists, maps, blobs and documents use omitzero so a handler can still send an
// explicit empty list ("failures": []) by making it non-nil; required values
// are always sent.
func (g *generator) omit(shape string, required bool) string {
	if required {
		return ""
	}
	switch g.m.shape(shape).Type {
	case "list", "map", "blob":
		return ",omitzero"
	case "structure":
		if g.m.shape(shape).Document {
			return ",omitzero"
		}
	}
	return ",omitempty"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// enumsFile declares each string enum with its constants, Values and IsValid.
func (g *generator) enumsFile() []byte {
	var b strings.Builder
	for _, s := range g.m.sortedShapes() {
		consts, ok := g.enumConsts[s.Name]
		if !ok {
			continue
		}
		tn := g.typeName[s.Name]
		fmt.Fprintf(&b, "// %s is the %s enum.\ntype %s string\n\n", tn, s.Name, tn)
		fmt.Fprintf(&b, "// Values of %s.\nconst (\n", tn)
		for i, v := range s.Enum {
			fmt.Fprintf(&b, "\t%s %s = %s\n", consts[i], tn, strconv.Quote(v))
		}
		b.WriteString(")\n\n")
		fmt.Fprintf(&b, "// Values returns every value of %s, in model order.\n", tn)
		fmt.Fprintf(&b, "func (%s) Values() []%s {\n\treturn []%s{\n", tn, tn, tn)
		for _, c := range consts {
			fmt.Fprintf(&b, "\t\t%s,\n", c)
		}
		b.WriteString("\t}\n}\n\n")
		fmt.Fprintf(&b, "// IsValid reports whether e is one of the values of %s.\n", tn)
		fmt.Fprintf(&b, "func (e %s) IsValid() bool {\n\tswitch e {\n\tcase %s:\n\t\treturn true\n\t}\n\treturn false\n}\n\n",
			tn, strings.Join(consts, ", "))
	}
	return []byte(b.String())
}
