package awsapi

import "context"

// Input is what generated input shapes implement: a pointer to the shape that
// can validate itself against the model.
type Input[T any] interface {
	*T
	Validate() error
}

// NewOperation builds the Operation of one JSON-protocol operation, as the
// generated dispatchers do: Invoke decodes the body into a new In (an empty
// body is an empty object), validates it (violations answer validationCode,
// HTTP 400, with the Coral message), calls the handler and returns its output;
// a nil output is an empty Out, so it encodes as {}.
func NewOperation[In any, Out any, PIn Input[In]](name, validationCode string,
	call func(context.Context, PIn) (*Out, error)) Operation {
	return Operation{Name: name, Invoke: func(ctx context.Context, body []byte) (any, error) {
		in := PIn(new(In))
		if err := DecodeJSON(body, in); err != nil {
			return nil, err
		}
		if err := in.Validate(); err != nil {
			return nil, ValidationError(validationCode, err)
		}
		out, err := call(ctx, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = new(Out)
		}
		return out, nil
	}}
}
