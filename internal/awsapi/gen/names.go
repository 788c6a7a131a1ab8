package main

import (
	"fmt"
	"go/token"
	"strings"
	"unicode"
)

// Naming rules (kept deliberately simple so a Go name is predictable from the
// model and matches aws-sdk-go-v2 in the common cases):
//
//   - shapes and members: the model name with its first letter upper-cased and
//     any character that cannot appear in an identifier dropped; the rest of the
//     spelling is kept ("taskDefinitionArn" -> TaskDefinitionArn, "cpu" -> Cpu,
//     "RoleARN" -> RoleARN);
//   - enum constants: the type name followed by the value split at
//     non-alphanumerics, each all-upper or all-lower word title-cased and
//     mixed-case words kept ("EC2" -> LaunchTypeEc2, "FARGATE_SPOT" ->
//     CapacityProviderFargateSpot, "awsvpc" -> NetworkModeAwsvpc);
//   - collisions get a numeric suffix, found at generation time.

// exportName turns a model name into an exported Go identifier.
func exportName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			if r < unicode.MaxASCII {
				b.WriteRune(r)
			}
		}
	}
	s := b.String()
	if s == "" {
		s = "X"
	}
	if !unicode.IsLetter(rune(s[0])) {
		s = "X" + s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// enumValueName turns an enum value into the suffix of its constant name.
func enumValueName(value string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(value, func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		if strings.ToUpper(word) == word || strings.ToLower(word) == word {
			word = strings.ToLower(word)
		}
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	return b.String()
}

// namespace hands out unique package-level identifiers.
type namespace struct {
	used map[string]string // identifier -> what claimed it
}

func newNamespace() *namespace {
	return &namespace{used: map[string]string{}}
}

// claim reserves name for owner and panics on a collision: the generator must
// pick names deliberately, never silently shadow.
func (n *namespace) claim(name, owner string) {
	if prev, ok := n.used[name]; ok {
		panic(fmt.Sprintf("identifier %s wanted by %s is already used by %s", name, owner, prev))
	}
	if !token.IsIdentifier(name) || token.IsKeyword(name) {
		panic(fmt.Sprintf("%q (for %s) is not a valid identifier", name, owner))
	}
	n.used[name] = owner
}

// unique reserves name, or name2, name3, ... when taken.
func (n *namespace) unique(name, owner string) string {
	cand := name
	for i := 2; ; i++ {
		if _, ok := n.used[cand]; !ok {
			n.claim(cand, owner)
			return cand
		}
		cand = fmt.Sprintf("%s%d", name, i)
	}
}

// fieldNames assigns Go field names to a structure's members: unique within
// the structure and never the name of a generated method.
func fieldNames(s *Shape) []string {
	reserved := map[string]bool{"Validate": true, "Values": true, "IsValid": true}
	seen := map[string]bool{}
	names := make([]string, len(s.Members))
	for i, m := range s.Members {
		name := exportName(m.Name)
		if reserved[name] {
			name += "_"
		}
		base := name
		for j := 2; seen[name]; j++ {
			name = fmt.Sprintf("%s%d", base, j)
		}
		seen[name] = true
		names[i] = name
	}
	return names
}
