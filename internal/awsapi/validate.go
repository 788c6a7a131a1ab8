package awsapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/lazyregexp"
)

// Validation of generated input shapes. Generated Validate methods walk a
// request and report every violated model constraint (required, min/max,
// enum, pattern) to a Validator; the resulting *ValidationErrors renders the
// message exactly the way AWS's Coral framework does, e.g.
//
//	2 validation errors detected: Value null at 'cluster' failed to satisfy
//	constraint: Member must not be null; Value '11' at 'count' failed to
//	satisfy constraint: Member must have value less than or equal to 10

// Violation is one failed constraint.
type Violation struct {
	// Path is the member path in Coral style: "containerDefinitions.1.member.name"
	// (list indexes are 1-based and followed by ".member").
	Path string
	// Value is the offending value; nil means the member is missing (null).
	Value any
	// Sensitive hides the value in the message.
	Sensitive bool
	// Constraint is the Coral sentence, e.g. "Member must not be null".
	Constraint string
}

// String renders the violation as one clause of the Coral message.
func (v Violation) String() string {
	return "Value " + v.renderValue() + " at '" + v.Path + "' failed to satisfy constraint: " + v.Constraint
}

func (v Violation) renderValue() string {
	if v.Value == nil {
		return "null"
	}
	if v.Sensitive {
		return "'*** Sensitive Data Redacted ***'"
	}
	return "'" + renderValue(reflect.ValueOf(v.Value)) + "'"
}

// ValidationErrors is every violation found in one request. Its message is the
// Coral one; the dispatcher wraps it in the operation's validation exception.
type ValidationErrors struct {
	Violations []Violation
}

