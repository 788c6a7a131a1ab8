package awsapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// MaxJSONDepth bounds the nesting of a request body. The deepest shapes of the
// models Berth serves nest about a dozen levels; anything far deeper is an
// attack on the decoder, not a request.
const MaxJSONDepth = 64

// DecodeJSON decodes a JSON-protocol request body into v (a pointer to a
// generated input shape). An empty body is an empty object. Unknown members
// are ignored, as AWS does; malformed JSON, trailing data, excessive nesting
// and values of the wrong type are a SerializationException.
func DecodeJSON(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if err := checkDepth(body, MaxJSONDepth); err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serializationError(err)
	}
	return nil
}

// EncodeJSON encodes a generated output shape for a JSON-protocol response.
// A nil value encodes as {}.
func EncodeJSON(v any) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return []byte("{}"), nil
	}
	return json.Marshal(v)
}

// checkDepth rejects bodies nesting objects and arrays deeper than max. It is a
// cheap scan that only tracks strings and brackets; json.Unmarshal does the
// real syntax check afterwards.
func checkDepth(b []byte, limit int) error {
	depth := 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return SerializationError("Request body nests deeper than %d levels", limit)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// serializationError turns an encoding/json error into the SerializationException
// AWS answers with, naming the member and the expected type where known.
func serializationError(err error) *Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		found := foundKind(typeErr.Value)
		want := wireTypeName(typeErr.Type)
		if typeErr.Field == "" {
			return SerializationError("Cannot deserialize value of type '%s': found %s", want, found)
		}
		return SerializationError("Cannot deserialize value of type '%s' at '%s': found %s", want, typeErr.Field, found)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return SerializationError("Malformed JSON at offset %d: %s", syntaxErr.Offset, syntaxErr.Error())
	}
	var b64Err base64.CorruptInputError
	if errors.As(err, &b64Err) {
		return SerializationError("Cannot deserialize value of type 'blob': invalid base64 data at input byte %d", int64(b64Err))
	}
	if e, ok := AsError(err); ok {
		return e
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return SerializationError("Cannot deserialize request: %s", msg)
}

// foundKind names the JSON value encoding/json saw ("number", "string", "number 1.5", ...).
func foundKind(v string) string {
	kind, detail, _ := strings.Cut(v, " ")
	var s string
	switch kind {
	case "number":
		s = "a number"
		if detail != "" {
			return "the number " + detail
		}
	case "string":
		s = "a string"
	case "bool":
		s = "a boolean"
	case "array":
		s = "an array"
	case "object":
		s = "an object"
	case "null":
		s = "null"
	default:
		s = v
		detail = ""
	}
	if detail != "" {
		s += " (" + detail + ")"
	}
	return s
}

var timeType = reflect.TypeFor[Time]()

// wireTypeName names a Go type of a generated shape by its model type.
func wireTypeName(t reflect.Type) string {
	if t == nil {
		return "unknown"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "timestamp"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int32, reflect.Int, reflect.Int16, reflect.Int8:
		return "integer"
	case reflect.Int64:
		return "long"
	case reflect.Float32, reflect.Float64:
		return "double"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "blob"
		}
		return "list"
	case reflect.Map:
		return "map"
	case reflect.Struct:
		return "structure"
	}
	return t.String()
}
