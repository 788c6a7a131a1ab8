package ecs_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/testcluster"
)

func TestLinkRefusals(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	createCluster(t, c, "auth")
	inst := registerAgentInstance(t, c, "auth", instanceOpts{})

	// Unsigned and wrongly signed upgrades are refused before the upgrade.
	resp, err := http.Get(tg.endpoint + agentproto.Path + "?cluster=auth&containerInstance=" + inst)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, resp, err := dialLink(ctx, tg.endpoint, "auth", inst, agentOpts{secret: "wrong"}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong secret: %v %v", resp, err)
	}
	if _, resp, err := dialLink(ctx, tg.endpoint, "auth", "", agentOpts{}); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no instance: %v %v", resp, err)
	}

	// An unknown instance gets an error message, then the link closes.
	conn, _, err := dialLink(ctx, tg.endpoint, "auth", "0123456789abcdef0123456789abcdef", agentOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var env agentproto.Envelope
	if err := readEnv(ctx, conn, &env); err != nil || env.Type != agentproto.TypeError || env.Error.Code != agentproto.ErrInstanceNotFound {
		t.Fatalf("unknown instance: %+v %v", env, err)
	}
}

func TestLinkReplaceDisconnectAndDeregister(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "rep")
	inst := registerAgentInstance(t, c, "rep", instanceOpts{})
	if ci := describeInstance(t, c, "rep", inst); ci.AgentConnected || ci.HealthStatus.OverallStatus != types.InstanceHealthCheckStateInitializing {
		t.Fatalf("before connecting: %v %+v", ci.AgentConnected, ci.HealthStatus)
	}
	a := connectAgent(t, tg.endpoint, "rep", inst, agentOpts{})
	b := connectAgent(t, tg.endpoint, "rep", inst, agentOpts{lastSeq: a.first.Seq})
	select {
	case e := <-a.errs:
		if e.Code != agentproto.ErrReplaced {
			t.Fatalf("old connection got %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old connection was not replaced")
	}
	<-a.closed
	if b.first.Seq != a.first.Seq+1 {
		t.Fatalf("new connection starts at %d after %d", b.first.Seq, a.first.Seq)
	}
	// The replaced connection's end does not mark the agent disconnected.
	if ci := describeInstance(t, c, "rep", inst); !ci.AgentConnected || ci.HealthStatus.OverallStatus != types.InstanceHealthCheckStateOk {
		t.Fatalf("after replacement: %v %+v", ci.AgentConnected, ci.HealthStatus)
	}
	// The agent goes away: disconnected, placement refuses the instance.
	b.conn.CloseNow()
	eventually(t, "agentConnected=false", func() bool { return !describeInstance(t, c, "rep", inst).AgentConnected })
	ci := describeInstance(t, c, "rep", inst)
	if ci.HealthStatus.OverallStatus != types.InstanceHealthCheckStateImpaired || ci.HealthStatus.Details[0].Type != types.InstanceHealthCheckTypeAgentConnectivity {
		t.Fatalf("health after disconnect: %+v", ci.HealthStatus)
	}
	// Deregistration closes a live link with ContainerInstanceNotFound.
	d := connectAgent(t, tg.endpoint, "rep", inst, agentOpts{})
	if _, err := c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("rep"), ContainerInstance: aws.String(inst)}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-d.errs:
		if e.Code != agentproto.ErrInstanceNotFound {
			t.Fatalf("deregistered: %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the link of a deregistered instance stayed open")
	}
	// And DiscoverPollEndpoint tells the agent to register again.
	if _, err := c.DiscoverPollEndpoint(ctx, &ecs.DiscoverPollEndpointInput{Cluster: aws.String("rep"), ContainerInstance: aws.String(inst)}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("discover for a deregistered instance: %v", err)
	}
}

