package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/store"
)

// settingRule is what a setting accepts and its value when nobody set it.
type settingRule struct {
	values    []string
	awsValue  string
	immutable string // non-empty: why users cannot change it
}

// Account settings as ECS documents them. The long ARN formats can no longer
// be opted out of; guardDutyActivate belongs to GuardDuty.
var settingRules = map[ecsapi.SettingName]settingRule{
	ecsapi.SettingNameServiceLongArnFormat:            {values: []string{"enabled"}, awsValue: "enabled"},
	ecsapi.SettingNameTaskLongArnFormat:               {values: []string{"enabled"}, awsValue: "enabled"},
	ecsapi.SettingNameContainerInstanceLongArnFormat:  {values: []string{"enabled"}, awsValue: "enabled"},
	ecsapi.SettingNameAwsvpcTrunking:                  {values: []string{"enabled", "disabled"}, awsValue: "disabled"},
	ecsapi.SettingNameContainerInsights:               {values: []string{"enabled", "disabled", "enhanced"}, awsValue: "disabled"},
	ecsapi.SettingNameFargateFIPSMode:                 {values: []string{"enabled", "disabled"}, awsValue: "disabled"},
	ecsapi.SettingNameTagResourceAuthorization:        {values: []string{"on", "off"}, awsValue: "on"},
	ecsapi.SettingNameFargateTaskRetirementWaitPeriod: {values: []string{"0", "7", "14"}, awsValue: "7"},
	ecsapi.SettingNameGuardDutyActivate:               {values: []string{"on", "off"}, awsValue: "off", immutable: "guardDutyActivate is managed by Amazon GuardDuty and cannot be changed through ECS."},
	ecsapi.SettingNameDefaultLogDriverMode:            {values: []string{"blocking", "non-blocking"}, awsValue: "non-blocking"},
	ecsapi.SettingNameFargateEventWindows:             {values: []string{"enabled", "disabled"}, awsValue: "disabled"},
}

// storedSetting is a setting as stored under settings/<principal>/<name>;
// the principal "default" holds the account defaults.
type storedSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

const defaultPrincipal = "default"

var principalARNRE = lazyregexp.New(`^arn:aws:iam::(\d{12}):(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)$`)

func (s *Server) settingKey(principal string, name ecsapi.SettingName) string {
	return s.key("settings", principal, string(name))
}

// principalFor resolves the principal a setting call is about: the given ARN
// (of this account) or the caller.
func (s *Server) principalFor(ctx context.Context, arn *string) (string, error) {
	if arn != nil && *arn != "" {
		m := principalARNRE.FindStringSubmatch(*arn)
		if m == nil {
			return "", invalidParam("principalArn %q is not a valid IAM user, role or root ARN.", *arn)
		}
		if m[1] != s.cfg.AccountID {
			return "", invalidParam("principalArn %q belongs to another account; only account %s is served here.", *arn, s.cfg.AccountID)
		}
		return *arn, nil
	}
	if p, ok := awsapi.PrincipalFrom(ctx); ok && p.ARN != "" {
		return p.ARN, nil
	}
	return "arn:aws:iam::" + s.cfg.AccountID + ":root", nil
}

func checkSetting(name ecsapi.SettingName, value string) error {
	rule, ok := settingRules[name]
	if !ok {
		return invalidParam("Unknown account setting %q.", name)
	}
	if rule.immutable != "" {
		return invalidParam("%s", rule.immutable)
	}
	if !slices.Contains(rule.values, value) {
		return invalidParam("Invalid value %q for account setting %s: valid values are %v.", value, name, rule.values)
	}
	return nil
}

func (s *Server) cachedSetting(principal string, name ecsapi.SettingName) (string, bool) {
	kv, ok := s.cache.Get(s.settingKey(principal, name))
	if !ok {
		return "", false
	}
	var st storedSetting
	if json.Unmarshal(kv.Value, &st) != nil {
		return "", false
	}
	return st.Value, true
}

// accountDefault is the account's default for a setting, or AWS's.
func (s *Server) accountDefault(name ecsapi.SettingName) string {
	if v, ok := s.cachedSetting(defaultPrincipal, name); ok {
		return v
	}
	return settingRules[name].awsValue
}

// effectiveSetting is the value in force for a principal.
func (s *Server) effectiveSetting(principal string, name ecsapi.SettingName) string {
	if v, ok := s.cachedSetting(principal, name); ok {
		return v
	}
	return s.accountDefault(name)
}

