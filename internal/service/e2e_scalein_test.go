package service_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// TestE2EScaleInAZSpread: scale-in stops tasks from the fullest
// Availability Zone (the default placement strategy's mirror image), not
// the newest tasks. Three tasks start in zone a alone; zones b and c join
// and the service grows to 6, placed 3/2/1; scaling to 3 leaves one task
// per zone (newest first would have stopped every task in b and c).
func TestE2EScaleInAZSpread(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	ctx := t.Context()
	zoneOf := map[string]string{}
	zoneOf[e.addAgent(inZone("us-east-1a")).InstanceARN()] = "a"
	td := e.registerApp("azspread")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", time.Minute)
	zoneOf[e.addAgent(inZone("us-east-1b")).InstanceARN()] = "b"
	zoneOf[e.addAgent(inZone("us-east-1c")).InstanceARN()] = "c"
	perZone := func() map[string]int {
		m := map[string]int{}
		for _, tk := range e.tasks("web") {
			if aws.ToString(tk.LastStatus) == "RUNNING" && aws.ToString(tk.DesiredStatus) == "RUNNING" {
				m[zoneOf[aws.ToString(tk.ContainerInstanceArn)]]++
			}
		}
		return m
	}
	scale := func(n int32) {
		t.Helper()
		if _, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), DesiredCount: aws.Int32(n)}); err != nil {
			t.Fatal(err)
		}
		e.waitStable("web", time.Minute)
	}
	scale(6)
	if m := perZone(); m["a"] != 3 || m["b"]+m["c"] != 3 || m["b"] == 0 || m["c"] == 0 {
		t.Fatalf("after scaling to 6: tasks per zone %v, want 3 in a and the others in b and c", m)
	}
	scale(3)
	var m map[string]int
	e.eventually(30*time.Second, "3 tasks left", func() bool { return len(e.tasks("web")) == 3 })
	if m = perZone(); m["a"] != 1 || m["b"] != 1 || m["c"] != 1 {
		t.Fatalf("after scaling to 3: tasks per zone %v, want 1 in each", m)
	}
}
