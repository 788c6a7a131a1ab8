package registry

import (
	"encoding/base64"
	"sort"

	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

// page returns the slice of sorted keys after the position encoded in token,
// at most max long (def when max is nil), and the next token ("" at the end).
// Tokens are opaque: base64 of the last key returned.
func page(keys []string, token *string, max *int32, def, limit int32) ([]string, *string, error) {
	n := def
	if max != nil {
		n = *max
		if n < 1 || n > limit {
			return nil, nil, ecrapi.NewInvalidParameterException("maxResults must be between 1 and %d.", limit)
		}
	}
	start := 0
	if token != nil && *token != "" {
		after, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil || len(after) == 0 {
			return nil, nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'nextToken': it was not returned by a previous call.")
		}
		start = sort.SearchStrings(keys, string(after))
		if start < len(keys) && keys[start] == string(after) {
			start++
		}
	}
	end := start + int(n)
	if end >= len(keys) {
		return keys[start:], nil, nil
	}
	next := base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	return keys[start:end], &next, nil
}