func (s *Server) putSetting(ctx context.Context, principal string, name ecsapi.SettingName, value string) error {
	b, _ := json.Marshal(storedSetting{Name: string(name), Value: value})
	rev, err := s.st.Txn(ctx, store.Op{Key: s.settingKey(principal, name), Value: b, Unconditional: true})
	if err != nil {
		return err
	}
	return s.synced(ctx, rev)
}

// PutAccountSetting implements ecsapi.Handler.
func (s *Server) PutAccountSetting(ctx context.Context, in *ecsapi.PutAccountSettingRequest) (*ecsapi.PutAccountSettingResponse, error) {
	if err := checkSetting(in.Name, in.Value); err != nil {
		return nil, err
	}
	principal, err := s.principalFor(ctx, in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	if err := s.putSetting(ctx, principal, in.Name, in.Value); err != nil {
		return nil, err
	}
	return &ecsapi.PutAccountSettingResponse{Setting: &ecsapi.Setting{
		Name: ptr(in.Name), Value: ptr(in.Value), PrincipalArn: ptr(principal), Type: ptr(ecsapi.SettingTypeUser)}}, nil
}

// PutAccountSettingDefault implements ecsapi.Handler.
func (s *Server) PutAccountSettingDefault(ctx context.Context, in *ecsapi.PutAccountSettingDefaultRequest) (*ecsapi.PutAccountSettingDefaultResponse, error) {
	if err := checkSetting(in.Name, in.Value); err != nil {
		return nil, err
	}
	if err := s.putSetting(ctx, defaultPrincipal, in.Name, in.Value); err != nil {
		return nil, err
	}
	principal, _ := s.principalFor(ctx, nil)
	return &ecsapi.PutAccountSettingDefaultResponse{Setting: &ecsapi.Setting{
		Name: ptr(in.Name), Value: ptr(in.Value), PrincipalArn: ptr(principal), Type: ptr(ecsapi.SettingTypeUser)}}, nil
}

// DeleteAccountSetting implements ecsapi.Handler.
func (s *Server) DeleteAccountSetting(ctx context.Context, in *ecsapi.DeleteAccountSettingRequest) (*ecsapi.DeleteAccountSettingResponse, error) {
	if _, ok := settingRules[in.Name]; !ok {
		return nil, invalidParam("Unknown account setting %q.", in.Name)
	}
	principal, err := s.principalFor(ctx, in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	value, ok := s.cachedSetting(principal, in.Name)
	if !ok {
		return nil, invalidParam("The account setting %s is not set for %s.", in.Name, principal)
	}
	rev, err := s.st.Txn(ctx, store.Op{Key: s.settingKey(principal, in.Name), Delete: true, Unconditional: true})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.DeleteAccountSettingResponse{Setting: &ecsapi.Setting{
		Name: ptr(in.Name), Value: ptr(value), PrincipalArn: ptr(principal), Type: ptr(ecsapi.SettingTypeUser)}}, nil
}

// ListAccountSettings implements ecsapi.Handler: the principal's own settings,
// or with effectiveSettings every setting's value in force.
func (s *Server) ListAccountSettings(ctx context.Context, in *ecsapi.ListAccountSettingsRequest) (*ecsapi.ListAccountSettingsResponse, error) {
	principal, err := s.principalFor(ctx, in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range settingRules {
		if in.Name == nil || *in.Name == n {
			names = append(names, string(n))
		}
	}
	slices.Sort(names)
	var all []ecsapi.Setting
	var keys []string
	for _, n := range names {
		name := ecsapi.SettingName(n)
		value, own := s.cachedSetting(principal, name)
		if !own {
			if !deref(in.EffectiveSettings) {
				continue
			}
			value = s.accountDefault(name)
		}
		if in.Value != nil && *in.Value != value {
			continue
		}
		typ := ecsapi.SettingTypeUser
		if settingRules[name].immutable != "" {
			typ = ecsapi.SettingTypeAwsManaged
		}
		all = append(all, ecsapi.Setting{Name: ptr(name), Value: ptr(value), PrincipalArn: ptr(principal), Type: ptr(typ)})
		keys = append(keys, n)
	}
	pg, next, err := page(keys, in.NextToken, in.MaxResults, 10, 10)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListAccountSettingsResponse{Settings: []ecsapi.Setting{}, NextToken: next}
	for _, st := range all {
		if slices.Contains(pg, string(*st.Name)) {
			out.Settings = append(out.Settings, st)
		}
	}
	return out, nil
}
