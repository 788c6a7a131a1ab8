package ecs

import (
	"encoding/json"
	"strconv"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// statusFields is the part of instance, task and service records that cluster
// statistics need; every such record stores these members under these names.
type statusFields struct {
	Status        string `json:"status,omitempty"`
	LastStatus    string `json:"lastStatus,omitempty"`
	DesiredStatus string `json:"desiredStatus,omitempty"`
	LaunchType    string `json:"launchType,omitempty"`
	// CapacityProviders names the providers a service's strategy uses.
	CapacityProviders []string `json:"capacityProviders,omitempty"`
}

type clusterCounts struct {
	instances, running, pending, services, drainingServices int
	byLaunchType                                            map[string]int // e.g. "running/EC2"
}

func (c clusterCounts) statistics() []ecsapi.KeyValuePair {
	var out []ecsapi.KeyValuePair
	add := func(name string, v int) {
		out = append(out, ecsapi.KeyValuePair{Name: ptr(name), Value: ptr(strconv.Itoa(v))})
	}
	for _, lt := range []struct{ key, label string }{{"EC2", "EC2"}, {"FARGATE", "Fargate"}, {"EXTERNAL", "External"}} {
		add("running"+lt.label+"TasksCount", c.byLaunchType["running/"+lt.key])
		add("pending"+lt.label+"TasksCount", c.byLaunchType["pending/"+lt.key])
		add("active"+lt.label+"ServiceCount", c.byLaunchType["active/"+lt.key])
		add("draining"+lt.label+"ServiceCount", c.byLaunchType["draining/"+lt.key])
	}
	return out
}

func (s *Server) eachStatus(prefix string, fn func(statusFields)) {
	for _, kv := range s.cache.List(prefix) {
		var f statusFields
		if json.Unmarshal(kv.Value, &f) == nil {
			fn(f)
		}
	}
}

// clusterCounts counts a cluster's registered instances, running and pending
// tasks and active services from the cache.
func (s *Server) clusterCounts(cluster string) clusterCounts {
	c := clusterCounts{byLaunchType: map[string]int{}}
	s.eachStatus(s.key("instances", cluster)+"/", func(f statusFields) {
		if f.Status == "ACTIVE" || f.Status == "DRAINING" || f.Status == "REGISTERING" {
			c.instances++
		}
	})
	s.eachStatus(s.key("tasks", cluster)+"/", func(f statusFields) {
		lt := f.LaunchType
		if lt == "" {
			lt = "EC2"
		}
		switch {
		case f.LastStatus == "RUNNING":
			c.running++
			c.byLaunchType["running/"+lt]++
		case f.LastStatus != "STOPPED" && f.LastStatus != "DELETED":
			c.pending++
			c.byLaunchType["pending/"+lt]++
		}
	})
	s.eachStatus(s.key("services", cluster)+"/", func(f statusFields) {
		lt := f.LaunchType
		if lt == "" {
			lt = "EC2"
		}
		switch f.Status {
		case "ACTIVE":
			c.services++
			c.byLaunchType["active/"+lt]++
		case "DRAINING":
			c.drainingServices++
			c.byLaunchType["draining/"+lt]++
		}
	})
	return c
}

// capacityProviderInUse reports whether an active service of the cluster uses
// the provider.
func (s *Server) capacityProviderInUse(cluster, provider string) bool {
	inUse := false
	s.eachStatus(s.key("services", cluster)+"/", func(f statusFields) {
		if f.Status != "INACTIVE" {
			for _, p := range f.CapacityProviders {
				if p == provider {
					inUse = true
				}
			}
		}
	})
	return inUse
}
