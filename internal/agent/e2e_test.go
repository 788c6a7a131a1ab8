package agent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent/agenttest"
	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
	"github.com/berth-dev/berth/internal/testcluster"
)

// startAgent runs an agent joined to cluster on the local Docker engine,
// keeping its state in dataDir.
func startAgent(t testing.TB, awsCfg aws.Config, endpoint, cluster, dataDir string) *agenttest.Agent {
	t.Helper()
	return agenttest.Start(t, agenttest.Options{AWS: awsCfg, Endpoint: endpoint, Cluster: cluster, DataDir: dataDir})
}

// cluster makes a cluster with one agent.
func newCluster(t *testing.T) (*testcluster.ControlPlane, *ecs.Client, string, *agenttest.Agent, string) {
	t.Helper()
	cp := testcluster.Start(t, testcluster.Options{})
	client := cp.ECS()
	name := "c" + fmt.Sprint(time.Now().UnixNano()%1e9)
	if _, err := client.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "agent")
	a := startAgent(t, cp.AWSConfig(), cp.Endpoint(), name, dataDir)
	agenttest.WaitConnected(t, client, name, a.InstanceARN())
	return cp, client, name, a, dataDir
}

func registerApp(t *testing.T, client *ecs.Client, family, mode string, hostPort int32, args ...string) string {
	t.Helper()
	out, err := client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), NetworkMode: types.NetworkMode(mode),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(64), Command: args,
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(hostPort)}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func runTask(t *testing.T, client *ecs.Client, cluster, td string, net *types.NetworkConfiguration) string {
	t.Helper()
	out, err := client.RunTask(t.Context(), &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String(td), NetworkConfiguration: net})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) > 0 || len(out.Tasks) != 1 {
		t.Fatalf("RunTask: %d tasks, failure %s %s", len(out.Tasks), aws.ToString(out.Failures[0].Reason), aws.ToString(out.Failures[0].Detail))
	}
	return aws.ToString(out.Tasks[0].TaskArn)
}

