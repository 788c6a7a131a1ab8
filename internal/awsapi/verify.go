package awsapi

import (
	"net/http"
)

// VerifyRequest checks the SigV4 signature of a request that does not go
// through the AWS router, such as the agent link's WebSocket upgrade (a signed
// GET with an empty body), with the same credentials, clock and skew window as
// every API call. body is the request body the client signed (nil for none).
// The error is an *Error (403 for unknown keys and bad signatures, as AWS
// answers them).
func (s *Server) VerifyRequest(r *http.Request, body []byte) (Principal, error) {
	if s.cfg.Credentials == nil {
		return Principal{}, NewError(CodeInternalFailure, http.StatusInternalServerError, "no credential store configured")
	}
	p, _, aerr := verifySigV4(r.Context(), r, body, s.cfg.Credentials, s.cfg.Now())
	if aerr != nil {
		if aerr.StatusCode < http.StatusInternalServerError {
			aerr.StatusCode = http.StatusForbidden
		}
		return Principal{}, aerr
	}
	return p, nil
}
