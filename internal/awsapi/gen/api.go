package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiFile declares the metadata constants, exception codes and constructors,
// the types made up for operations without input or output, the Handler
// interface and the Unimplemented base.
func (g *generator) apiFile() []byte {
	md := g.m.Metadata
	var b strings.Builder
	b.WriteString("// Service metadata from the model.\nconst (\n")
	fmt.Fprintf(&b, "\t// ServiceName is the endpoint prefix.\n\tServiceName = %q\n", md.EndpointPrefix)
	fmt.Fprintf(&b, "\tServiceID = %q\n", md.ServiceID)
	fmt.Fprintf(&b, "\tTargetPrefix = %q\n", md.TargetPrefix)
	fmt.Fprintf(&b, "\tSigningName = %q\n", g.signingName())
	fmt.Fprintf(&b, "\tAPIVersion = %q\n", md.APIVersion)
	fmt.Fprintf(&b, "\tJSONVersion = %q\n", md.JSONVersion)
	fmt.Fprintf(&b, "\tProtocol = %q\n", md.Protocol)
	b.WriteString(")\n\n")

	var exceptions []*Shape
	for _, s := range g.m.sortedShapes() {
		if s.Type == "structure" && s.Exception {
			exceptions = append(exceptions, s)
		}
	}
	if len(exceptions) > 0 {
		b.WriteString("// Exception names (the __type of error responses).\nconst (\n")
		for _, s := range exceptions {
			fmt.Fprintf(&b, "\tErrCode%s = %q\n", g.typeName[s.Name], errorCode(s))
		}
		b.WriteString(")\n\n")
	}
	for _, s := range exceptions {
		tn := g.typeName[s.Name]
		status := errorStatus(s)
		fmt.Fprintf(&b, "// New%s returns the API error %s (HTTP %d) with a formatted message.\n", tn, errorCode(s), status)
		fmt.Fprintf(&b, "func New%s(format string, args ...any) *awsapi.Error {\n", tn)
		fmt.Fprintf(&b, "\treturn awsapi.NewError(ErrCode%s, %d, format, args...)\n}\n\n", tn, status)
	}

	for _, st := range g.synthetic {
		if st.input {
			fmt.Fprintf(&b, "// %s is the (empty) input of %s, which the model leaves without one.\n", st.name, st.op)
			fmt.Fprintf(&b, "type %s struct{}\n\n", st.name)
			fmt.Fprintf(&b, "// Validate accepts every %s: it has no members.\n", st.name)
			fmt.Fprintf(&b, "func (s *%s) Validate() error { return nil }\n\n", st.name)
		} else {
			fmt.Fprintf(&b, "// %s is the (empty) output of %s, which the model leaves without one.\n", st.name, st.op)
			fmt.Fprintf(&b, "type %s struct{}\n\n", st.name)
		}
	}

	ops := g.m.sortedOperations()
	fmt.Fprintf(&b, "// Handler implements the %s API: one method per operation, called with\n", md.ServiceID)
	b.WriteString("// decoded and validated input. Return an *awsapi.Error (see the New<Exception>\n")
	b.WriteString("// constructors) for API errors; a nil output is sent as {}. Embed Unimplemented\n")
	b.WriteString("// to answer NotImplemented for operations not written yet.\n")
	b.WriteString("type Handler interface {\n")
	for i, op := range ops {
		if i > 0 {
			b.WriteString("\n")
		}
		var notes []string
		if g.isEventStreamOp(op) {
			notes = append(notes, "\t// The output is an event stream, which the JSON edge does not serve:\n\t// the dispatcher answers NotImplemented without calling this method.\n")
		}
		if op.Deprecated {
			notes = append(notes, "\t// Deprecated: the operation is deprecated in the model.\n")
		}
		fmt.Fprintf(&b, "\t// %s is the %s operation.\n", exportName(op.Name), op.Name)
		for _, n := range notes {
			b.WriteString("\t//\n" + n)
		}
		fmt.Fprintf(&b, "\t%s\n", g.methodSig(op, false))
	}
	b.WriteString("}\n\n")

	fmt.Fprintf(&b, "// Unimplemented answers every operation with awsapi.NotImplemented (HTTP 501).\n")
	fmt.Fprintf(&b, "// Embed it in a handler so it satisfies Handler while operations are written.\n")
	b.WriteString("type Unimplemented struct{}\n\n")
	b.WriteString("var _ Handler = Unimplemented{}\n\n")
	for _, op := range ops {
		fmt.Fprintf(&b, "// %s answers NotImplemented.\n", exportName(op.Name))
		fmt.Fprintf(&b, "func (Unimplemented) %s {\n", g.methodSig(op, true))
		fmt.Fprintf(&b, "\treturn nil, awsapi.NotImplemented(SigningName, %q)\n}\n\n", op.Name)
	}
	return []byte(b.String())
}