// waitStatus polls DescribeTasks until the task's lastStatus is status.
func waitStatus(t *testing.T, client *ecs.Client, cluster, arn, status string, timeout time.Duration) types.Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last types.Task
	for time.Now().Before(deadline) {
		out, err := client.DescribeTasks(t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn}})
		if err == nil && len(out.Tasks) == 1 {
			last = out.Tasks[0]
			if aws.ToString(last.LastStatus) == status {
				return last
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("task %s not %s within %s; last: status=%s reason=%s", arn, status, timeout, aws.ToString(last.LastStatus), aws.ToString(last.StoppedReason))
	return last
}

func get(t *testing.T, url string) string {
	t.Helper()
	var lastErr error
	for range 50 {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			lastErr = fmt.Errorf("%s", resp.Status)
		} else {
			lastErr = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

func TestE2ERunTaskToStopped(t *testing.T) {
	t.Parallel()
	_, client, cluster, _, _ := newCluster(t)
	td := registerApp(t, client, "e2e-run", "bridge", 0)
	arn := runTask(t, client, cluster, td, nil)
	running := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
	if len(running.Containers) != 1 || len(running.Containers[0].NetworkBindings) != 1 || aws.ToString(running.Containers[0].RuntimeId) == "" {
		t.Fatalf("running containers: %+v", running.Containers)
	}
	// Stop only once the app answers: a SIGTERM before the Go runtime of the
	// sample app set up its handler exits 2, not 0.
	get(t, fmt.Sprintf("http://127.0.0.1:%d/health", aws.ToInt32(running.Containers[0].NetworkBindings[0].HostPort)))
	if _, err := client.StopTask(t.Context(), &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn), Reason: aws.String("e2e done")}); err != nil {
		t.Fatal(err)
	}
	stopped := waitStatus(t, client, cluster, arn, "STOPPED", time.Minute)
	if c := stopped.Containers[0]; c.ExitCode == nil || *c.ExitCode != 0 {
		t.Errorf("exit code %v", aws.ToInt32(c.ExitCode))
	}
	if aws.ToString(stopped.StoppedReason) != "e2e done" {
		t.Errorf("stopped reason %q", aws.ToString(stopped.StoppedReason))
	}

	// A task that exits by itself reports its code.
	td2 := registerApp(t, client, "e2e-exit", "bridge", 0, "--exit-after", "1s", "--exit-code", "7")
	arn2 := runTask(t, client, cluster, td2, nil)
	stopped2 := waitStatus(t, client, cluster, arn2, "STOPPED", time.Minute)
	if c := stopped2.Containers[0]; c.ExitCode == nil || *c.ExitCode != 7 {
		t.Errorf("exit code %v", aws.ToInt32(c.ExitCode))
	}
	if stopped2.StopCode != types.TaskStopCodeEssentialContainerExited {
		t.Errorf("stop code %q reason %q", stopped2.StopCode, aws.ToString(stopped2.StoppedReason))
	}
}

func TestE2ETwoBridgeTasksSamePort(t *testing.T) {
	t.Parallel()
	_, client, cluster, _, _ := newCluster(t)
	td := registerApp(t, client, "e2e-two", "bridge", 0)
	ports := map[int32]bool{}
	for range 2 {
		arn := runTask(t, client, cluster, td, nil)
		tk := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
		hp := aws.ToInt32(tk.Containers[0].NetworkBindings[0].HostPort)
		ports[hp] = true
		get(t, fmt.Sprintf("http://127.0.0.1:%d/health", hp))
	}
	if len(ports) != 2 {
		t.Fatalf("host ports %v: want two different ones", ports)
	}
}

func TestE2EAwsvpcTaskOwnIP(t *testing.T) {
	t.Parallel()
	_, client, cluster, _, _ := newCluster(t)
	td := registerApp(t, client, "e2e-vpc", "awsvpc", 8080)
	arn := runTask(t, client, cluster, td, &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-berth"}}})
	tk := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
	ip, mac := "", ""
	for _, at := range tk.Attachments {
		for _, d := range at.Details {
			switch aws.ToString(d.Name) {
			case "privateIPv4Address":
				ip = aws.ToString(d.Value)
			case "macAddress":
				mac = aws.ToString(d.Value)
			}
		}
	}
	if ip == "" || mac == "" {
		t.Fatalf("no privateIPv4Address or macAddress in attachments %+v", tk.Attachments)
	}
	body := get(t, fmt.Sprintf("http://%s:8080/health", ip))
	if body == "" {
		t.Fatal("empty health answer")
	}
	// The attachment tells the truth about the interface: the task's
	// network namespace (its pause container's) has that IP and that MAC.
	rt := dockertest.Runtime(t)
	list, err := rt.ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{engine.LabelTaskARN: arn}})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, c := range list {
		info, err := rt.InspectContainer(t.Context(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range info.Networks {
			seen = append(seen, n.IPv4Address+" "+n.MACAddress)
			if n.IPv4Address == ip && !strings.EqualFold(n.MACAddress, mac) {
				t.Errorf("DescribeTasks says %s has MAC %s; Docker gave it %s", ip, mac, n.MACAddress)
			}
		}
	}
	if !slices.Contains(seen, ip+" "+strings.ToLower(mac)) && !slices.Contains(seen, ip+" "+mac) {
		t.Errorf("no container of the task has %s %s; their interfaces: %v", ip, mac, seen)
	}
}

func TestE2EAgentRestartKeepsTask(t *testing.T) {
	t.Parallel()
	cp, client, cluster, a, dataDir := newCluster(t)
	td := registerApp(t, client, "e2e-restart", "bridge", 0)
	arn := runTask(t, client, cluster, td, nil)
	tk := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
	id := aws.ToString(tk.Containers[0].RuntimeId)
	instance := a.InstanceARN()
	a.Stop() // the agent dies; its container runs on

	mdAddr := a.MetadataAddr()
	b := startAgent(t, cp.AWSConfig(), cp.Endpoint(), cluster, dataDir)
	if b.InstanceARN() != instance {
		t.Errorf("re-registered as %s, want %s", b.InstanceARN(), instance)
	}
	if b.MetadataAddr() != mdAddr {
		t.Errorf("metadata endpoint moved from %s to %s: running containers lose it", mdAddr, b.MetadataAddr())
	}
	hp := aws.ToInt32(tk.Containers[0].NetworkBindings[0].HostPort)
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/?format=json", hp)); !strings.Contains(body, arn) || strings.Contains(body, "metadataError") {
		t.Errorf("metadata from the container after the restart: %s", body)
	}
	rt := dockertest.Runtime(t)
	time.Sleep(2 * time.Second) // let the new agent take the payload
	list, err := rt.ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{engine.LabelTaskARN: arn}})
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != runtime.StateRunning {
		t.Fatalf("containers of the task after restart: %+v (%v); want only %s running", list, err, id)
	}
	if _, err := client.StopTask(t.Context(), &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, client, cluster, arn, "STOPPED", time.Minute)
}

