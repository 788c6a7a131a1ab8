package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// generator holds one service's model and the names chosen for it.
type generator struct {
	m   *Model
	svc Service
	ns  *namespace // package-level exported identifiers
	// private hands out unexported package-level names (rules, patterns).
	private *namespace

	typeName   map[string]string   // shape -> Go type (structures, enums, documents)
	enumConsts map[string][]string // enum shape -> constant names, in value order
	opIn       map[string]string   // operation -> Go input type
	opOut      map[string]string   // operation -> Go output type
	synthetic  []syntheticType     // types made up for operations without input/output

	inputs   map[string]bool // structures reachable from operation inputs
	needs    map[string]bool // shapes with at least one constraint to check
	ruleName map[string]string
	patterns map[string]string // Go regexp source -> variable name
	skipped  map[string]string // shape -> why its pattern is not checked
}

type syntheticType struct {
	name, op string
	input    bool
}

// Metadata identifiers every generated package declares.
var fixedNames = []string{
	"Handler", "Unimplemented", "NewService", "ServiceName", "ServiceID", "TargetPrefix",
	"SigningName", "APIVersion", "JSONVersion", "Protocol",
}

func generate(m *Model, svc Service) (map[string][]byte, error) {
	g := &generator{
		m: m, svc: svc, ns: newNamespace(), private: newNamespace(),
		typeName: map[string]string{}, enumConsts: map[string][]string{},
		opIn: map[string]string{}, opOut: map[string]string{},
		ruleName: map[string]string{}, patterns: map[string]string{}, skipped: map[string]string{},
	}
	if err := g.assignNames(); err != nil {
		return nil, err
	}
	g.analyze()
	files := map[string][]byte{}
	add := func(name string, body []byte) error {
		src, err := render(svc.Pkg, name, body)
		if err != nil {
			return err
		}
		files[name] = src
		return nil
	}
	var err error
	try := func(name string, body []byte) {
		if err == nil {
			err = add(name, body)
		}
	}
	try("doc.go", g.docFile())
	for i, chunk := range g.typesFiles() {
		try(chunkName("types", i), chunk)
	}
	try("enums.go", g.enumsFile())
	try("rules.go", g.rulesFile())
	for i, chunk := range g.validateFiles() {
		try(chunkName("validate", i), chunk)
	}
	try("api.go", g.apiFile())
	try("dispatch.go", g.dispatchFile())
	return files, err
}

func chunkName(base string, i int) string {
	if i == 0 {
		return base + ".go"
	}
	return base + strconv.Itoa(i+1) + ".go"
}

// assignNames picks every package-level exported identifier up front so that
// collisions surface as generator errors instead of compile errors.
func (g *generator) assignNames() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	for _, n := range fixedNames {
		g.ns.claim(n, "package metadata")
	}
	shapes := g.m.sortedShapes()
	for _, s := range shapes {
		if s.Type == "structure" || (s.Type == "string" && len(s.Enum) > 0) {
			name := exportName(s.Name)
			g.ns.claim(name, "shape "+s.Name)
			g.typeName[s.Name] = name
		}
	}
	for _, s := range shapes {
		if s.Type == "structure" && s.Exception {
			g.ns.claim("ErrCode"+g.typeName[s.Name], "exception "+s.Name)
			g.ns.claim("New"+g.typeName[s.Name], "exception "+s.Name)
		}
	}
	for _, op := range g.m.sortedOperations() {
		if op.Input != nil {
			g.opIn[op.Name] = g.typeName[op.Input.Shape]
		} else {
			name := g.ns.unique(exportName(op.Name)+"Input", "input of "+op.Name)
			g.opIn[op.Name] = name
			g.synthetic = append(g.synthetic, syntheticType{name: name, op: op.Name, input: true})
		}
		if op.Output != nil {
			g.opOut[op.Name] = g.typeName[op.Output.Shape]
		} else {
			name := g.ns.unique(exportName(op.Name)+"Output", "output of "+op.Name)
			g.opOut[op.Name] = name
			g.synthetic = append(g.synthetic, syntheticType{name: name, op: op.Name})
		}
	}
	for _, s := range shapes {
		if s.Type != "string" || len(s.Enum) == 0 {
			continue
		}
		tn := g.typeName[s.Name]
		consts := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			suffix := enumValueName(v)
			if suffix == "" {
				suffix = "Value" + strconv.Itoa(i)
			}
			consts[i] = g.ns.unique(tn+suffix, "enum value "+s.Name+"."+v)
		}
		g.enumConsts[s.Name] = consts
	}
	return nil
}

