package awsapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxClockSkew is how far a request's X-Amz-Date may be from the server's clock,
// the same window AWS allows.
const MaxClockSkew = 15 * time.Minute

// Principal is the identity a verified request was signed by.
type Principal struct {
	AccessKeyID string
	AccountID   string
	// ARN of the user or role, e.g. arn:aws:iam::000000000000:root.
	ARN string
}

// Credentials resolves an access key id to its secret and principal. It is
// the only thing the edge needs from IAM.
type Credentials interface {
	LookupAccessKey(ctx context.Context, accessKeyID string) (secret string, p Principal, ok bool)
}

// StaticCredentials is a fixed set of keys (the root key of `berth dev`).
type StaticCredentials map[string]StaticKey

// StaticKey is one entry of StaticCredentials.
type StaticKey struct {
	Secret    string
	Principal Principal
}

// LookupAccessKey implements Credentials.
func (s StaticCredentials) LookupAccessKey(_ context.Context, id string) (string, Principal, bool) {
	k, ok := s[id]
	return k.Secret, k.Principal, ok
}

// sigV4Auth is the parsed Authorization header.
type sigV4Auth struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
}

func parseAuthorization(h string) (sigV4Auth, *Error) {
	const algo = "AWS4-HMAC-SHA256"
	var a sigV4Auth
	if h == "" {
		return a, NewError(CodeMissingAuthToken, http.StatusForbidden, "Missing Authentication Token")
	}
	if !strings.HasPrefix(h, algo+" ") {
		return a, NewError(CodeIncompleteSig, http.StatusBadRequest,
			"Authorization header requires the %s algorithm; only SigV4 signing is accepted.", algo)
	}
	for _, part := range strings.Split(strings.TrimPrefix(h, algo+" "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return a, NewError(CodeIncompleteSig, http.StatusBadRequest,
					"Authorization header Credential is malformed: expected <key>/<date>/<region>/<service>/aws4_request, got %q.", v)
			}
			a.accessKeyID, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKeyID == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, NewError(CodeIncompleteSig, http.StatusBadRequest,
			"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
	}
	return a, nil
}

// verifySigV4 checks the request's signature by recomputing it with the
// aws-sdk-go-v2 signer over exactly the headers the client signed.
func verifySigV4(ctx context.Context, r *http.Request, body []byte, creds Credentials, now time.Time) (Principal, sigV4Auth, *Error) {
	auth, aerr := parseAuthorization(r.Header.Get("Authorization"))
	if aerr != nil {
		return Principal{}, auth, aerr
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signingTime, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return Principal{}, auth, NewError(CodeIncompleteSig, http.StatusBadRequest,
			"Request must contain a valid X-Amz-Date header (yyyyMMdd'T'HHmmss'Z'); got %q.", amzDate)
	}
	if d := now.Sub(signingTime); d > MaxClockSkew || d < -MaxClockSkew {
		return Principal{}, auth, NewError(CodeInvalidSignature, http.StatusBadRequest,
			"Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-MaxClockSkew).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z"))
	}
	if auth.date != signingTime.Format("20060102") {
		return Principal{}, auth, NewError(CodeInvalidSignature, http.StatusBadRequest,
			"Credential should be scoped to a valid date: %s does not match X-Amz-Date %s.", auth.date, amzDate)
	}
	secret, principal, ok := creds.LookupAccessKey(ctx, auth.accessKeyID)
	if !ok {
		return Principal{}, auth, NewError(CodeUnrecognizedClient, http.StatusBadRequest,
			"The security token included in the request is invalid.")
	}

	// Rebuild the request with only the signed headers so the signer signs the
	// same set the client did.
	clone, _ := http.NewRequestWithContext(ctx, r.Method, r.URL.String(), nil)
	clone.URL.RawQuery = r.URL.RawQuery
	clone.Host = r.Host
	clone.ContentLength = 0
	for _, h := range auth.signedHeaders {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		computed := hex.EncodeToString(sum[:])
		if payloadHash != "" && payloadHash != computed {
			return Principal{}, auth, NewError(CodeInvalidSignature, http.StatusBadRequest,
				"The provided x-amz-content-sha256 header does not match what was computed.")
		}
		payloadHash = computed
	}
	c := aws.Credentials{AccessKeyID: auth.accessKeyID, SecretAccessKey: secret,
		SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(ctx, c, clone, payloadHash, auth.service, auth.region, signingTime); err != nil {
		return Principal{}, auth, NewError(CodeInternalFailure, http.StatusInternalServerError, "signing: %v", err)
	}
	want, _ := parseAuthorization(clone.Header.Get("Authorization"))
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(auth.signature)) != 1 {
		return Principal{}, auth, NewError(CodeInvalidSignature, http.StatusBadRequest,
			"The request signature we calculated does not match the signature you provided. "+
				"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return principal, auth, nil
}
