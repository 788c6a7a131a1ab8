package awsapi

import "context"

// Service is one AWS API as the edge router sees it. Generated packages build it
// from their model (NewService(handler)); the router picks it by X-Amz-Target
// prefix (JSON protocols) or by SigV4 signing name.
type Service struct {
	// Name is the model's endpointPrefix ("ecs", "ecr", "logs", ...).
	Name string
	// SigningName is the SigV4 service name clients sign with.
	SigningName string
	// TargetPrefix is the X-Amz-Target prefix ("AmazonEC2ContainerServiceV20141113").
	TargetPrefix string
	// Protocol is the model's protocol ("json"); JSONVersion is "1.0" or "1.1".
	Protocol    string
	JSONVersion string
	// Operations by name ("CreateCluster").
	Operations map[string]Operation
}

// Operation is one operation: Invoke decodes the body into the input shape,
// validates it, calls the handler and returns the output shape (encoded by the
// router) or an error (an *Error, or anything else for a 500).
type Operation struct {
	Name   string
	Invoke func(ctx context.Context, body []byte) (any, error)
}
