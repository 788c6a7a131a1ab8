package scheduler

import (
	"slices"
	"strings"
	"testing"
)

func TestDistributeCapacityProviders(t *testing.T) {
	t.Parallel()
	count := func(xs []string) map[string]int {
		m := map[string]int{}
		for _, x := range xs {
			m[x]++
		}
		return m
	}
	a1b4 := []ProviderShare{{Name: "A", Weight: 1}, {Name: "B", Weight: 4}}
	if got := count(DistributeCapacityProviders(a1b4, 10, nil)); got["A"] != 2 || got["B"] != 8 {
		t.Errorf("1:4 over 10 = %v", got)
	}
	if got := DistributeCapacityProviders(a1b4, 5, nil); !slices.Equal(got, []string{"B", "B", "B", "A", "B"}) {
		t.Errorf("1:4 over 5 = %v", got)
	}
	base := []ProviderShare{{Name: "A", Base: 3, Weight: 1}, {Name: "B", Weight: 1}}
	if got := DistributeCapacityProviders(base, 2, nil); !slices.Equal(got, []string{"A", "A"}) {
		t.Errorf("base first = %v", got)
	}
	if got := count(DistributeCapacityProviders(base, 9, nil)); got["A"] != 6 || got["B"] != 3 {
		t.Errorf("base 3 then 1:1 over 9 = %v", got)
	}
	zero := []ProviderShare{{Name: "A", Weight: 0}, {Name: "B", Weight: 1}}
	if got := count(DistributeCapacityProviders(zero, 4, nil)); got["A"] != 0 || got["B"] != 4 {
		t.Errorf("weight 0 used: %v", got)
	}
	// Scaling out keeps the ratio given the existing tasks.
	if got := count(DistributeCapacityProviders(a1b4, 5, map[string]int{"B": 8})); got["A"] != 2 || got["B"] != 3 {
		t.Errorf("with existing = %v", got)
	}
}

func TestValidateProviderStrategy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		items []ProviderShare
		want  string
	}{
		{nil, "empty"},
		{[]ProviderShare{{Name: "A", Base: 1, Weight: 1}, {Name: "B", Base: 1, Weight: 1}}, "Only one capacity provider"},
		{[]ProviderShare{{Name: "A"}, {Name: "B"}}, "weight greater than zero"},
		{[]ProviderShare{{Name: "A", Weight: 1001}}, "between 0 and 1000"},
		{[]ProviderShare{{Name: "A", Base: 100001, Weight: 1}}, "between 0 and 100000"},
		{[]ProviderShare{{Name: "A", Weight: 1}, {Name: "A", Weight: 1}}, "more than once"},
	} {
		if err := ValidateProviderStrategy(tt.items); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.items, err, tt.want)
		}
	}
	if err := ValidateProviderStrategy([]ProviderShare{{Name: "A", Base: 2, Weight: 1}, {Name: "B", Weight: 3}}); err != nil {
		t.Error(err)
	}
}
