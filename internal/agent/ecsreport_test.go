package agent

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-dev/berth/internal/agent/engine"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/testcluster"
)

// reportCluster starts a control plane with one cluster and returns it with
// the SDK config of its root key.
func reportCluster(t *testing.T, cluster string) (*testcluster.ControlPlane, aws.Config) {
	t.Helper()
	cp := testcluster.Start(t, testcluster.Options{})
	if _, err := cp.ECS().CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	return cp, cp.AWSConfig()
}

// The control plane's answers to the lean reporter: a wrong secret is refused
// by SigV4 verification, reports on unknown tasks and clusters carry the
// server's code and message, and a valid report is taken. The Docker e2e
// tests drive real tasks through it.
func TestECSPosterAgainstControlPlane(t *testing.T) {
	t.Parallel()
	cp, cfg := reportCluster(t, "reports")
	unknownTask := "arn:aws:ecs:" + cfg.Region + ":000000000000:task/reports/0123456789abcdef0123456789abcdef"
	taskReport := engine.TaskReport{TaskARN: unknownTask, Status: "RUNNING", PullStartedAt: time.Now(),
		Containers: []engine.ContainerReport{{Name: "app", Status: "RUNNING",
			Bindings: []engine.Binding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"}}}}}

	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		bad := cfg
		bad.Credentials = credentials.NewStaticCredentialsProvider(testcluster.AccessKeyID, "not-the-secret", "")
		r := &reporter{client: newECSPoster(cp.Endpoint(), bad, "test"), cluster: "reports"}
		err := r.SubmitTaskStateChange(t.Context(), taskReport)
		if code := apiCode(err); code != "InvalidSignatureException" {
			t.Fatalf("code %q, want InvalidSignatureException; err: %v", code, err)
		}
		for _, want := range []string{"SubmitTaskStateChange " + unknownTask + " RUNNING: ", "StatusCode: 400", "signature we calculated does not match"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})

	t.Run("unknown task", func(t *testing.T) {
		t.Parallel()
		r := &reporter{client: newECSPoster(cp.Endpoint(), cfg, "test"), cluster: "reports"}
		err := r.SubmitTaskStateChange(t.Context(), taskReport)
		if code := apiCode(err); code != ecsapi.ErrCodeInvalidParameterException {
			t.Fatalf("task report: code %q, want InvalidParameterException; err: %v", code, err)
		}
		if want := "The referenced task was not found."; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks the server's message %q", err, want)
		}
		exit := 0
		err = r.SubmitContainerStateChange(t.Context(), engine.ContainerReport{TaskARN: unknownTask, Name: "app",
			RuntimeID: "abc", Status: "STOPPED", ExitCode: &exit})
		if code := apiCode(err); code != ecsapi.ErrCodeInvalidParameterException {
			t.Fatalf("container report: code %q, want InvalidParameterException; err: %v", code, err)
		}
		if want := "SubmitContainerStateChange " + unknownTask + "/app STOPPED: "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error %q does not start with %q", err, want)
		}
	})

	t.Run("unknown cluster", func(t *testing.T) {
		t.Parallel()
		// The report has no cluster ARN, so the reporter's cluster is sent.
		r := &reporter{client: newECSPoster(cp.Endpoint(), cfg, "test"), cluster: "nosuch"}
		err := r.SubmitTaskStateChange(t.Context(), taskReport)
		if code := apiCode(err); code != ecsapi.ErrCodeClusterNotFoundException {
			t.Fatalf("code %q, want ClusterNotFoundException; err: %v", code, err)
		}
	})

	t.Run("taken", func(t *testing.T) {
		t.Parallel()
		p := newECSPoster(cp.Endpoint()+"/", cfg, "test")
		err := p.call(t.Context(), "SubmitAttachmentStateChanges", &ecsapi.SubmitAttachmentStateChangesRequest{
			Cluster:     aws.String("reports"),
			Attachments: []ecsapi.AttachmentStateChange{{AttachmentArn: "arn:aws:ecs:::attachment/x", Status: "ATTACHED"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		p := newECSPoster("http://127.0.0.1:1", cfg, "test")
		if err := p.call(t.Context(), "SubmitTaskStateChange", &ecsapi.SubmitTaskStateChangeRequest{}); err == nil || apiCode(err) != "" {
			t.Fatalf("err %v, want a network error", err)
		}
	})
}

// apiError reads the error shapes of the AWS JSON protocols, not only the
// one Berth's server writes.
func TestAPIError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, header string
		status             int
		code, msg          string
	}{
		{"berth", `{"__type":"ClientException","message":"no"}`, "", 400, "ClientException", "no"},
		{"namespaced", `{"__type":"com.amazonaws.ecs#ServerException","Message":"down"}`, "", 500, "ServerException", "down"},
		{"header", `{}`, "ThrottlingException:http://internal.amazon.com/", 400, "ThrottlingException", "Bad Request"},
		{"not json", "<html>bad gateway</html>", "", 502, "UnknownError", "<html>bad gateway</html>"},
		{"long page", "<html>" + strings.Repeat("x", 10000), "", 503, "UnknownError", "<html>" + strings.Repeat("x", maxErrorText-len("<html>"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			if tc.header != "" {
				resp.Header.Set("X-Amzn-ErrorType", tc.header)
			}
			e := apiError(resp, bytes.TrimSpace([]byte(tc.body)))
			if e.Code != tc.code || e.Message != tc.msg {
				t.Errorf("got %q %q, want %q %q", e.Code, e.Message, tc.code, tc.msg)
			}
		})
	}
}