func TestE2EMetadataEndpointFromContainers(t *testing.T) {
	t.Parallel()
	_, client, cluster, _, _ := newCluster(t)
	for _, mode := range []string{"bridge", "awsvpc", "host"} {
		t.Run(mode, func(t *testing.T) {
			port := int32(8080)
			hostPort := int32(0)
			env := []types.KeyValuePair{}
			if mode == "host" {
				port = int32(freePort(t))
				env = append(env, types.KeyValuePair{Name: aws.String("PORT"), Value: aws.String(fmt.Sprint(port))})
			}
			if mode != "bridge" {
				hostPort = port
			}
			out, err := client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
				Family: aws.String("e2e-md-" + mode), NetworkMode: types.NetworkMode(mode), Cpu: aws.String("256"),
				ContainerDefinitions: []types.ContainerDefinition{{
					Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(64), Environment: env,
					PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(port), HostPort: aws.Int32(hostPort)}},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var net *types.NetworkConfiguration
			if mode == "awsvpc" {
				net = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-berth"}}}
			}
			arn := runTask(t, client, cluster, aws.ToString(out.TaskDefinition.TaskDefinitionArn), net)
			tk := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
			host := "127.0.0.1"
			switch mode {
			case "bridge":
				port = aws.ToInt32(tk.Containers[0].NetworkBindings[0].HostPort)
			case "awsvpc":
				for _, d := range tk.Attachments[0].Details {
					if aws.ToString(d.Name) == "privateIPv4Address" {
						host = aws.ToString(d.Value)
					}
				}
			}
			body := get(t, fmt.Sprintf("http://%s:%d/?format=json", host, port))
			var info struct {
				Task struct {
					TaskARN    string
					Family     string
					Limits     struct{ CPU float64 }
					Containers []struct {
						Name, DockerId string
						Networks       []struct {
							NetworkMode   string
							IPv4Addresses []string
						}
					}
				} `json:"task"`
				Container     struct{ Name, DockerId string } `json:"container"`
				MetadataError string                          `json:"metadataError"`
			}
			if err := json.Unmarshal([]byte(body), &info); err != nil {
				t.Fatalf("sample app answer: %v: %s", err, body)
			}
			if info.MetadataError != "" || info.Task.TaskARN != arn || info.Container.Name != "web" || info.Container.DockerId == "" {
				t.Fatalf("metadata seen from the container: %s", body)
			}
			if info.Task.Limits.CPU != 0.25 || len(info.Task.Containers) != 1 || info.Task.Containers[0].Networks[0].NetworkMode != mode {
				t.Errorf("task metadata: %+v", info.Task)
			}
			checkStatsFromInside(t, fmt.Sprintf("http://%s:%d", host, port), info.Container.DockerId)
			if _, err := client.StopTask(t.Context(), &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// dockerStats is the part of a Docker stats sample the metadata endpoint's
// /stats and /task/stats must carry (the engine's JSON, as the ECS agent
// relays it).
type dockerStats struct {
	ID       string `json:"id"`
	CPUStats *struct {
		CPUUsage struct {
			TotalUsage uint64 `json:"total_usage"`
		} `json:"cpu_usage"`
	} `json:"cpu_stats"`
	MemoryStats *struct {
		Usage uint64 `json:"usage"`
	} `json:"memory_stats"`
}

// checkStatsFromInside reads ${ECS_CONTAINER_METADATA_URI_V4}/stats and
// /task/stats from inside the task's one container (the sample app's
// /metadata relays them; the image has no curl) and checks they are Docker
// stats of that running container.
func checkStatsFromInside(t *testing.T, app, dockerID string) {
	t.Helper()
	check := func(what string, s *dockerStats) {
		t.Helper()
		if s == nil || s.CPUStats == nil || s.MemoryStats == nil {
			t.Fatalf("%s: no cpu_stats or memory_stats: %+v", what, s)
		}
		if s.MemoryStats.Usage == 0 || s.CPUStats.CPUUsage.TotalUsage == 0 {
			t.Errorf("%s: memory_stats.usage %d, cpu_stats.cpu_usage.total_usage %d; want both > 0 for a running container",
				what, s.MemoryStats.Usage, s.CPUStats.CPUUsage.TotalUsage)
		}
		if s.ID != dockerID {
			t.Errorf("%s: stats of %q, want the container's %q", what, s.ID, dockerID)
		}
	}
	body := get(t, app+"/metadata?path=/stats")
	var one *dockerStats
	if err := json.Unmarshal([]byte(body), &one); err != nil {
		t.Fatalf("/stats: %v: %s", err, body)
	}
	check("/stats", one)

	body = get(t, app+"/metadata?path=/task/stats")
	var byID map[string]*dockerStats
	if err := json.Unmarshal([]byte(body), &byID); err != nil {
		t.Fatalf("/task/stats: %v: %s", err, body)
	}
	// Keyed by Docker id; only the task's own containers (never the awsvpc
	// pause container).
	if len(byID) != 1 || byID[dockerID] == nil {
		t.Fatalf("/task/stats keys %v, want only %s: %s", slices.Collect(maps.Keys(byID)), dockerID, body)
	}
	check("/task/stats["+dockerID+"]", byID[dockerID])
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestE2EHealthAndDependsOn(t *testing.T) {
	t.Parallel()
	_, client, cluster, _, _ := newCluster(t)
	probe := []string{"CMD", images.BinaryPath, "sample-app", "probe", "http://127.0.0.1:8080/health"}
	out, err := client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("e2e-health"), NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("db"), Image: aws.String(images.SampleApp), Memory: aws.Int32(64),
				HealthCheck: &types.HealthCheck{Command: probe, Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(3)}},
			{Name: aws.String("app"), Image: aws.String(images.SampleApp), Memory: aws.Int32(64), Essential: aws.Bool(false),
				Environment: []types.KeyValuePair{{Name: aws.String("PORT"), Value: aws.String("8081")}},
				DependsOn:   []types.ContainerDependency{{ContainerName: aws.String("db"), Condition: types.ContainerConditionHealthy}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := runTask(t, client, cluster, aws.ToString(out.TaskDefinition.TaskDefinitionArn),
		&types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-berth"}}})
	waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := client.DescribeTasks(t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		tk := d.Tasks[0]
		health := map[string]types.HealthStatus{}
		for _, c := range tk.Containers {
			health[aws.ToString(c.Name)] = c.HealthStatus
		}
		if tk.HealthStatus == types.HealthStatusHealthy && health["db"] == types.HealthStatusHealthy {
			// dependsOn HEALTHY: app starts only once db passed a check, and
			// Docker runs db's first check an interval (5 s) after db started.
			started := map[string]time.Time{}
			rt := dockertest.Runtime(t)
			for _, c := range tk.Containers {
				if aws.ToString(c.Name) == "app" && aws.ToString(c.LastStatus) != "RUNNING" {
					started = nil
					break
				}
				info, err := rt.InspectContainer(t.Context(), aws.ToString(c.RuntimeId))
				if err != nil {
					t.Fatal(err)
				}
				started[aws.ToString(c.Name)] = info.StartedAt
			}
			if started != nil {
				if gap := started["app"].Sub(started["db"]); gap < 4*time.Second {
					t.Fatalf("app started %s after db: it did not wait for db to be HEALTHY", gap)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("task health %s, containers %v", tk.HealthStatus, health)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