// goType is the Go type of a member or element targeting shape name. Optional
// scalars and structures are pointers; lists, maps, blobs and documents are
// nil when absent and never pointers.
func (g *generator) goType(name string, optional bool) string {
	s := g.m.shape(name)
	ptr := ""
	if optional {
		ptr = "*"
	}
	switch s.Type {
	case "structure":
		if s.Document {
			return g.typeName[name]
		}
		return ptr + g.typeName[name]
	case "string":
		if len(s.Enum) > 0 {
			return ptr + g.typeName[name]
		}
		return ptr + "string"
	case "integer":
		return ptr + "int32"
	case "long":
		return ptr + "int64"
	case "double", "float":
		return ptr + "float64"
	case "boolean":
		return ptr + "bool"
	case "timestamp":
		return ptr + "awsapi.Time"
	case "blob":
		return "[]byte"
	case "list":
		return "[]" + g.goType(s.Member.Shape, false)
	case "map":
		return "map[" + g.goType(s.Key.Shape, false) + "]" + g.goType(s.Value.Shape, false)
	}
	panic(fmt.Sprintf("shape %s: unsupported type %q", name, s.Type))
}

// isPointer reports whether an optional member targeting name is a pointer.
func (g *generator) isPointer(name string) bool {
	return strings.HasPrefix(g.goType(name, true), "*")
}

// isEventStreamOp reports whether the operation's output streams events, which
// the JSON edge cannot serve.
func (g *generator) isEventStreamOp(op *Operation) bool {
	if op.Output == nil {
		return false
	}
	for _, mem := range g.m.shape(op.Output.Shape).Members {
		if g.m.shape(mem.Shape).EventStream {
			return true
		}
	}
	return false
}

// render adds the header, package clause and imports to a body and gofmts it.
func render(pkg, name string, body []byte) ([]byte, error) {
	imports, err := usedImports(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, numbered(body))
	}
	var b bytes.Buffer
	b.WriteString(header)
	if name == "doc.go" {
		// The package comment must sit right above the package clause.
		b.WriteString("\n")
		b.Write(body)
		b.WriteString("package " + pkg + "\n")
		body = nil
	} else {
		b.WriteString("\npackage " + pkg + "\n\n")
	}
	if len(imports) > 0 {
		b.WriteString("import (\n")
		// Standard library first, then the module's own packages.
		var std, own []string
		for _, imp := range imports {
			if strings.Contains(imp, ".") {
				own = append(own, imp)
			} else {
				std = append(std, imp)
			}
		}
		for _, imp := range std {
			fmt.Fprintf(&b, "\t%q\n", imp)
		}
		if len(std) > 0 && len(own) > 0 {
			b.WriteString("\n")
		}
		for _, imp := range own {
			fmt.Fprintf(&b, "\t%q\n", imp)
		}
		b.WriteString(")\n\n")
	}
	b.Write(body)
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", name, err, numbered(b.Bytes()))
	}
	return src, nil
}

var knownImports = map[string]string{
	"awsapi":     "github.com/berth-dev/berth/internal/awsapi",
	"context":    "context",
	"json":       "encoding/json",
	"lazyregexp": "github.com/berth-dev/berth/internal/lazyregexp",
}

// usedImports parses body and returns the import paths of the packages it
// references through selector expressions.
func usedImports(body []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "", append([]byte("package p\n"), body...), parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				if path, ok := knownImports[id.Name]; ok {
					seen[path] = true
				}
			}
		}
		return true
	})
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func numbered(src []byte) string {
	lines := strings.Split(string(src), "\n")
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "%5d %s\n", i+1, l)
	}
	return b.String()
}

// chunker splits generated declarations into files of about maxLines lines.
type chunker struct {
	chunks []*bytes.Buffer
	lines  int
}

const maxLines = 3000

func (c *chunker) add(decl string) {
	n := strings.Count(decl, "\n")
	if len(c.chunks) == 0 || (c.lines+n > maxLines && c.lines > 0) {
		c.chunks = append(c.chunks, new(bytes.Buffer))
		c.lines = 0
	}
	c.chunks[len(c.chunks)-1].WriteString(decl)
	c.lines += n
}

func (c *chunker) bytes() [][]byte {
	if len(c.chunks) == 0 {
		return [][]byte{nil}
	}
	out := make([][]byte, len(c.chunks))
	for i, b := range c.chunks {
		out[i] = b.Bytes()
	}
	return out
}
