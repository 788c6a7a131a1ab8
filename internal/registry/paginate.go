package registry

import (
	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

// page pages sorted keys the ECR way (InvalidParameterException for a bad
// maxResults or nextToken); see awsapi.Paging.
func page(keys []string, token *string, max *int32, def, limit int32) ([]string, *string, error) {
	return awsapi.Paging{Default: def, Limit: limit, ErrorCode: ecrapi.ErrCodeInvalidParameterException}.Page(keys, token, max)
}
