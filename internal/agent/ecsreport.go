package agent

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// ecsPoster sends the agent's task and container state changes: one
// SigV4-signed JSON POST per report, built from Berth's generated request
// types. It exists for the agent's memory: every call through the SDK's ECS
// client runs its per-call middleware stack (endpoint and auth-scheme
// resolution, serializers, retry), which maps about 0.7 MiB of the binary's
// code into the agent process for good (measured with BenchmarkAgentRSS);
// this path needs only the signer, net/http and encoding/json, which the
// agent maps anyway. The start-up calls (RegisterContainerInstance,
// DiscoverPollEndpoint, CreateCluster) still use the SDK client.
//
// It never retries: the engine retries failed reports with back-off.
type ecsPoster struct {
	endpoint  string // the control plane's URL; requests go to its path "/"
	region    string
	creds     aws.CredentialsProvider
	signer    *v4.Signer
	http      aws.HTTPClient
	userAgent string
}

// ecsReportMaxIdleConns is small: reports come a few at a time, from one
// task goroutine each, and go to one host.
const ecsReportMaxIdleConns = 4

// maxErrorBody bounds how much of a response the poster reads;
// maxErrorText how much of a body that is not an AWS error goes into the
// error's message.
const (
	maxErrorBody = 64 << 10
	maxErrorText = 256
)

// newECSPoster returns a poster for the control plane at endpoint; with no
// endpoint it uses the SDK config's base endpoint, else the region's AWS
// endpoint, as the SDK client would. It sends through the SDK config's HTTP
// client when there is one (AWS_CA_BUNDLE and custom transports reach it
// there), else through its own.
func newECSPoster(endpoint string, cfg aws.Config, version string) *ecsPoster {
	if endpoint == "" {
		endpoint = aws.ToString(cfg.BaseEndpoint)
	}
	if endpoint == "" {
		endpoint = "https://" + ecsapi.ServiceName + "." + cfg.Region + ".amazonaws.com"
	}
	client := cfg.HTTPClient
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = ecsReportMaxIdleConns, ecsReportMaxIdleConns
		client = &http.Client{Transport: tr}
	}
	return &ecsPoster{
		endpoint: strings.TrimSuffix(endpoint, "/") + "/", region: cfg.Region, creds: cfg.Credentials,
		signer: v4.NewSigner(), http: client, userAgent: "berth-agent/" + version,
	}
}

// call sends one operation of the ECS JSON protocol with in as its body. An
// API error is a smithy.APIError (apiCode reads it), wrapped in a message
// shaped like the SDK's.
func (p *ecsPoster) call(ctx context.Context, op string, in any) error {
	body, err := awsapi.EncodeJSON(in)
	if err != nil {
		return fmt.Errorf("operation error ECS: %s, encoding: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("operation error ECS: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-"+ecsapi.JSONVersion)
	req.Header.Set("X-Amz-Target", ecsapi.TargetPrefix+"."+op)
	req.Header.Set("User-Agent", p.userAgent)
	if p.creds == nil {
		return fmt.Errorf("operation error ECS: %s: no credentials", op)
	}
	creds, err := p.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("operation error ECS: %s, get identity: %w", op, err)
	}
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), ecsapi.SigningName, p.region, time.Now()); err != nil {
		return fmt.Errorf("operation error ECS: %s, signing: %w", op, err)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("operation error ECS: %s: %w", op, err)
	}
	defer resp.Body.Close()
	// Read to the end (within bounds) so the connection can be reused.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("operation error ECS: %s, https response error StatusCode: %d: %w", op, resp.StatusCode, err)
	}
	return fmt.Errorf("operation error ECS: %s, https response error StatusCode: %d, RequestID: %s, %w",
		op, resp.StatusCode, resp.Header.Get("X-Amzn-Requestid"), apiError(resp, data))
}

// apiError reads an AWS JSON error: the code from __type (or the
// x-amzn-ErrorType header), stripped of any "namespace#" prefix and ":uri"
// suffix, and the message from message or Message.
func apiError(resp *http.Response, data []byte) *smithy.GenericAPIError {
	var body struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(data, &body)
	code := cmp.Or(body.Type, body.Code, resp.Header.Get("X-Amzn-Errortype"))
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	code, _, _ = strings.Cut(code, ":")
	if code == "" {
		code = "UnknownError"
	}
	msg := cmp.Or(body.Message, body.Message2)
	if msg == "" && !json.Valid(data) {
		// Not an AWS error (a proxy's page, say): its start says enough,
		// and the engine logs the error at every retry.
		msg = strings.TrimSpace(string(data[:min(len(data), maxErrorText)]))
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	fault := smithy.FaultClient
	if resp.StatusCode >= 500 {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}