func (e *ValidationErrors) Error() string {
	var b strings.Builder
	n := len(e.Violations)
	b.WriteString(strconv.Itoa(n))
	if n == 1 {
		b.WriteString(" validation error detected: ")
	} else {
		b.WriteString(" validation errors detected: ")
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// ValidationError wraps a validation failure (usually *ValidationErrors) as the
// API error an operation answers with: code is the operation's validation
// exception ("InvalidParameterException", "ValidationException", ...), HTTP 400.
func ValidationError(code string, err error) *Error {
	if e, ok := AsError(err); ok {
		return e
	}
	return NewError(code, http.StatusBadRequest, "%s", err.Error())
}

// Validator accumulates violations. The zero value is ready to use.
type Validator struct {
	violations []Violation
}

// Err returns nil when nothing was reported, else a *ValidationErrors.
func (v *Validator) Err() error {
	if len(v.violations) == 0 {
		return nil
	}
	return &ValidationErrors{Violations: v.violations}
}

// Violations returns what was reported so far.
func (v *Validator) Violations() []Violation { return v.violations }

// Add reports one violated constraint of value at path.
func (v *Validator) Add(path string, value any, sensitive bool, constraint string) {
	v.violations = append(v.violations, Violation{Path: path, Value: value, Sensitive: sensitive, Constraint: constraint})
}

// Missing reports a required member that is absent.
func (v *Validator) Missing(path string) {
	v.Add(path, nil, false, "Member must not be null")
}

// String checks a string member against r, one violation per failed constraint.
func (v *Validator) String(path, s string, r *StringRule) {
	var buf [4]string
	for _, c := range r.Check(s, buf[:0]) {
		v.Add(path, s, r.Sensitive, c)
	}
}

// Int checks an integer or long member against r.
func (v *Validator) Int(path string, n int64, r *IntRule) {
	var buf [2]string
	for _, c := range r.Check(n, buf[:0]) {
		v.Add(path, n, false, c)
	}
}

// Float checks a double or float member against r.
func (v *Validator) Float(path string, f float64, r *FloatRule) {
	var buf [2]string
	for _, c := range r.Check(f, buf[:0]) {
		v.Add(path, f, false, c)
	}
}

// Len checks the length of a list, map or blob member (value is reported as is).
func (v *Validator) Len(path string, value any, n int, r *LenRule) {
	var buf [2]string
	for _, c := range r.Check(n, buf[:0]) {
		v.Add(path, value, r.Sensitive, c)
	}
}

// Join appends a member name to a path.
func Join(path, member string) string {
	if path == "" {
		return member
	}
	return path + "." + member
}

// Index is the path of the i-th (0-based) element of the list at path, in
// Coral's 1-based "list.N.member" form.
func Index(path string, i int) string {
	return path + "." + strconv.Itoa(i+1) + ".member"
}

// Key is the path of a map value.
func Key[K ~string](path string, k K) string {
	return path + "." + string(k)
}

// StringElems checks each element of a list of strings (or string enums)
// against r; like Coral, failures are reported once for the whole list:
// "Member must satisfy constraint: [...]".
func StringElems[S ~string](v *Validator, path string, list []S, r *StringRule) {
	var failed []string
	for _, e := range list {
		failed = mergeConstraints(failed, r.Check(string(e), nil))
	}
	if len(failed) > 0 {
		v.Add(path, list, r.Sensitive, "Member must satisfy constraint: ["+strings.Join(failed, ", ")+"]")
	}
}

// IntElems checks each element of a list of integers or longs against r.
func IntElems[N ~int32 | ~int64](v *Validator, path string, list []N, r *IntRule) {
	var failed []string
	for _, e := range list {
		failed = mergeConstraints(failed, r.Check(int64(e), nil))
	}
	if len(failed) > 0 {
		v.Add(path, list, false, "Member must satisfy constraint: ["+strings.Join(failed, ", ")+"]")
	}
}

// FloatElems checks each element of a list of doubles against r.
func FloatElems(v *Validator, path string, list []float64, r *FloatRule) {
	var failed []string
	for _, e := range list {
		failed = mergeConstraints(failed, r.Check(e, nil))
	}
	if len(failed) > 0 {
		v.Add(path, list, false, "Member must satisfy constraint: ["+strings.Join(failed, ", ")+"]")
	}
}

// MapKeys checks every key of a map against r ("Map keys must satisfy constraint: [...]").
func MapKeys[K ~string, V any](v *Validator, path string, m map[K]V, r *StringRule) {
	var failed []string
	for k := range m {
		failed = mergeConstraints(failed, r.Check(string(k), nil))
	}
	if len(failed) > 0 {
		v.Add(path, m, r.Sensitive, "Map keys must satisfy constraint: ["+strings.Join(failed, ", ")+"]")
	}
}

// MapStringValues checks every string value of a map against r
// ("Map value must satisfy constraint: [...]").
func MapStringValues[K comparable, V ~string](v *Validator, path string, m map[K]V, r *StringRule) {
	var failed []string
	for _, e := range m {
		failed = mergeConstraints(failed, r.Check(string(e), nil))
	}
	if len(failed) > 0 {
		v.Add(path, m, r.Sensitive, "Map value must satisfy constraint: ["+strings.Join(failed, ", ")+"]")
	}
}

// MapIntValues checks every integer value of a map against r.
func MapIntValues[K comparable, V ~int32 | ~int64](v *Validator, path string, m map[K]V, r *IntRule) {
	var failed []string
	for _, e := range m {
		failed = mergeConstraints(failed, r.Check(int64(e), nil))
	}
	if len(failed) > 0 {
		v.Add(path, m, false, "Map value must satisfy constraint: ["+strings.Join(failed, ", ")+"]")
	}
}

// SortedKeys returns the keys of m in order, so map values are validated (and
// reported) deterministically.
func SortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mergeConstraints appends the constraints of add missing from dst, keeping
// the model's order of first appearance.
func mergeConstraints(dst, add []string) []string {
	for _, c := range add {
		if !slices.Contains(dst, c) {
			dst = append(dst, c)
		}
	}
	return dst
}

// StringRule holds the constraints of a string shape. Lengths count runes.
type StringRule struct {
	HasMin, HasMax bool
	Min, Max       int64
	// Enum is the allowed value set, in model order; empty means any value.
	Enum []string
	// Pattern must match the whole value; PatternText is the model's pattern
	// as shown in messages.
	Pattern     *lazyregexp.Regexp
	PatternText string
	Sensitive   bool
}

// Check appends to dst the Coral sentence of each constraint s violates.
func (r *StringRule) Check(s string, dst []string) []string {
	if r.HasMax || r.HasMin {
		n := int64(utf8.RuneCountInString(s))
		if r.HasMax && n > r.Max {
			dst = append(dst, "Member must have length less than or equal to "+strconv.FormatInt(r.Max, 10))
		}
		if r.HasMin && n < r.Min {
			dst = append(dst, "Member must have length greater than or equal to "+strconv.FormatInt(r.Min, 10))
		}
	}
	if r.Pattern != nil && !r.Pattern.MatchString(s) {
		dst = append(dst, "Member must satisfy regular expression pattern: "+r.PatternText)
	}
	if len(r.Enum) > 0 && !slices.Contains(r.Enum, s) {
		dst = append(dst, "Member must satisfy enum value set: ["+strings.Join(r.Enum, ", ")+"]")
	}
	return dst
}

// IntRule holds the numeric bounds of an integer or long shape.
type IntRule struct {
	HasMin, HasMax bool
	Min, Max       int64
}

// Check appends to dst the Coral sentence of each bound n violates.
func (r *IntRule) Check(n int64, dst []string) []string {
	if r.HasMax && n > r.Max {
		dst = append(dst, "Member must have value less than or equal to "+strconv.FormatInt(r.Max, 10))
	}
	if r.HasMin && n < r.Min {
		dst = append(dst, "Member must have value greater than or equal to "+strconv.FormatInt(r.Min, 10))
	}
	return dst
}

// FloatRule holds the numeric bounds of a double or float shape.
type FloatRule struct {
	HasMin, HasMax bool
	Min, Max       float64
}

// Check appends to dst the Coral sentence of each bound f violates (NaN
// violates every bound).
func (r *FloatRule) Check(f float64, dst []string) []string {
	if r.HasMax && !(f <= r.Max) {
		dst = append(dst, "Member must have value less than or equal to "+formatFloat(r.Max))
	}
	if r.HasMin && !(f >= r.Min) {
		dst = append(dst, "Member must have value greater than or equal to "+formatFloat(r.Min))
	}
	return dst
}

// LenRule holds the length bounds of a list, map or blob shape.
type LenRule struct {
	HasMin, HasMax bool
	Min, Max       int64
	Sensitive      bool
}

// Check appends to dst the Coral sentence of each bound length n violates.
func (r *LenRule) Check(n int, dst []string) []string {
	if r.HasMax && int64(n) > r.Max {
		dst = append(dst, "Member must have length less than or equal to "+strconv.FormatInt(r.Max, 10))
	}
	if r.HasMin && int64(n) < r.Min {
		dst = append(dst, "Member must have length greater than or equal to "+strconv.FormatInt(r.Min, 10))
	}
	return dst
}

// formatFloat prints a double the way Java's Double.toString does for
// ordinary values ("100.0", "0.5").
func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e7 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// renderValue prints a value inside Value '...' the way Java's toString would:
// strings as is, lists as [a, b], maps as {k=v}, structures as JSON.
func renderValue(rv reflect.Value) string {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return "null"
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float())
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(rv.Bytes())
		}
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = renderValue(rv.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		parts := make([]string, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			parts = append(parts, renderValue(it.Key())+"="+renderValue(it.Value()))
		}
		slices.Sort(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Struct:
		if rv.CanInterface() {
			if b, err := json.Marshal(rv.Interface()); err == nil {
				return string(b)
			}
		}
	}
	return fmt.Sprint(rv)
}
