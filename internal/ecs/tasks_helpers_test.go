package ecs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/awsapi"
	becs "github.com/berth-dev/berth/internal/ecs"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testcluster"
)

// The tests play the agent through the same public surface the real agent
// uses: RegisterContainerInstance, the Submit* operations and a SigV4-signed
// WebSocket on the link.

const testRegion = "us-east-1"

// endpointOf gives a test control plane's URL and ECS client.
type target struct {
	endpoint string
	c        *ecs.Client
}

func fromCluster(t *testing.T) target {
	cp := testcluster.Start(t, testcluster.Options{})
	return target{endpoint: cp.Endpoint(), c: cp.ECS()}
}

// harness is an ECS server built by hand (no controlplane), for tests that
// need a short heartbeat or a controllable clock.
type harness struct {
	target
	st    *store.Store
	srv   *becs.Server
	link  *becs.Link
	clock *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newHarness(t *testing.T, heartbeat time.Duration, etcd ...string) *harness {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir(), Endpoints: etcd})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	srv, err := becs.New(ctx, becs.Config{Store: st, AccountID: "000000000000", Region: testRegion, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	edge := awsapi.NewServer(awsapi.ServerConfig{Credentials: awsapi.StaticCredentials{testcluster.AccessKeyID: {
		Secret: testcluster.SecretAccessKey, Principal: awsapi.Principal{AccessKeyID: testcluster.AccessKeyID, AccountID: "000000000000"}}}})
	edge.Register(srv.Service())
	hs := httptest.NewUnstartedServer(edge)
	hs.Start()
	link := srv.NewLink(becs.LinkConfig{Verify: edge.VerifyRequest, Endpoint: hs.URL, Heartbeat: heartbeat})
	edge.Handle("GET "+agentproto.Path, link)
	edge.SetReady()
	t.Cleanup(func() {
		link.Close()
		hs.CloseClientConnections()
		hs.Close()
		st.Close()
	})
	c := ecs.NewFromConfig(aws.Config{Region: testRegion, BaseEndpoint: aws.String(hs.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testcluster.AccessKeyID, testcluster.SecretAccessKey, "")})
	return &harness{target: target{endpoint: hs.URL, c: c}, st: st, srv: srv, link: link, clock: clock}
}

// agent is a fake agent's link connection.
type agent struct {
	t        *testing.T
	conn     *websocket.Conn
	payloads chan agentproto.Payload
	errs     chan agentproto.Error
	closed   chan struct{}
	autoAck  bool
	first    agentproto.Payload // the connection's first payload
}

type agentOpts struct {
	lastSeq   int64
	noAck     bool
	heartbeat time.Duration // 0: never send heartbeats
	secret    string        // wrong secret for negative tests
}

// signedLinkRequest dials the link with a SigV4-signed upgrade request.
func dialLink(ctx context.Context, endpoint, cluster, instanceARN string, o agentOpts) (*websocket.Conn, *http.Response, error) {
	q := url.Values{}
	q.Set(agentproto.QueryCluster, cluster)
	q.Set(agentproto.QueryContainerInstance, instanceARN)
	q.Set(agentproto.QueryAgentVersion, "test")
	q.Set(agentproto.QueryLastSeq, strconv.FormatInt(o.lastSeq, 10))
	u := endpoint + agentproto.Path + "?" + q.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	secret := testcluster.SecretAccessKey
	if o.secret != "" {
		secret = o.secret
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testcluster.AccessKeyID, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "ecs", testRegion, time.Now()); err != nil {
		return nil, nil, err
	}
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: req.Header})
}

func connectAgent(t *testing.T, endpoint, cluster, instanceARN string, o agentOpts) *agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, _, err := dialLink(ctx, endpoint, cluster, instanceARN, o)
	if err != nil {
		t.Fatalf("dialing the link: %v", err)
	}
	conn.SetReadLimit(64 << 20) // as the agent: payloads carry every task definition
	a := &agent{t: t, conn: conn, payloads: make(chan agentproto.Payload, 100), errs: make(chan agentproto.Error, 10),
		closed: make(chan struct{}), autoAck: !o.noAck}
	rctx, rcancel := context.WithCancel(context.Background())
	go func() {
		defer close(a.closed)
		for {
			var env agentproto.Envelope
			if err := wsjson.Read(rctx, conn, &env); err != nil {
				return
			}
			switch env.Type {
			case agentproto.TypePayload:
				if a.autoAck {
					_ = wsjson.Write(rctx, conn, agentproto.Envelope{Type: agentproto.TypeAck, Ack: &agentproto.Ack{Seq: env.Payload.Seq}})
				}
				a.payloads <- *env.Payload
			case agentproto.TypeError:
				a.errs <- *env.Error
			}
		}
	}()
	if o.heartbeat > 0 {
		go func() {
			tk := time.NewTicker(o.heartbeat)
			defer tk.Stop()
			for {
				select {
				case <-rctx.Done():
					return
				case <-tk.C:
					_ = wsjson.Write(rctx, conn, agentproto.Envelope{Type: agentproto.TypeHeartbeat, Heartbeat: &agentproto.Heartbeat{SentAt: time.Now()}})
				}
			}
		}()
	}
	t.Cleanup(func() { rcancel(); conn.CloseNow() })
	// The server marks the agent connected before its first payload.
	select {
	case a.first = <-a.payloads:
	case e := <-a.errs:
		t.Fatalf("link refused: %+v", e)
	case <-time.After(10 * time.Second):
		t.Fatal("no initial payload")
	}
	return a
}

