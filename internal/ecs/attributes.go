package ecs

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/store"
)

// Attributes of a container instance live under attributes/<cluster>/<id>,
// apart from the instance record: registration writes the agent's set, and
// PutAttributes/DeleteAttributes change it.

const maxCustomAttributes = 10

// storedAttribute is one attribute; Value is empty for a name-only attribute.
type storedAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

func (s *Server) attributesKey(cluster, id string) string { return s.key("attributes", cluster, id) }

func (s *Server) containerInstanceARN(cluster, id string) string {
	return s.arn(resContainerInst, cluster, id)
}

// instanceID resolves a container instance reference (id or ARN) within a
// cluster; ok is false when an ARN names another cluster or is malformed.
func (s *Server) instanceID(cluster, ref string) (string, bool) {
	return s.scopedID(resContainerInst, cluster, ref)
}

func (s *Server) cachedAttributes(cluster, id string) []storedAttribute {
	kv, ok := s.cache.Get(s.attributesKey(cluster, id))
	if !ok {
		return nil
	}
	var attrs []storedAttribute
	_ = json.Unmarshal(kv.Value, &attrs)
	return attrs
}

// isCustomAttribute tells user attributes from the ones the agent reports.
func isCustomAttribute(name string) bool {
	return !strings.HasPrefix(name, "ecs.") && !strings.HasPrefix(name, "com.amazonaws.ecs.")
}

// changeAttributes applies put or delete to the targets of attrs, one guarded
// transaction for all targets so a failing target changes nothing.
func (s *Server) changeAttributes(ctx context.Context, clusterRef *string, attrs []ecsapi.Attribute, del bool) error {
	c, err := s.activeCluster(deref(clusterRef))
	if err != nil {
		return err
	}
	if len(attrs) > 10 {
		return invalidParam("At most 10 attributes can be changed in one call; %d were given.", len(attrs))
	}
	byTarget := map[string][]ecsapi.Attribute{}
	var order []string
	for _, a := range attrs {
		if a.TargetType != nil && *a.TargetType != ecsapi.TargetTypeContainerInstance {
			return invalidParam("Attribute %s: targetType must be container-instance.", a.Name)
		}
		if a.TargetId == nil || *a.TargetId == "" {
			return invalidParam("Attribute %s: targetId is required.", a.Name)
		}
		if !del && !attributeNameRE.MatchString(a.Name) {
			return invalidParam("Attribute name %q is invalid: up to 128 letters, numbers, hyphens, underscores, periods, at signs or slashes, starting with a letter or number.", a.Name)
		}
		if v := deref(a.Value); !del && v != "" && !attributeValueRE.MatchString(v) {
			return invalidParam("Attribute %s: value %q is invalid: up to 128 letters, numbers, hyphens, underscores, periods, at signs, forward slashes, back slashes, colons, or spaces; no leading or trailing whitespace.", a.Name, v)
		}
		id, ok := s.instanceID(c.Name, *a.TargetId)
		if !ok {
			return ecsapi.NewTargetNotFoundException("Could not find %s in cluster %s.", *a.TargetId, c.Name)
		}
		if _, found := s.cache.Get(s.instanceKey(c.Name, id)); !found {
			return ecsapi.NewTargetNotFoundException("Could not find %s in cluster %s.", *a.TargetId, c.Name)
		}
		if _, seen := byTarget[id]; !seen {
			order = append(order, id)
		}
		byTarget[id] = append(byTarget[id], a)
	}
	var ops []store.Op
	for _, id := range order {
		key := s.attributesKey(c.Name, id)
		var cur []storedAttribute
		var rev int64
		if kv, err := s.st.Get(ctx, key); err == nil {
			if err := json.Unmarshal(kv.Value, &cur); err != nil {
				return err
			}
			rev = kv.ModRevision
		}
		for _, a := range byTarget[id] {
			cur = slices.DeleteFunc(cur, func(x storedAttribute) bool { return x.Name == a.Name })
			if !del {
				cur = append(cur, storedAttribute{Name: a.Name, Value: deref(a.Value)})
			}
		}
		custom := 0
		for _, x := range cur {
			if isCustomAttribute(x.Name) {
				custom++
			}
		}
		if custom > maxCustomAttributes {
			return ecsapi.NewAttributeLimitExceededException("You can apply up to %d custom attributes per resource; %s would have %d.", maxCustomAttributes, s.containerInstanceARN(c.Name, id), custom)
		}
		slices.SortFunc(cur, func(a, b storedAttribute) int { return strings.Compare(a.Name, b.Name) })
		b, _ := json.Marshal(cur)
		op := store.Op{Key: key, Value: b, ExpectRev: rev}
		if rev == 0 {
			op.ExpectRev = 0
		}
		ops = append(ops, op)
	}
	rev, err := s.st.Txn(ctx, ops...)
	if err != nil {
		return err
	}
	return s.synced(ctx, rev)
}

// PutAttributes implements ecsapi.Handler.
func (s *Server) PutAttributes(ctx context.Context, in *ecsapi.PutAttributesRequest) (*ecsapi.PutAttributesResponse, error) {
	if err := s.changeAttributes(ctx, in.Cluster, in.Attributes, false); err != nil {
		return nil, err
	}
	return &ecsapi.PutAttributesResponse{Attributes: in.Attributes}, nil
}

// DeleteAttributes implements ecsapi.Handler.
func (s *Server) DeleteAttributes(ctx context.Context, in *ecsapi.DeleteAttributesRequest) (*ecsapi.DeleteAttributesResponse, error) {
	if err := s.changeAttributes(ctx, in.Cluster, in.Attributes, true); err != nil {
		return nil, err
	}
	return &ecsapi.DeleteAttributesResponse{Attributes: in.Attributes}, nil
}

// ListAttributes implements ecsapi.Handler.
func (s *Server) ListAttributes(ctx context.Context, in *ecsapi.ListAttributesRequest) (*ecsapi.ListAttributesResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if in.AttributeValue != nil && in.AttributeName == nil {
		return nil, invalidParam("attributeValue can only be given together with attributeName.")
	}
	prefix := s.key("attributes", c.Name) + "/"
	var keys []string
	byKey := map[string]ecsapi.Attribute{}
	for _, kv := range s.cache.List(prefix) {
		id := strings.TrimPrefix(kv.Key, prefix)
		var attrs []storedAttribute
		if json.Unmarshal(kv.Value, &attrs) != nil {
			continue
		}
		for _, a := range attrs {
			if in.AttributeName != nil && *in.AttributeName != a.Name {
				continue
			}
			if in.AttributeValue != nil && *in.AttributeValue != a.Value {
				continue
			}
			k := id + "\x00" + a.Name
			keys = append(keys, k)
			at := ecsapi.Attribute{Name: a.Name, TargetType: ptr(ecsapi.TargetTypeContainerInstance),
				TargetId: ptr(s.containerInstanceARN(c.Name, id))}
			if a.Value != "" {
				at.Value = ptr(a.Value)
			}
			byKey[k] = at
		}
	}
	slices.Sort(keys)
	pg, next, err := page(keys, in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListAttributesResponse{Attributes: []ecsapi.Attribute{}, NextToken: next}
	for _, k := range pg {
		out.Attributes = append(out.Attributes, byKey[k])
	}
	return out, nil
}

var (
	attributeNameRE  = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_./@\\-]{0,127}$`)
	attributeValueRE = lazyregexp.New(`^[A-Za-z0-9_./@\\:-]([A-Za-z0-9_./@\\: -]{0,126}[A-Za-z0-9_./@\\:-])?$`)
)
