package runtime

import "errors"

// Class is an error class. Implementations wrap engine errors in *Error so
// callers test classes with errors.Is and never look at engine messages.
type Class struct {
	name   string
	parent *Class
}

func (c *Class) Error() string { return c.name }

// Unwrap makes a narrower class match its parent: errors.Is(err, ErrNotFound)
// holds for ErrImageNotFound too.
func (c *Class) Unwrap() error {
	if c.parent == nil {
		return nil
	}
	return c.parent
}

// Error classes. Each maps to one reaction of the task engine.
var (
	// ErrNotFound: the container, network, volume or image does not exist.
	ErrNotFound = &Class{name: "not found"}
	// ErrImageNotFound: the image is not present locally, or the registry
	// does not have it. It is also an ErrNotFound. The engine decides whether to
	// pull (ECS_IMAGE_PULL_BEHAVIOR default/always/once/prefer-cached).
	ErrImageNotFound = &Class{name: "image not found", parent: ErrNotFound}
	// ErrConflict: a name is taken, the object is in use, or its state forbids
	// the operation (removing a running container without force).
	ErrConflict = &Class{name: "conflict"}
	// ErrInvalid: the engine rejected the spec (bad mount, memory too low, ...).
	ErrInvalid = &Class{name: "invalid"}
	// ErrUnauthorized: the registry refused the credentials (or lack of them).
	ErrUnauthorized = &Class{name: "unauthorized"}
	// ErrUnavailable: the engine or registry did not answer, or answered that
	// it cannot do it now. Retrying later may work.
	ErrUnavailable = &Class{name: "unavailable"}
	// ErrPull: a pull failed for a reason none of the narrower classes
	// describe (bad manifest, disk full, ...). ECS reports it as
	// CannotPullContainerError.
	ErrPull = &Class{name: "pull failed"}
)

// Error is an operation's failure: the operation, the object, the class (nil
// when unknown) and the engine's error.
type Error struct {
	Op     string // "create container", "pull image", ...
	Object string // name or id the operation was about
	Class  *Class
	Err    error
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Object != "" {
		msg += " " + e.Object
	}
	if e.Class != nil {
		msg += ": " + e.Class.name
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the class and the engine error to errors.Is/As, so
// context.DeadlineExceeded stays visible through a classified error.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Class != nil {
		errs = append(errs, e.Class)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Errorf builds an *Error for implementations; err may be nil.
func Errorf(class *Class, op, object string, err error) error {
	return &Error{Op: op, Object: object, Class: class, Err: err}
}

// ClassOf returns the most specific class of err, or nil.
func ClassOf(err error) *Class {
	var e *Error
	if errors.As(err, &e) && e.Class != nil {
		return e.Class
	}
	var c *Class
	if errors.As(err, &c) {
		return c
	}
	return nil
}
