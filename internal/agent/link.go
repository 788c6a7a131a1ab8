package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/coder/websocket"

	"github.com/berth-dev/berth/internal/agentproto"
)

// Link timing.
const (
	// linkBackoffMin and linkBackoffMax bound the jittered exponential
	// backoff between connection attempts.
	linkBackoffMin = 250 * time.Millisecond
	linkBackoffMax = 30 * time.Second
	// dialTimeout bounds DiscoverPollEndpoint plus the WebSocket handshake.
	dialTimeout = 15 * time.Second
	// writeTimeout bounds one message write.
	writeTimeout = 10 * time.Second
	// linkReadLimit is the largest message accepted (a payload with many
	// task definitions).
	linkReadLimit = 64 << 20
)

var emptySHA256 = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// linkLoop keeps the link up until ctx ends: discover, connect, serve,
// back off with jitter, repeat. It never stops a task on a lost link.
func (a *Agent) linkLoop(ctx context.Context) {
	backoff := linkBackoffMin
	for ctx.Err() == nil {
		served, err := a.linkSession(ctx)
		if ctx.Err() != nil {
			return
		}
		if served {
			backoff = linkBackoffMin
		}
		a.connected.Store(false)
		a.log.Warn("agent link down; reconnecting", "err", err, "in", backoff)
		// Full jitter: many agents reconnecting after a server restart
		// spread out instead of arriving together.
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, linkBackoffMax)
	}
}

// linkSession runs one connection; served reports whether it got as far as
// an open link (so the backoff resets).
func (a *Agent) linkSession(ctx context.Context) (served bool, err error) {
	if a.needRegister.Load() {
		if err := a.register(ctx); err != nil {
			return false, err
		}
		a.needRegister.Store(false)
	}
	conn, err := a.dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(linkReadLimit)
	a.connected.Store(true)
	a.log.Info("agent link up", "instance", a.InstanceARN())
	a.engine.ResendHealth()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	acks := make(chan int64, 16)
	go func() { errs <- a.linkWriter(sctx, conn, acks) }()
	go func() { errs <- a.linkReader(sctx, conn, acks) }()
	err = <-errs
	cancel()
	if ctx.Err() != nil {
		conn.Close(websocket.StatusNormalClosure, "agent stopping")
	}
	return true, err
}

// dial finds the endpoint with DiscoverPollEndpoint and opens the WebSocket
// with a SigV4-signed upgrade request.
func (a *Agent) dial(ctx context.Context) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	out, err := a.ecs.DiscoverPollEndpoint(dctx, &ecs.DiscoverPollEndpointInput{
		Cluster: aws.String(a.cfg.Cluster), ContainerInstance: aws.String(a.InstanceARN()),
	})
	if err != nil {
		a.checkRegistration(err)
		return nil, fmt.Errorf("DiscoverPollEndpoint: %w", err)
	}
	endpoint := aws.ToString(out.Endpoint)
	if endpoint == "" {
		endpoint = a.cfg.Endpoint
	}
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/") + agentproto.Path)
	if err != nil {
		return nil, fmt.Errorf("bad poll endpoint %q: %w", endpoint, err)
	}
	q := url.Values{}
	q.Set(agentproto.QueryCluster, a.cfg.Cluster)
	q.Set(agentproto.QueryContainerInstance, a.InstanceARN())
	q.Set(agentproto.QueryAgentVersion, a.opts.Version)
	q.Set(agentproto.QueryLastSeq, strconv.FormatInt(a.lastSeq.Load(), 10))
	u.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(dctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	creds, err := a.opts.AWS.Credentials.Retrieve(dctx)
	if err != nil {
		return nil, fmt.Errorf("credentials for the agent link: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(dctx, creds, req, emptySHA256, "ecs", a.opts.AWS.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing the agent link request: %w", err)
	}
	conn, resp, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: req.Header})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("agent link %s: %s: %w", u.Redacted(), resp.Status, err)
		}
		return nil, fmt.Errorf("agent link: %w", err)
	}
	return conn, nil
}

// linkReader applies payloads and watches the server's liveness: nothing
// heard for MissedHeartbeats intervals drops the link.
func (a *Agent) linkReader(ctx context.Context, conn *websocket.Conn, acks chan<- int64) error {
	silence := agentproto.HeartbeatInterval * agentproto.MissedHeartbeats
	first := true
	for {
		rctx, cancel := context.WithTimeout(ctx, silence)
		_, data, err := conn.Read(rctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return fmt.Errorf("no message from the server for %s", silence)
			}
			return err
		}
		var env agentproto.Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			a.log.Warn("ignoring a malformed link message", "err", err)
			continue
		}
		switch env.Type {
		case agentproto.TypePayload:
			if env.Payload == nil {
				continue
			}
			p := env.Payload
			// Within one connection payloads only move forward; the first
			// one of a connection is taken whatever its number (a
			// restarted server may count anew).
			if !first && p.Seq < a.lastSeq.Load() {
				continue
			}
			first = false
			a.engine.Apply(p.Tasks)
			a.lastSeq.Store(p.Seq)
			a.payloads.Add(1)
			select {
			case acks <- p.Seq:
			case <-ctx.Done():
				return ctx.Err()
			}
		case agentproto.TypeError:
			if env.Error != nil {
				a.log.Error("the control plane refused the agent link", "code", env.Error.Code, "message", env.Error.Message)
				a.checkLinkError(env.Error.Code)
				return fmt.Errorf("link refused: %s: %s", env.Error.Code, env.Error.Message)
			}
		}
	}
}

// linkWriter sends acks, heartbeats and health reports.
func (a *Agent) linkWriter(ctx context.Context, conn *websocket.Conn, acks <-chan int64) error {
	hb := time.NewTicker(agentproto.HeartbeatInterval)
	defer hb.Stop()
	if err := a.write(ctx, conn, agentproto.Envelope{Type: agentproto.TypeHeartbeat, Heartbeat: &agentproto.Heartbeat{SentAt: time.Now()}}); err != nil {
		return err
	}
	for {
		var env agentproto.Envelope
		select {
		case <-ctx.Done():
			return ctx.Err()
		case seq := <-acks:
			env = agentproto.Envelope{Type: agentproto.TypeAck, Ack: &agentproto.Ack{Seq: seq}}
		case h := <-a.health:
			env = agentproto.Envelope{Type: agentproto.TypeHealth, Health: &h}
		case <-hb.C:
			env = agentproto.Envelope{Type: agentproto.TypeHeartbeat, Heartbeat: &agentproto.Heartbeat{SentAt: time.Now()}}
		}
		if err := a.write(ctx, conn, env); err != nil {
			return err
		}
	}
}

func (a *Agent) write(ctx context.Context, conn *websocket.Conn, env agentproto.Envelope) error {
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, b)
}

// onHealth queues a health report for the link; when the queue is full or
// no link is up it is dropped, since every reconnect resends all health.
func (a *Agent) onHealth(h agentproto.HealthReport) {
	select {
	case a.health <- h:
	default:
	}
}
