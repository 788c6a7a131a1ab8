package agent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/agenttest"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
	"github.com/berth-dev/berth/internal/testcluster"
)

// BenchmarkRunTaskToRunning measures RunTask accepted -> lastStatus RUNNING
// (DescribeTasks polled every millisecond) for the sample image, against a
// plain create+start of the same image measured in the same run.
func BenchmarkRunTaskToRunning(b *testing.B) {
	rt := dockertest.Runtime(b)
	cp := testcluster.Start(b, testcluster.Options{})
	client := cp.ECS()
	ctx := context.Background()
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	a := startAgent(b, cp.AWSConfig(), cp.Endpoint(), "bench", filepath.Join(b.TempDir(), "agent"))
	agenttest.WaitConnected(b, client, "bench", a.InstanceARN())
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("bench"), ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(32),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	var berth, docker time.Duration
	n := 0
	for b.Loop() {
		n++
		// Baseline: plain create+start of the same image.
		t0 := time.Now()
		id, err := rt.CreateContainer(ctx, runtime.ContainerSpec{Name: dockertest.Name(b), Image: images.SampleApp,
			Labels: dockertest.Labels(b), Ports: []runtime.PortMapping{{ContainerPort: images.SampleAppPort}}})
		if err != nil {
			b.Fatal(err)
		}
		if err := rt.StartContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		docker += time.Since(t0)
		_ = rt.RemoveContainer(ctx, id, runtime.RemoveOptions{Force: true})

		t1 := time.Now()
		out, err := client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("bench"), TaskDefinition: td.TaskDefinition.TaskDefinitionArn})
		if err != nil || len(out.Tasks) != 1 {
			b.Fatalf("RunTask: %v %+v", err, out)
		}
		arn := out.Tasks[0].TaskArn
		for {
			d, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("bench"), Tasks: []string{*arn}})
			if err == nil && len(d.Tasks) == 1 && aws.ToString(d.Tasks[0].LastStatus) == "RUNNING" {
				break
			}
			if time.Since(t1) > time.Minute {
				b.Fatal("task not RUNNING within a minute")
			}
			time.Sleep(time.Millisecond)
		}
		berth += time.Since(t1)
		_, _ = client.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("bench"), Task: arn})
	}
	b.ReportMetric(float64(berth.Milliseconds())/float64(n), "ms/runtask-to-running")
	b.ReportMetric(float64(docker.Milliseconds())/float64(n), "ms/docker-run")
	b.ReportMetric(float64(berth)/float64(docker), "ratio")
}

// BenchmarkAgentRSS runs `berth agent` as a process and reports its resident
// memory idle, with 10 and with 50 running tasks, and idle again once they
// stopped (RssAnon and RssFile too). "pages" is the agent as shipped, which
// maps its executable one page per fault; "fault-around" is the baseline in
// the same run, the same agent with --fault-around (the kernel's default
// 64 KiB blocks).
func BenchmarkAgentRSS(b *testing.B) {
	b.Run("pages", func(b *testing.B) { benchAgentRSS(b, "rss-pages") })
	b.Run("fault-around", func(b *testing.B) { benchAgentRSS(b, "rss-fault-around", "--fault-around") })
}

