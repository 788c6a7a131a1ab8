package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/berth-dev/berth/internal/agentproto"
)

// instanceType is a simulated EC2 instance type.
type instanceType struct {
	Name        string
	CPU, Memory int32
}

// instanceTypes are the types simulated instances cycle through.
var instanceTypes = []instanceType{
	{"t3.medium", 2048, 4096},
	{"m5.large", 2048, 8192},
	{"c5.xlarge", 4096, 8192},
	{"r5.large", 2048, 16384},
	{"t3.nano", 512, 512}, // excluded by the sim's memberOf
}

// zones are the availability zones simulated instances are spread over.
var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// simAgent is one simulated container instance: registered through the real
// RegisterContainerInstance, connected through the real agent link, and
// answering each payload at once (ack, then RUNNING or STOPPED for every
// task through SubmitTaskStateChange) without running anything.
type simAgent struct {
	client   *ecs.Client
	cluster  string
	arn      string
	zone     string
	typ      instanceType
	reports  chan<- report
	conn     *websocket.Conn
	mu       sync.Mutex
	reported map[string]string // task ARN -> last status reported
}

// report is a task transition to submit.
type report struct {
	cluster, task, status string
	containers            []string
}

// register registers the instance with its zone and type attributes.
func (a *simAgent) register(ctx context.Context) error {
	out, err := a.client.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String(a.cluster),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: a.typ.CPU},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: a.typ.Memory},
			{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: []string{"22"}},
			{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: []string{}},
		},
		Attributes: []types.Attribute{
			{Name: aws.String("ecs.availability-zone"), Value: aws.String(a.zone)},
			{Name: aws.String("ecs.instance-type"), Value: aws.String(a.typ.Name)},
			{Name: aws.String("ecs.os-type"), Value: aws.String("linux")},
		},
		VersionInfo: &types.VersionInfo{AgentVersion: aws.String("sim"), AgentHash: aws.String("sim"), DockerVersion: aws.String("none")},
	})
	if err != nil {
		return fmt.Errorf("registering a simulated instance: %w", err)
	}
	a.arn = aws.ToString(out.ContainerInstance.ContainerInstanceArn)
	return nil
}

// connect opens the instance's agent link (signed like the real agent's)
// and serves it until ctx ends.
func (a *simAgent) connect(ctx context.Context, cfg aws.Config, endpoint string) error {
	q := url.Values{}
	q.Set(agentproto.QueryCluster, a.cluster)
	q.Set(agentproto.QueryContainerInstance, a.arn)
	q.Set(agentproto.QueryAgentVersion, "sim")
	q.Set(agentproto.QueryLastSeq, "0")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+agentproto.Path+"?"+q.Encode(), nil)
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ecs", cfg.Region, time.Now()); err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, req.URL.String(), &websocket.DialOptions{HTTPHeader: req.Header})
	if err != nil {
		return fmt.Errorf("simulated agent link: %w", err)
	}
	conn.SetReadLimit(64 << 20)
	a.conn = conn
	a.reported = map[string]string{}
	go a.serve(ctx)
	return nil
}

// serve answers payloads and heartbeats until ctx ends or the link closes.
func (a *simAgent) serve(ctx context.Context) {
	defer a.conn.CloseNow()
	go func() {
		tk := time.NewTicker(agentproto.HeartbeatInterval)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				a.write(ctx, agentproto.Envelope{Type: agentproto.TypeHeartbeat, Heartbeat: &agentproto.Heartbeat{SentAt: time.Now().UTC()}})
			}
		}
	}()
	for {
		var env agentproto.Envelope
		if err := wsjson.Read(ctx, a.conn, &env); err != nil {
			return
		}
		if env.Type != agentproto.TypePayload || env.Payload == nil {
			continue
		}
		a.write(ctx, agentproto.Envelope{Type: agentproto.TypeAck, Ack: &agentproto.Ack{Seq: env.Payload.Seq}})
		for _, t := range env.Payload.Tasks {
			status := "RUNNING"
			if t.DesiredStatus == "STOPPED" {
				status = "STOPPED"
			}
			a.mu.Lock()
			seen := a.reported[t.TaskARN] == status
			a.reported[t.TaskARN] = status
			a.mu.Unlock()
			if seen {
				continue
			}
			var names []string
			for _, c := range t.Definition.ContainerDefinitions {
				names = append(names, aws.ToString(c.Name))
			}
			select {
			case a.reports <- report{cluster: a.cluster, task: t.TaskARN, status: status, containers: names}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (a *simAgent) write(ctx context.Context, env agentproto.Envelope) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = wsjson.Write(wctx, a.conn, env)
}

// submit reports one transition: the task and its containers at once.
func submit(ctx context.Context, c *ecs.Client, r report) error {
	in := &ecs.SubmitTaskStateChangeInput{Cluster: aws.String(r.cluster), Task: aws.String(r.task), Status: aws.String(r.status)}
	for _, name := range r.containers {
		cs := types.ContainerStateChange{ContainerName: aws.String(name), Status: aws.String(r.status),
			RuntimeId: aws.String("sim-" + strconv.Itoa(len(r.task)))}
		if r.status == "STOPPED" {
			cs.ExitCode = aws.Int32(0)
		}
		in.Containers = append(in.Containers, cs)
	}
	_, err := c.SubmitTaskStateChange(ctx, in)
	return err
}