func TestLinkHeartbeatsAndAcks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 50*time.Millisecond)
	c, ctx := h.c, t.Context()
	createCluster(t, c, "hb")
	live := registerAgentInstance(t, c, "hb", instanceOpts{})
	silent := registerAgentInstance(t, c, "hb", instanceOpts{})
	la := connectAgent(t, h.endpoint, "hb", live, agentOpts{lastSeq: 41, heartbeat: 20 * time.Millisecond})
	sa := connectAgent(t, h.endpoint, "hb", silent, agentOpts{noAck: true})
	if la.first.Seq != 42 {
		t.Fatalf("first seq %d after lastSeq 41", la.first.Seq)
	}
	eventually(t, "ack of 42", func() bool { return h.link.Acked("hb", taskID(live)) == 42 })

	// The silent agent misses its heartbeats and is dropped.
	select {
	case <-sa.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a silent agent was not dropped")
	}
	eventually(t, "silent agent disconnected", func() bool { return !describeInstance(t, c, "hb", silent).AgentConnected })
	if h.link.Acked("hb", taskID(silent)) != 0 {
		t.Fatal("ack recorded without an ack")
	}
	// The live one stays, well past several heartbeat periods.
	time.Sleep(400 * time.Millisecond)
	select {
	case <-la.closed:
		t.Fatal("a heartbeating agent was dropped")
	default:
	}
	if !describeInstance(t, c, "hb", live).AgentConnected {
		t.Fatal("heartbeating agent marked disconnected")
	}

	// A new task means a new payload with the next sequence number.
	registerTD(t, c, webTD("web", 0, 64))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("hb"), TaskDefinition: aws.String("web")})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("run: %v %+v", err, run)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	p := la.nextPayload(func(p agentproto.Payload) bool { return payloadTask(p, arn) != nil })
	if p.Seq <= 42 {
		t.Fatalf("payload seq %d", p.Seq)
	}
	eventually(t, "ack", func() bool { return h.link.Acked("hb", taskID(live)) == p.Seq })

	// Health reports reach the task.
	la.send(agentproto.Envelope{Type: agentproto.TypeHealth, Health: &agentproto.HealthReport{TaskARN: arn,
		Containers: map[string]string{"web": "HEALTHY"}, Task: "HEALTHY"}})
	eventually(t, "health", func() bool {
		got := describeTask(t, c, "hb", arn)
		return got.HealthStatus == types.HealthStatusHealthy && got.Containers[0].HealthStatus == types.HealthStatusHealthy
	})
}

func TestDiscoverPollEndpointAndAgentUpdate(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c, ctx := cp.ECS(), t.Context()
	createCluster(t, c, "dp")
	inst := registerAgentInstance(t, c, "dp", instanceOpts{})
	out, err := c.DiscoverPollEndpoint(ctx, &ecs.DiscoverPollEndpointInput{Cluster: aws.String("dp"), ContainerInstance: aws.String(inst)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Endpoint) != cp.Endpoint() || aws.ToString(out.TelemetryEndpoint) != cp.Endpoint() {
		t.Fatalf("endpoints %q %q, want %q", aws.ToString(out.Endpoint), aws.ToString(out.TelemetryEndpoint), cp.Endpoint())
	}
	if _, err := c.UpdateContainerAgent(ctx, &ecs.UpdateContainerAgentInput{Cluster: aws.String("dp"), ContainerInstance: aws.String(inst)}); errCode(t, err) != "NoUpdateAvailableException" {
		t.Fatalf("update agent: %v", err)
	}
	bare, err := c.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("dp")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateContainerAgent(ctx, &ecs.UpdateContainerAgentInput{Cluster: aws.String("dp"),
		ContainerInstance: bare.ContainerInstance.ContainerInstanceArn}); errCode(t, err) != "MissingVersionException" {
		t.Fatalf("update agent without version: %v", err)
	}
}

// TestServerRestartKeepsTasks: the desired state is in etcd; after a restart
// the agent reconnects and gets the same task, still RUNNING.
func TestServerRestartKeepsTasks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cp := testcluster.Start(t, testcluster.Options{DataDir: dir})
	c, ctx := cp.ECS(), t.Context()
	createCluster(t, c, "rs")
	inst := registerAgentInstance(t, c, "rs", instanceOpts{})
	a := connectAgent(t, cp.Endpoint(), "rs", inst, agentOpts{})
	registerTD(t, c, webTD("web", 0, 64))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("rs"), TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	p := a.nextPayload(func(p agentproto.Payload) bool { return payloadTask(p, arn) != nil })
	submitTask(t, c, "rs", arn, "RUNNING")
	if err := cp.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the link outlived the server")
	}

	cp2 := testcluster.Start(t, testcluster.Options{DataDir: dir})
	c2 := cp2.ECS()
	if got := describeTask(t, c2, "rs", arn); aws.ToString(got.LastStatus) != "RUNNING" || aws.ToString(got.DesiredStatus) != "RUNNING" {
		t.Fatalf("after restart: %s/%s", aws.ToString(got.LastStatus), aws.ToString(got.DesiredStatus))
	}
	b := connectAgent(t, cp2.Endpoint(), "rs", inst, agentOpts{lastSeq: p.Seq})
	ts := payloadTask(b.first, arn)
	if b.first.Seq != p.Seq+1 || ts == nil || ts.DesiredStatus != "RUNNING" {
		t.Fatalf("payload after restart: %+v", b.first)
	}
	if ci := describeInstance(t, c2, "rs", inst); !ci.AgentConnected || ci.RunningTasksCount != 1 {
		t.Fatalf("instance after restart: %+v", ci)
	}
}