func benchAgentRSS(b *testing.B, cluster string, flags ...string) {
	rt := dockertest.Runtime(b)
	bin, err := images.BerthBinary(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	cp := testcluster.Start(b, testcluster.Options{})
	client := cp.ECS()
	ctx := context.Background()
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		b.Fatal(err)
	}
	dataDir := b.TempDir()
	args := append([]string{"agent", "--cluster", cluster, "--data-dir", dataDir, "--cpu", "1000000", "--memory", "1000000", "--log-level", "warn"}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+cp.Endpoint(), "AWS_ACCESS_KEY_ID="+testcluster.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+testcluster.SecretAccessKey, "AWS_REGION=us-east-1", "ECS_CONTAINER_STOP_TIMEOUT=2s")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var instance, agentID string
	for deadline := time.Now().Add(time.Minute); instance == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if id, arn, err := agent.LoadIdentity(dataDir); err == nil {
			instance, agentID = arn, id
		}
	}
	if instance == "" {
		b.Fatal("the agent did not register")
	}
	b.Cleanup(func() { agenttest.Remove(b, rt, agentID) })
	agenttest.WaitConnected(b, client, cluster, instance)
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(cluster), ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(16),
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	rss := func() procRSS {
		time.Sleep(3 * time.Second) // settle
		r, err := readRSS(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	running := 0
	runUpTo := func(n int) {
		for running < n {
			count := min(10, n-running)
			out, err := client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, Count: aws.Int32(int32(count))})
			if err != nil || len(out.Tasks) != count {
				b.Fatalf("RunTask: %v %+v", err, out)
			}
			running += count
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			l, err := client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), DesiredStatus: types.DesiredStatusRunning, MaxResults: aws.Int32(100)})
			if err != nil {
				b.Fatal(err)
			}
			d, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: l.TaskArns[:min(len(l.TaskArns), 100)]})
			if err != nil {
				b.Logf("DescribeTasks: %v", err) // retried until the deadline
				d = &ecs.DescribeTasksOutput{}
			}
			up := 0
			for _, tk := range d.Tasks {
				if aws.ToString(tk.LastStatus) == "RUNNING" {
					up++
				}
			}
			if up >= n {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d tasks RUNNING", up, n)
			}
		}
	}
	stopAll := func() {
		l, err := client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), DesiredStatus: types.DesiredStatusRunning, MaxResults: aws.Int32(100)})
		if err != nil {
			b.Fatal(err)
		}
		for _, arn := range l.TaskArns {
			if _, err := client.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn)}); err != nil {
				b.Fatal(err)
			}
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			d, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: l.TaskArns})
			if err != nil {
				// A poll may fail (a connection the server closed); the
				// deadline bounds the retries.
				b.Logf("DescribeTasks: %v", err)
				d = &ecs.DescribeTasksOutput{}
			}
			down := 0
			for _, tk := range d.Tasks {
				if aws.ToString(tk.LastStatus) == "STOPPED" {
					down++
				}
			}
			if down == len(l.TaskArns) {
				running = 0
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d tasks STOPPED", down, len(l.TaskArns))
			}
		}
	}
	for b.Loop() {
		// The agent trims its start-up memory once its link is up (see
		// trimAfterStartup in cmd/berth and procmem.Trim): the executable's
		// pages that only package initialisers touched leave its page
		// tables, and it trims only that once. The pages it does use fault
		// back in (one page at a time, or 64 KiB with --fault-around; the
		// fault counts are the cost), so the later phases show what it
		// really keeps: "idle-settled" after its first minute, then running
		// 10 and 50 tasks, and "idle-after-tasks"
		// once they all stopped (the agent still tracks the stopped tasks
		// until the cleanup wait). Before the trim existed, every phase
		// showed ~30 MiB of RssFile.
		idle := rss()
		// The first minute of an idle agent still maps pages once: the
		// first payloads on the link, idle connections timing out.
		time.Sleep(idleSettle)
		settled := rss()
		runUpTo(10)
		ten := rss()
		runUpTo(50)
		fifty := rss()
		stopAll()
		after := rss()
		for _, p := range []struct {
			name string
			r    procRSS
		}{{"idle", idle}, {"idle-settled", settled}, {"10-tasks", ten}, {"50-tasks", fifty}, {"idle-after-tasks", after}} {
			b.Logf("%-16s VmRSS %5.1f MiB = RssAnon %5.1f + RssFile %5.1f; faults so far %d minor, %d major; CPU so far %v",
				p.name, p.r.vm, p.r.anon, p.r.file, p.r.minflt, p.r.majflt, p.r.cpu)
			b.ReportMetric(p.r.vm, "MiB-"+p.name)
			b.ReportMetric(p.r.anon, "MiB-anon-"+p.name)
			b.ReportMetric(p.r.file, "MiB-file-"+p.name)
		}
		// Per task, from the idle agent (idle-settled: it has exchanged
		// heartbeats and first payloads on its link, every 10 s, which the
		// "idle" reading 3 s after the trim may precede) to 10 and to 50
		// tasks (these include the code and type data the first tasks fault
		// in, once), and between 10 and 50 tasks (the marginal cost). The
		// strictest reading, from the just-started agent, is reported too.
		b.ReportMetric((ten.vm-settled.vm)/10*1024, "KiB-per-task-0-10")
		b.ReportMetric((fifty.vm-settled.vm)/50*1024, "KiB-per-task-0-50")
		b.ReportMetric((ten.vm-idle.vm)/10*1024, "KiB-per-task-0-10-from-start")
		b.ReportMetric((fifty.vm-ten.vm)/40*1024, "KiB-per-task-10-50")
		// Faults after start-up (the trim's cost shows here).
		b.ReportMetric(float64(after.minflt-idle.minflt), "minor-faults-after-idle")
		// CPU the agent spent from idle to idle-after-tasks (GC included):
		// the price of the memory settings, in the same run as the baseline.
		b.ReportMetric((after.cpu - idle.cpu).Seconds(), "agent-cpu-s-after-idle")
		b.ReportMetric(float64(after.majflt-idle.majflt), "major-faults-after-idle")
	}
}

// idleSettle is how much longer BenchmarkAgentRSS leaves the agent idle
// before the "idle-settled" figure: past the 30 s at which its first idle
// HTTP connection closes.
const idleSettle = 40 * time.Second

// procRSS is a process's resident memory in MiB: VmRSS = RssAnon (heap,
// stacks, runtime metadata) + RssFile (the executable's mapped pages, shared
// with other berth processes and the page cache) + RssShmem; and its page
// faults so far (what the trim costs: pages it uses again fault back in).
type procRSS struct {
	vm, anon, file float64
	minflt, majflt int
	// cpu is the user+system CPU time the process has used so far.
	cpu time.Duration
}

func readRSS(pid int) (procRSS, error) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procRSS{}, err
	}
	var r procRSS
	for _, line := range strings.Split(string(st), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		switch k {
		case "VmRSS":
			r.vm = float64(kb) / 1024
		case "RssAnon":
			r.anon = float64(kb) / 1024
		case "RssFile":
			r.file = float64(kb) / 1024
		}
	}
	if r.vm == 0 {
		return r, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return r, err
	}
	// Fields after the parenthesised command: state is 3, minflt 10, majflt 12.
	if _, rest, ok := strings.Cut(string(stat), ") "); ok {
		if f := strings.Fields(rest); len(f) > 12 {
			r.minflt, _ = strconv.Atoi(f[7])
			r.majflt, _ = strconv.Atoi(f[9])
			// utime and stime, in clock ticks (USER_HZ, 100 on Linux).
			utime, _ := strconv.Atoi(f[11])
			stime, _ := strconv.Atoi(f[12])
			r.cpu = time.Duration(utime+stime) * 10 * time.Millisecond
		}
	}
	return r, nil
}
