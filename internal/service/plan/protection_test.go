package plan

import (
	"testing"
	"time"
)

// TestScaleInProtection: on scale-in unprotected tasks stop first; a
// protected task is kept until its protection expires, and when only
// protected tasks are left the scale-in waits.
func TestScaleInProtection(t *testing.T) {
	t.Parallel()
	s := newSim(t, 7, 3, 100, 200, false)
	for range 5 {
		s.step()
		s.settle()
	}
	if !s.st.Steady {
		t.Fatalf("not steady: %+v\n%s", s.st, s.dump())
	}
	// Protect the task the usual order would stop first.
	dry := s.svc
	dry.DesiredCount = 2
	first := Reconcile(Input{Now: s.now, Service: dry, Status: s.st, Tasks: s.tasks, Instances: s.insts})
	if len(first.Stop) != 1 {
		t.Fatalf("dry run stopped %+v", first.Stop)
	}
	protectedID := first.Stop[0].TaskID
	for i := range s.tasks {
		if s.tasks[i].ID == protectedID {
			s.tasks[i].ProtectedUntil = s.now.Add(time.Hour)
		}
	}

	s.svc.DesiredCount = 1
	p := s.step()
	if len(p.Stop) != 2 {
		t.Fatalf("scale-in 3 -> 1 stopped %+v, want 2 tasks\n%s", p.Stop, s.dump())
	}
	for _, st := range p.Stop {
		if st.TaskID == protectedID {
			t.Fatalf("scale-in stopped the protected task %s", protectedID)
		}
	}
	s.settle()
	s.step()
	s.settle()
	if live, _ := s.counts(); live != 1 || !s.st.Steady {
		t.Fatalf("after scale-in: %d live, steady %v\n%s", live, s.st.Steady, s.dump())
	}

	// Only protected tasks left: scale-in to 0 waits for the expiry.
	s.svc.DesiredCount = 0
	p = s.step()
	if len(p.Stop) != 0 || p.Wait <= 0 || p.Wait > time.Hour {
		t.Fatalf("scale-in of a protected task: stop %+v wait %v", p.Stop, p.Wait)
	}
	if s.st.Steady {
		t.Fatal("steady while a protected task waits to stop")
	}
	s.now = s.now.Add(time.Hour)
	p = s.step()
	if len(p.Stop) != 1 || p.Stop[0].TaskID != protectedID {
		t.Fatalf("after the protection expired: stop %+v, want %s", p.Stop, protectedID)
	}
}

// TestDeploymentProtection: a deployment does not stop an old task while
// it is protected.
func TestDeploymentProtection(t *testing.T) {
	t.Parallel()
	s := newSim(t, 8, 2, 0, 100, false)
	for range 5 {
		s.step()
		s.settle()
	}
	for i := range s.tasks {
		s.tasks[i].ProtectedUntil = s.now.Add(10 * time.Minute)
	}
	s.svc.DeploymentID = DeploymentID(s.now.Add(time.Second))
	s.svc.TaskDefinition = "td:2"
	for range 5 {
		p := s.step()
		if len(p.Stop) != 0 {
			t.Fatalf("deployment stopped protected tasks: %+v", p.Stop)
		}
		s.settle()
	}
	s.now = s.now.Add(10 * time.Minute)
	for range 10 {
		s.step()
		s.settle()
	}
	if !s.st.Steady || len(s.st.Deployments) != 1 || s.st.Deployments[0].TaskDefinition != "td:2" {
		t.Fatalf("deployment did not finish after the protection expired: %+v\n%s", s.st.Deployments, s.dump())
	}
}
