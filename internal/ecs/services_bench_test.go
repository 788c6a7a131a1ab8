package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/service/plan"
	"github.com/berth-dev/berth/internal/store"
)

// BenchmarkServiceStates is the read side of one service controller pass in
// steady state: 100 services of 10 RUNNING tasks each, snapshotted from the
// cache and planned.
func BenchmarkServiceStates(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s, err := New(ctx, Config{Store: st, AccountID: "000000000000", Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	def := ecsapi.TaskDefinition{Family: ptr("web"), Revision: ptr(int32(1)), ContainerDefinitions: []ecsapi.ContainerDefinition{{
		Name: ptr("web"), Image: ptr("sample"), Memory: ptr(int32(64))}}}
	var rev int64
	for i := range 100 {
		name := fmt.Sprintf("s%03d", i)
		dep := plan.DeploymentID(now)
		rec := serviceRecord{Name: name, Cluster: "c", Status: serviceActive, LaunchType: "EC2", SchedulingStrategy: "REPLICA",
			DesiredCount: 10, TaskDefinition: "td", DeploymentID: dep, DeploymentConfiguration: ecsapi.DeploymentConfiguration{
				MaximumPercent: ptr(int32(200)), MinimumHealthyPercent: ptr(int32(100))}}
		rb, _ := json.Marshal(rec)
		ops := []store.Op{{Key: s.serviceKey("c", name), Value: rb}}
		for j := range 10 {
			id := fmt.Sprintf("%s%029d", name, j)
			spec := taskSpecRecord{ID: id, Cluster: "c", InstanceID: fmt.Sprint("i", j%5), TaskDefinitionARN: "td", Def: def,
				Group: "service:" + name, StartedBy: dep, LaunchType: "EC2", DesiredState: taskRunning, CreatedAt: now, Version: 1}
			tst := taskStatusRecord{ID: id, Cluster: "c", InstanceID: spec.InstanceID, LastStatus: taskRunning, LaunchType: "EC2",
				StartedAt: now.Add(-time.Minute), Containers: []containerStatusRecord{{Name: "web", LastStatus: taskRunning}}, Version: 2}
			sb, _ := json.Marshal(spec)
			tb, _ := json.Marshal(tst)
			ops = append(ops, store.Op{Key: s.taskSpecKey("c", id), Value: sb}, store.Op{Key: s.taskStatusKey("c", id), Value: tb})
		}
		if rev, err = st.Txn(ctx, ops...); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.synced(ctx, rev); err != nil {
		b.Fatal(err)
	}
	var memo ServiceMemo
	b.ResetTimer()
	for b.Loop() {
		states := s.ServiceStates(&memo)
		if len(states) != 100 || len(states[0].Input.Tasks) != 10 {
			b.Fatalf("%d services", len(states))
		}
		for _, ss := range states {
			in := ss.Input
			in.Now = now
			plan.Reconcile(in)
		}
	}
}