func (a *agent) send(env agentproto.Envelope) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(a.t.Context(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, a.conn, env); err != nil {
		a.t.Fatalf("link write: %v", err)
	}
}

// nextPayload waits for a payload satisfying ok.
func (a *agent) nextPayload(ok func(agentproto.Payload) bool) agentproto.Payload {
	a.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case p := <-a.payloads:
			if ok == nil || ok(p) {
				return p
			}
		case <-deadline:
			a.t.Fatal("no matching payload within 10s")
		}
	}
}

func payloadTask(p agentproto.Payload, taskARN string) *agentproto.TaskSpec {
	for i := range p.Tasks {
		if p.Tasks[i].TaskARN == taskARN {
			return &p.Tasks[i]
		}
	}
	return nil
}

type instanceOpts struct {
	cpu, mem int32
	ports    []string
	attrs    map[string]string
}

func registerAgentInstance(t *testing.T, c *ecs.Client, cluster string, o instanceOpts) string {
	t.Helper()
	if o.cpu == 0 {
		o.cpu = 2048
	}
	if o.mem == 0 {
		o.mem = 2048
	}
	in := &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String(cluster),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: o.cpu},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: o.mem},
			{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: o.ports},
			{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: []string{}},
		},
		VersionInfo: &types.VersionInfo{AgentVersion: aws.String("1.0.0"), AgentHash: aws.String("abc"), DockerVersion: aws.String("27.0")},
	}
	for k, v := range o.attrs {
		in.Attributes = append(in.Attributes, types.Attribute{Name: aws.String(k), Value: aws.String(v)})
	}
	out, err := c.RegisterContainerInstance(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ContainerInstance.ContainerInstanceArn)
}

// clusterWithInstance creates the cluster name with one registered instance
// of o whose agent is connected, and returns the instance's ARN.
func clusterWithInstance(t *testing.T, tg target, name string, o instanceOpts) string {
	t.Helper()
	createCluster(t, tg.c, name)
	inst := registerAgentInstance(t, tg.c, name, o)
	connectAgent(t, tg.endpoint, name, inst, agentOpts{})
	return inst
}

func createCluster(t *testing.T, c *ecs.Client, name string) {
	t.Helper()
	if _, err := c.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func registerTD(t *testing.T, c *ecs.Client, in *ecs.RegisterTaskDefinitionInput) string {
	t.Helper()
	out, err := c.RegisterTaskDefinition(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// webTD is a bridge-mode definition: one essential container with a static
// host port (0 for dynamic) and memory.
func webTD(family string, hostPort, mem int32) *ecs.RegisterTaskDefinitionInput {
	pm := types.PortMapping{ContainerPort: aws.Int32(80)}
	if hostPort >= 0 {
		pm.HostPort = aws.Int32(hostPort)
	}
	return &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String("berth.local/sample-app:latest"), Memory: aws.Int32(mem), Cpu: 256,
			PortMappings: []types.PortMapping{pm},
		}},
	}
}

func describeTask(t *testing.T, c *ecs.Client, cluster, arn string) types.Task {
	t.Helper()
	out, err := c.DescribeTasks(t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn},
		Include: []types.TaskField{types.TaskFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("describe %s: %+v", arn, out.Failures)
	}
	return out.Tasks[0]
}

func describeInstance(t *testing.T, c *ecs.Client, cluster, arn string) types.ContainerInstance {
	t.Helper()
	out, err := c.DescribeContainerInstances(t.Context(), &ecs.DescribeContainerInstancesInput{Cluster: aws.String(cluster),
		ContainerInstances: []string{arn}, Include: []types.ContainerInstanceField{types.ContainerInstanceFieldTags, types.ContainerInstanceFieldContainerInstanceHealth}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ContainerInstances) != 1 {
		t.Fatalf("describe instance %s: %+v", arn, out.Failures)
	}
	return out.ContainerInstances[0]
}

func resource(rs []types.Resource, name string) types.Resource {
	for _, r := range rs {
		if aws.ToString(r.Name) == name {
			return r
		}
	}
	return types.Resource{}
}

// eventually polls cond until it holds (10 s at most).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func submitTask(t *testing.T, c *ecs.Client, cluster, task, status string, containers ...types.ContainerStateChange) {
	t.Helper()
	if _, err := c.SubmitTaskStateChange(t.Context(), &ecs.SubmitTaskStateChangeInput{Cluster: aws.String(cluster),
		Task: aws.String(task), Status: aws.String(status), Containers: containers}); err != nil {
		t.Fatal(err)
	}
}

func taskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

func readEnv(ctx context.Context, conn *websocket.Conn, env *agentproto.Envelope) error {
	return wsjson.Read(ctx, conn, env)
}
