package awsapi

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error as the client sees it: the exception name (the JSON
// `__type`), a message and the HTTP status. Handlers return it (usually built by
// the generated New<Exception> constructors); any other error becomes an
// InternalFailure/500 at the edge.
type Error struct {
	Code       string
	Message    string
	StatusCode int
	// Fields are extra top-level members some exceptions carry (e.g. ECR's
	// repositoryName); they are encoded beside __type and message.
	Fields map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError builds an Error; status 0 means 400.
func NewError(code string, status int, format string, args ...any) *Error {
	if status == 0 {
		status = http.StatusBadRequest
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg, StatusCode: status}
}

// AsError reports whether err is (or wraps) an *Error.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// IsCode reports whether err is an API error with the given exception name.
func IsCode(err error, code string) bool {
	e, ok := AsError(err)
	return ok && e.Code == code
}

// Common errors of the JSON protocols, the same names AWS answers with.
const (
	CodeUnknownOperation   = "UnknownOperationException"
	CodeSerialization      = "SerializationException"
	CodeNotImplemented     = "NotImplemented"
	CodeInternalFailure    = "InternalFailure"
	CodeUnrecognizedClient = "UnrecognizedClientException"
	CodeInvalidSignature   = "InvalidSignatureException"
	CodeMissingAuthToken   = "MissingAuthenticationTokenException"
	CodeIncompleteSig      = "IncompleteSignatureException"
	CodeRequestTooLarge    = "RequestEntityTooLargeException"
	CodeAccessDenied       = "AccessDeniedException"
)

// NotImplemented is what an operation Berth does not implement yet answers:
// HTTP 501 naming the operation, never a fake success.
func NotImplemented(service, op string) *Error {
	return NewError(CodeNotImplemented, http.StatusNotImplemented,
		"The operation %s of service %s is not implemented by Berth yet.", op, service)
}

// SerializationError reports a request body that is not valid for the shape.
func SerializationError(format string, args ...any) *Error {
	return NewError(CodeSerialization, http.StatusBadRequest, format, args...)
}
