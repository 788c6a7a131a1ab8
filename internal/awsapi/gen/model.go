package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Model is a botocore service-2.json, reduced to what the generator reads.
type Model struct {
	Metadata   Metadata              `json:"metadata"`
	Operations map[string]*Operation `json:"operations"`
	Shapes     map[string]*Shape     `json:"shapes"`
}

// Metadata is the model's metadata block.
type Metadata struct {
	APIVersion       string `json:"apiVersion"`
	EndpointPrefix   string `json:"endpointPrefix"`
	JSONVersion      string `json:"jsonVersion"`
	Protocol         string `json:"protocol"`
	ServiceFullName  string `json:"serviceFullName"`
	ServiceID        string `json:"serviceId"`
	SignatureVersion string `json:"signatureVersion"`
	SigningName      string `json:"signingName"`
	TargetPrefix     string `json:"targetPrefix"`
	UID              string `json:"uid"`
}

// Operation is one API operation.
type Operation struct {
	Name       string     `json:"name"`
	Input      *ShapeRef  `json:"input"`
	Output     *ShapeRef  `json:"output"`
	Errors     []ShapeRef `json:"errors"`
	Deprecated bool       `json:"deprecated"`
}

// ShapeRef points at a shape, with the traits a reference may carry.
type ShapeRef struct {
	Shape            string `json:"shape"`
	LocationName     string `json:"locationName"`
	Deprecated       bool   `json:"deprecated"`
	DeprecatedMsg    string `json:"deprecatedMessage"`
	Box              bool   `json:"box"`
	IdempotencyToken bool   `json:"idempotencyToken"`
	JSONValue        bool   `json:"jsonvalue"`
}

// Member is a named member of a structure, in model order.
type Member struct {
	Name string
	ShapeRef
}

// Members keeps a structure's members in the order the model lists them, which
// is the order of the generated fields and of reported violations.
type Members []Member

// UnmarshalJSON decodes the members object preserving order.
func (ms *Members) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("members: expected an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var ref ShapeRef
		if err := dec.Decode(&ref); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		*ms = append(*ms, Member{Name: name, ShapeRef: ref})
	}
	_, err = dec.Token()
	return err
}

// ErrorTrait is a shape's "error" block.
type ErrorTrait struct {
	Code           string `json:"code"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	SenderFault    bool   `json:"senderFault"`
}

// Shape is one shape of any kind.
type Shape struct {
	Name        string      `json:"-"`
	Type        string      `json:"type"`
	Members     Members     `json:"members"`
	Required    []string    `json:"required"`
	Member      *ShapeRef   `json:"member"`
	Key         *ShapeRef   `json:"key"`
	Value       *ShapeRef   `json:"value"`
	Enum        []string    `json:"enum"`
	Min         json.Number `json:"min"`
	Max         json.Number `json:"max"`
	Pattern     *string     `json:"pattern"`
	Exception   bool        `json:"exception"`
	Fault       bool        `json:"fault"`
	Error       *ErrorTrait `json:"error"`
	Deprecated  bool        `json:"deprecated"`
	Sensitive   bool        `json:"sensitive"`
	Document    bool        `json:"document"`
	Union       bool        `json:"union"`
	EventStream bool        `json:"eventstream"`
	Event       bool        `json:"event"`
	Box         bool        `json:"box"`
}

// IsRequired reports whether member name is in the structure's required list.
func (s *Shape) IsRequired(name string) bool { return slices.Contains(s.Required, name) }

// WireName is the JSON member name: locationName when the model sets one.
func (m Member) WireName() string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return m.Name
}

// loadModel finds and reads <dir>/<service>/<newest version>/service-2.json
// (or .json.gz, as in botocore's data directory).
func loadModel(dir, service string) (*Model, string, error) {
	svcDir := filepath.Join(dir, service)
	entries, err := os.ReadDir(svcDir)
	if err != nil {
		return nil, "", err
	}
	var versions []string
	for _, e := range entries {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	// API versions are ISO dates, so the lexically greatest is the newest.
	sort.Sort(sort.Reverse(sort.StringSlice(versions)))
	for _, v := range versions {
		for _, name := range []string{"service-2.json", "service-2.json.gz"} {
			path := filepath.Join(svcDir, v, name)
			data, err := readMaybeGzip(path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			var m Model
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, "", fmt.Errorf("%s: %w", path, err)
			}
			for name, s := range m.Shapes {
				s.Name = name
			}
			for name, op := range m.Operations {
				if op.Name == "" {
					op.Name = name
				}
			}
			return &m, path, nil
		}
	}
	return nil, "", fmt.Errorf("no service-2.json(.gz) under %s: %w", svcDir, os.ErrNotExist)
}

func readMaybeGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	return io.ReadAll(r)
}

// sortedShapes returns the shapes ordered by name, for deterministic output.
func (m *Model) sortedShapes() []*Shape {
	out := make([]*Shape, 0, len(m.Shapes))
	for _, s := range m.Shapes {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sortedOperations returns the operations ordered by name.
func (m *Model) sortedOperations() []*Operation {
	out := make([]*Operation, 0, len(m.Operations))
	for _, op := range m.Operations {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// shape resolves a reference, failing loudly on a broken model.
func (m *Model) shape(name string) *Shape {
	s, ok := m.Shapes[name]
	if !ok {
		panic(fmt.Sprintf("model references unknown shape %q", name))
	}
	return s
}
