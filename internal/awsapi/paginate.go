package awsapi

import (
	"encoding/base64"
	"net/http"
	"sort"
)

// Paging describes an operation's list parameters: the default and largest
// page size, and the exception the service answers for a bad maxResults or
// nextToken (e.g. InvalidParameterException).
type Paging struct {
	Default, Limit int32
	ErrorCode      string
}

// Page returns the slice of sorted keys after the position encoded in token,
// at most max long (p.Default when max is nil), and the token of the next page
// (nil at the end). Tokens are opaque to clients: base64 of the last key
// returned, so a page stays correct when keys are added or removed between
// calls.
func (p Paging) Page(keys []string, token *string, max *int32) ([]string, *string, error) {
	n := p.Default
	if max != nil {
		n = *max
		if n < 1 || n > p.Limit {
			return nil, nil, NewError(p.ErrorCode, http.StatusBadRequest, "maxResults must be between 1 and %d.", p.Limit)
		}
	}
	start := 0
	if token != nil && *token != "" {
		after, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil || len(after) == 0 {
			return nil, nil, NewError(p.ErrorCode, http.StatusBadRequest, "Invalid nextToken: it was not returned by a previous call.")
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
