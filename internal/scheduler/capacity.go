package scheduler

// ProviderShare is a capacity provider strategy item.
type ProviderShare struct {
	Name   string
	Base   int
	Weight int
}

// Capacity provider strategy limits.
const (
	MaxProviderStrategyItems = 20
	MaxProviderBase          = 100000
	MaxProviderWeight        = 1000
)

// ValidateProviderStrategy checks a capacity provider strategy as ECS does:
// bases and weights in range, at most one item with a base, no provider
// twice, and at least one weight above zero.
func ValidateProviderStrategy(items []ProviderShare) error {
	if len(items) == 0 {
		return invalid("The capacity provider strategy is empty.")
	}
	if len(items) > MaxProviderStrategyItems {
		return invalid("The capacity provider strategy has more than %d items.", MaxProviderStrategyItems)
	}
	seen := map[string]bool{}
	withBase, weight := 0, 0
	for _, it := range items {
		if it.Name == "" {
			return invalid("A capacity provider strategy item needs a capacityProvider.")
		}
		if seen[it.Name] {
			return invalid("The capacity provider strategy names %s more than once.", it.Name)
		}
		seen[it.Name] = true
		if it.Base < 0 || it.Base > MaxProviderBase {
			return invalid("The base of capacity provider %s must be between 0 and %d.", it.Name, MaxProviderBase)
		}
		if it.Weight < 0 || it.Weight > MaxProviderWeight {
			return invalid("The weight of capacity provider %s must be between 0 and %d.", it.Name, MaxProviderWeight)
		}
		if it.Base > 0 {
			withBase++
		}
		weight += it.Weight
	}
	if withBase > 1 {
		return invalid("Only one capacity provider in a strategy can have a base defined.")
	}
	if weight == 0 {
		return invalid("At least one capacity provider in the strategy must have a weight greater than zero.")
	}
	return nil
}

// DistributeCapacityProviders assigns n tasks to the providers of a valid
// strategy: first up to base tasks to the provider with a base, then each
// further task to the provider with the lowest assigned/weight ratio
// (earlier items first on ties), so the split converges to the weights
// exactly (weights 1 and 4: one task in five on the first). existing counts
// the tasks a service already runs per provider, so scaling out keeps the
// ratio; it may be nil. The result has one provider name per task.
func DistributeCapacityProviders(items []ProviderShare, n int, existing map[string]int) []string {
	assigned := make([]int, len(items))
	for k, it := range items {
		assigned[k] = existing[it.Name]
	}
	out := make([]string, 0, n)
	for k, it := range items {
		for it.Base > 0 && assigned[k] < it.Base && len(out) < n {
			assigned[k]++
			out = append(out, it.Name)
		}
	}
	for len(out) < n {
		best := -1
		for k, it := range items {
			if it.Weight <= 0 {
				continue
			}
			// Tasks beyond the base count against the weight.
			if best < 0 || ratioLess(over(assigned[k], it.Base), it.Weight, over(assigned[best], items[best].Base), items[best].Weight) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		assigned[best]++
		out = append(out, items[best].Name)
	}
	return out
}

func over(assigned, base int) int {
	if assigned > base {
		return assigned - base
	}
	return 0
}

// ratioLess compares (a+1)/wa with (b+1)/wb: which provider, given one
// more task, stays furthest below its share.
func ratioLess(a, wa, b, wb int) bool {
	return (a+1)*wb < (b+1)*wa
}
