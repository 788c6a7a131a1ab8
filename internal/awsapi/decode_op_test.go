package awsapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/awsapi/appautoscaling"
	"github.com/berth-dev/berth/internal/awsapi/ecr"
	"github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/awsapi/logs"
)

// clusterHandler implements one operation; the rest come from Unimplemented.
type clusterHandler struct {
	ecs.Unimplemented
	got *ecs.CreateClusterRequest
}

var _ ecs.Handler = (*clusterHandler)(nil)

func (h *clusterHandler) CreateCluster(_ context.Context, in *ecs.CreateClusterRequest) (*ecs.CreateClusterResponse, error) {
	h.got = in
	if in.ClusterName != nil && *in.ClusterName == "taken" {
		return nil, ecs.NewClientException("cluster %s exists", *in.ClusterName)
	}
	if in.ClusterName != nil && *in.ClusterName == "nil-output" {
		return nil, nil
	}
	return &ecs.CreateClusterResponse{Cluster: &ecs.Cluster{ClusterName: in.ClusterName}}, nil
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		h          ecs.Handler
		op, body   string
		wantCode   string
		wantStatus int
		wantMsg    string
		wantOut    string // encoded output on success
	}{
		{name: "unimplemented", h: struct{ ecs.Unimplemented }{}, op: "CreateCluster", body: `{}`,
			wantCode: awsapi.CodeNotImplemented, wantStatus: http.StatusNotImplemented,
			wantMsg: "The operation CreateCluster of service ecs is not implemented by Berth yet."},
		{name: "wrong type", h: struct{ ecs.Unimplemented }{}, op: "CreateCluster", body: `{"clusterName": 5}`,
			wantCode: awsapi.CodeSerialization, wantStatus: 400,
			wantMsg: "Cannot deserialize value of type 'string' at 'clusterName': found a number"},
		{name: "malformed", h: struct{ ecs.Unimplemented }{}, op: "CreateCluster", body: `{"clusterName":`,
			wantCode: awsapi.CodeSerialization, wantStatus: 400},
		{name: "validation", h: struct{ ecs.Unimplemented }{}, op: "RunTask", body: `{"count":0}`,
			wantCode: ecs.ErrCodeInvalidParameterException, wantStatus: 400,
			wantMsg: "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: Member must not be null"},
		{name: "validation before the handler", h: struct{ ecs.Unimplemented }{}, op: "RunTask",
			body:     `{"taskDefinition":"x","count":0,"launchType":"EC3","tags":[{"key":""}]}`,
			wantCode: ecs.ErrCodeInvalidParameterException, wantStatus: 400,
			wantMsg: "2 validation errors detected: " +
				"Value 'EC3' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]; " +
				"Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{name: "valid input reaches Unimplemented", h: struct{ ecs.Unimplemented }{}, op: "RunTask", body: `{"taskDefinition":"x","count":0}`,
			wantCode: awsapi.CodeNotImplemented, wantStatus: http.StatusNotImplemented},
		{name: "handler output", h: &clusterHandler{}, op: "CreateCluster", body: `{"clusterName":"a"}`,
			wantOut: `{"cluster":{"clusterName":"a"}}`},
		{name: "empty body", h: &clusterHandler{}, op: "CreateCluster", body: ``, wantOut: `{"cluster":{}}`},
		{name: "nil output is {}", h: &clusterHandler{}, op: "CreateCluster", body: `{"clusterName":"nil-output"}`, wantOut: `{}`},
		{name: "handler error", h: &clusterHandler{}, op: "CreateCluster", body: `{"clusterName":"taken"}`,
			wantCode: ecs.ErrCodeClientException, wantStatus: 400, wantMsg: "cluster taken exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := ecs.NewService(tt.h)
			op, ok := svc.Operations[tt.op]
			if !ok || op.Name != tt.op {
				t.Fatalf("operation %s missing (%+v)", tt.op, op)
			}
			out, err := op.Invoke(t.Context(), []byte(tt.body))
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				b, err := awsapi.EncodeJSON(out)
				if err != nil || string(b) != tt.wantOut {
					t.Fatalf("output %s (%v), want %s", b, err, tt.wantOut)
				}
				return
			}
			e, ok := awsapi.AsError(err)
			if !ok {
				t.Fatalf("Invoke error = %v, want *awsapi.Error", err)
			}
			if e.Code != tt.wantCode || e.StatusCode != tt.wantStatus || (tt.wantMsg != "" && e.Message != tt.wantMsg) {
				t.Errorf("Invoke error = %s (HTTP %d), want %s (HTTP %d): %s", e, e.StatusCode, tt.wantCode, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

func TestServiceMetadata(t *testing.T) {
	t.Parallel()
	tests := []struct {
		svc                            *awsapi.Service
		name, signing, target, jsonVer string
		ops                            int
		sampleOp                       string
	}{
		{svc: ecs.NewService(ecs.Unimplemented{}), name: "ecs", signing: "ecs", target: "AmazonEC2ContainerServiceV20141113", jsonVer: "1.1", ops: 77, sampleOp: "RegisterTaskDefinition"},
		{svc: ecr.NewService(ecr.Unimplemented{}), name: "api.ecr", signing: "ecr", target: "AmazonEC2ContainerRegistry_V20150921", jsonVer: "1.1", sampleOp: "GetAuthorizationToken"},
		{svc: logs.NewService(logs.Unimplemented{}), name: "logs", signing: "logs", target: "Logs_20140328", jsonVer: "1.1", sampleOp: "PutLogEvents"},
		{svc: appautoscaling.NewService(appautoscaling.Unimplemented{}), name: "application-autoscaling", signing: "application-autoscaling", target: "AnyScaleFrontendService", jsonVer: "1.1", sampleOp: "RegisterScalableTarget"},
	}
	for _, tt := range tests {
		s := tt.svc
		if s.Name != tt.name || s.SigningName != tt.signing || s.TargetPrefix != tt.target || s.JSONVersion != tt.jsonVer || s.Protocol != "json" {
			t.Errorf("service metadata %+v", *s)
		}
		if tt.ops != 0 && len(s.Operations) != tt.ops {
			t.Errorf("%s: %d operations, want %d", s.Name, len(s.Operations), tt.ops)
		}
		if _, ok := s.Operations[tt.sampleOp]; !ok {
			t.Errorf("%s: no operation %s", s.Name, tt.sampleOp)
		}
	}
}

// streamingLogs implements StartLiveTail, which the dispatcher still refuses:
// the JSON edge cannot stream events.
type streamingLogs struct{ logs.Unimplemented }

func (streamingLogs) StartLiveTail(context.Context, *logs.StartLiveTailRequest) (*logs.StartLiveTailResponse, error) {
	return &logs.StartLiveTailResponse{}, nil
}

func TestEventStreamOperationIsNotImplemented(t *testing.T) {
	t.Parallel()
	op := logs.NewService(streamingLogs{}).Operations["StartLiveTail"]
	_, err := op.Invoke(t.Context(), []byte(`{"logGroupIdentifiers":["arn:aws:logs:us-east-1:000000000000:log-group:g"]}`))
	if !awsapi.IsCode(err, awsapi.CodeNotImplemented) {
		t.Fatalf("StartLiveTail: %v, want NotImplemented", err)
	}
	// Operations without an output in the model get an empty one.
	out, err := logs.NewService(logs.Unimplemented{}).Operations["CreateLogGroup"].Invoke(t.Context(), []byte(`{}`))
	if err == nil || out != nil {
		t.Fatalf("CreateLogGroup without logGroupName: %v, %v", out, err)
	}
	if e, _ := awsapi.AsError(err); e.Code != logs.ErrCodeInvalidParameterException {
		t.Errorf("CreateLogGroup validation code %s", e.Code)
	}
}
