package ecs

import (
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// invalidParam is ECS's InvalidParameterException.
func invalidParam(format string, args ...any) error {
	return ecsapi.NewInvalidParameterException(format, args...)
}

// clientErr is ECS's ClientException, which ECS uses for unknown resources
// referenced by name (task definitions, instances) and for refusals.
func clientErr(format string, args ...any) error {
	return ecsapi.NewClientException(format, args...)
}

func clusterNotFound() error {
	return ecsapi.NewClusterNotFoundException("Cluster not found.")
}
