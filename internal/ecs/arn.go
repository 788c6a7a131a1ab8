package ecs

import (
	"strconv"
	"strings"
)

// ECS resource types as they appear in ARNs.
const (
	resCluster          = "cluster"
	resTaskDefinition   = "task-definition"
	resCapacityProvider = "capacity-provider"
	resContainerInst    = "container-instance"
	resTask             = "task"
	resService          = "service"
)

// arn builds a long-format ECS ARN: arn:aws:ecs:<region>:<account>:<resource>/<path...>.
func (s *Server) arn(resource string, path ...string) string {
	return "arn:aws:ecs:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + resource + "/" + strings.Join(path, "/")
}

func (s *Server) clusterARN(name string) string { return s.arn(resCluster, name) }

func (s *Server) taskDefARN(family string, rev int) string {
	return s.arn(resTaskDefinition, family+":"+strconv.Itoa(rev))
}

// parsedARN is an ECS ARN split into its parts.
type parsedARN struct {
	Region, Account string
	Resource        string   // "cluster", "task-definition", ...
	Path            []string // the "/"-separated rest
}

// parseARN splits an ECS ARN; ok is false when s is not an ECS ARN of this
// partition.
func parseARN(s string) (parsedARN, bool) {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[1] != "aws" || f[2] != "ecs" {
		return parsedARN{}, false
	}
	res, rest, ok := strings.Cut(f[5], "/")
	if !ok || res == "" || rest == "" {
		return parsedARN{}, false
	}
	return parsedARN{Region: f[3], Account: f[4], Resource: res, Path: strings.Split(rest, "/")}, true
}

// clusterName resolves a cluster reference (name or ARN; empty means
// "default") to a name. ok is false for an ARN of another account or region
// or of another resource type.
func (s *Server) clusterName(ref string) (string, bool) {
	if ref == "" {
		return "default", true
	}
	if !strings.HasPrefix(ref, "arn:") {
		return ref, true
	}
	a, ok := parseARN(ref)
	if !ok || a.Resource != resCluster || len(a.Path) != 1 || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
		return "", false
	}
	return a.Path[0], true
}

// scopedID resolves a reference to a cluster-scoped resource (a task or a
// container instance: its id, or its ARN in the long or the old format) to
// its id; ok is false for an ARN of another resource type, cluster, account
// or region, or a malformed one.
func (s *Server) scopedID(resource, cluster, ref string) (string, bool) {
	if !strings.HasPrefix(ref, "arn:") {
		return ref, ref != "" && !strings.Contains(ref, "/")
	}
	a, ok := parseARN(ref)
	if !ok || a.Resource != resource || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
		return "", false
	}
	switch len(a.Path) {
	case 2:
		return a.Path[1], a.Path[0] == cluster
	case 1:
		return a.Path[0], true
	}
	return "", false
}
