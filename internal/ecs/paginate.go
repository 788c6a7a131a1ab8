package ecs

import (
	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// page pages sorted keys the ECS way (InvalidParameterException for a bad
// maxResults or nextToken); see awsapi.Paging.
func page(keys []string, token *string, max *int32, def, limit int32) ([]string, *string, error) {
	return awsapi.Paging{Default: def, Limit: limit, ErrorCode: ecsapi.ErrCodeInvalidParameterException}.Page(keys, token, max)
}