// methodSig is "Op(ctx context.Context, in *In) (*Out, error)".
func (g *generator) methodSig(op *Operation, anonymous bool) string {
	params := "ctx context.Context, in *" + g.opIn[op.Name]
	if anonymous {
		params = "context.Context, *" + g.opIn[op.Name]
	}
	return fmt.Sprintf("%s(%s) (*%s, error)", exportName(op.Name), params, g.opOut[op.Name])
}

func (g *generator) signingName() string {
	if g.m.Metadata.SigningName != "" {
		return g.m.Metadata.SigningName
	}
	return g.m.Metadata.EndpointPrefix
}

// errorCode is the exception name on the wire: error.code, else the shape name.
func errorCode(s *Shape) string {
	if s.Error != nil && s.Error.Code != "" {
		return s.Error.Code
	}
	return s.Name
}

// errorStatus is error.httpStatusCode; without one, 500 for server faults and
// 400 for everything else.
func errorStatus(s *Shape) int {
	if s.Error != nil && s.Error.HTTPStatusCode != 0 {
		return s.Error.HTTPStatusCode
	}
	if s.Fault {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// validationPreference lists, best first, the exceptions an operation answers
// invalid input with when its model lists them.
var validationPreference = []string{
	"InvalidParameterException", "ValidationException", "InvalidParameterValueException",
	"InvalidInputException", "ClientException",
}

// validationCode returns the Go expression of the code an operation answers
// validation failures with.
func (g *generator) validationCode(op *Operation) string {
	for _, want := range validationPreference {
		for _, e := range op.Errors {
			s := g.m.shape(e.Shape)
			if errorCode(s) == want {
				return "ErrCode" + g.typeName[s.Name]
			}
		}
	}
	return strconv.Quote("ValidationException")
}

// dispatchFile declares NewService.
func (g *generator) dispatchFile() []byte {
	var b strings.Builder
	b.WriteString("// NewService describes the API for the edge router: every operation decodes its\n")
	b.WriteString("// input, validates it (answering the operation's validation exception with the\n")
	b.WriteString("// Coral message) and calls h.\n")
	b.WriteString("func NewService(h Handler) *awsapi.Service {\n")
	b.WriteString("\treturn &awsapi.Service{\n")
	b.WriteString("\t\tName: ServiceName,\n\t\tSigningName: SigningName,\n\t\tTargetPrefix: TargetPrefix,\n")
	b.WriteString("\t\tProtocol: Protocol,\n\t\tJSONVersion: JSONVersion,\n")
	b.WriteString("\t\tOperations: map[string]awsapi.Operation{\n")
	for _, op := range g.m.sortedOperations() {
		code := g.validationCode(op)
		call := "h." + exportName(op.Name)
		if g.isEventStreamOp(op) {
			call = fmt.Sprintf("func(context.Context, *%s) (*%s, error) {\n\t\t\t\treturn nil, awsapi.NotImplemented(SigningName, %q)\n\t\t\t}",
				g.opIn[op.Name], g.opOut[op.Name], op.Name)
		}
		fmt.Fprintf(&b, "\t\t\t%q: awsapi.NewOperation(%q, %s, %s),\n", op.Name, op.Name, code, call)
	}
	b.WriteString("\t\t},\n\t}\n}\n")
	return []byte(b.String())
}
