package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Lifecycle policies, in ECR's JSON form: rules by rulePriority (lowest
// first); each selects images by tag status and tag prefixes or patterns,
// and expires them beyond a count or after an age. An image matched by a
// rule is decided by that rule alone ("claimed"): lower-priority rules never
// see it, as on ECR.

type lifecyclePolicy struct {
	Rules []lifecycleRule `json:"rules"`
}

type lifecycleRule struct {
	RulePriority int    `json:"rulePriority"`
	Description  string `json:"description,omitempty"`
	Selection    struct {
		TagStatus      string   `json:"tagStatus"`
		TagPrefixList  []string `json:"tagPrefixList,omitempty"`
		TagPatternList []string `json:"tagPatternList,omitempty"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit,omitempty"`
		CountNumber    int      `json:"countNumber"`
	} `json:"selection"`
	Action struct {
		Type string `json:"type"`
	} `json:"action"`
}

const (
	countMoreThan   = "imageCountMoreThan"
	countSincePush  = "sinceImagePushed"
	tagStatusTagged = "tagged"
	tagStatusUntag  = "untagged"
	tagStatusAny    = "any"
)

// parseLifecyclePolicy validates a policy text the way ECR does.
func parseLifecyclePolicy(text string) (lifecyclePolicy, error) {
	var p lifecyclePolicy
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("invalid JSON: %v", err)
	}
	if len(p.Rules) == 0 {
		return p, fmt.Errorf("the policy must have at least one rule")
	}
	seen := map[int]bool{}
	maxPrio, anyPrio := 0, 0
	for _, r := range p.Rules {
		s := r.Selection
		switch {
		case r.RulePriority < 1:
			return p, fmt.Errorf("rulePriority must be a positive integer, got %d", r.RulePriority)
		case seen[r.RulePriority]:
			return p, fmt.Errorf("rulePriority %d is used by more than one rule", r.RulePriority)
		case r.Action.Type != "expire":
			return p, fmt.Errorf("rule %d: action type must be 'expire'", r.RulePriority)
		case s.CountNumber < 1:
			return p, fmt.Errorf("rule %d: countNumber must be a positive integer", r.RulePriority)
		}
		seen[r.RulePriority] = true
		maxPrio = max(maxPrio, r.RulePriority)
		switch s.CountType {
		case countMoreThan:
			if s.CountUnit != "" {
				return p, fmt.Errorf("rule %d: countUnit is not allowed with imageCountMoreThan", r.RulePriority)
			}
		case countSincePush:
			if s.CountUnit != "days" {
				return p, fmt.Errorf("rule %d: countUnit must be 'days' with sinceImagePushed", r.RulePriority)
			}
		default:
			return p, fmt.Errorf("rule %d: countType must be imageCountMoreThan or sinceImagePushed", r.RulePriority)
		}
		lists := len(s.TagPrefixList) + len(s.TagPatternList)
		switch s.TagStatus {
		case tagStatusTagged:
			if lists == 0 || (len(s.TagPrefixList) > 0 && len(s.TagPatternList) > 0) {
				return p, fmt.Errorf("rule %d: a tagged rule needs either tagPrefixList or tagPatternList", r.RulePriority)
			}
		case tagStatusUntag, tagStatusAny:
			if lists > 0 {
				return p, fmt.Errorf("rule %d: tag lists are only allowed with tagStatus 'tagged'", r.RulePriority)
			}
			if s.TagStatus == tagStatusAny {
				anyPrio = r.RulePriority
			}
		default:
			return p, fmt.Errorf("rule %d: tagStatus must be tagged, untagged or any", r.RulePriority)
		}
	}
	if anyPrio != 0 && anyPrio != maxPrio {
		return p, fmt.Errorf("the rule with tagStatus 'any' must have the highest rulePriority")
	}
	return p, nil
}

// matches tells whether rule selects img.
func (rule lifecycleRule) matches(img image) bool {
	s := rule.Selection
	switch s.TagStatus {
	case tagStatusUntag:
		return len(img.Tags) == 0
	case tagStatusAny:
		return true
	}
	if len(img.Tags) == 0 {
		return false
	}
	// Every prefix (pattern) of the list must match one of the tags.
	for _, pre := range s.TagPrefixList {
		if !slices.ContainsFunc(img.Tags, func(t string) bool { return strings.HasPrefix(t, pre) }) {
			return false
		}
	}
	for _, pat := range s.TagPatternList {
		if !slices.ContainsFunc(img.Tags, func(t string) bool { return wildcardMatch(pat, t) }) {
			return false
		}
	}
	return true
}

// expired returns the images p expires at now, with the rule that expires
// each (a pure function of its inputs).
func (p lifecyclePolicy) expired(imgs []image, now time.Time) map[string]int {
	rules := slices.Clone(p.Rules)
	sort.Slice(rules, func(i, j int) bool { return rules[i].RulePriority < rules[j].RulePriority })
	claimed := map[string]bool{}
	out := map[string]int{}
	for _, rule := range rules {
		var sel []image
		for _, img := range imgs {
			if !claimed[img.Digest] && rule.matches(img) {
				claimed[img.Digest] = true
				sel = append(sel, img)
			}
		}
		// Newest first; ties by digest so the outcome is deterministic.
		sort.Slice(sel, func(i, j int) bool {
			if !sel[i].PushedAt.Equal(sel[j].PushedAt) {
				return sel[i].PushedAt.After(sel[j].PushedAt)
			}
			return sel[i].Digest < sel[j].Digest
		})
		switch rule.Selection.CountType {
		case countMoreThan:
			for _, img := range sel[min(len(sel), rule.Selection.CountNumber):] {
				out[img.Digest] = rule.RulePriority
			}
		case countSincePush:
			cutoff := now.Add(-time.Duration(rule.Selection.CountNumber) * 24 * time.Hour)
			for _, img := range sel {
				if img.PushedAt.Before(cutoff) {
					out[img.Digest] = rule.RulePriority
				}
			}
		}
	}
	return out
}
