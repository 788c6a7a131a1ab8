package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/cql"
)

// Instance is one container instance: its registered capacity and what its
// non-stopped tasks already use.
type Instance struct {
	ID, ARN          string
	Status           string // ACTIVE, DRAINING, ...
	Connected        bool
	Attributes       map[string]string // name -> value ("" for a name-only attribute)
	EC2InstanceID    string
	AgentVersion     string
	RegisteredAt     time.Time
	CapacityProvider string // "" when the instance belongs to none
	CPU, Memory      int64  // registered
	UsedCPU          int64
	UsedMemory       int64
	// Ports and PortsUDP are the unavailable host ports: the ones reserved
	// at registration and the static host ports of the instance's tasks.
	Ports, PortsUDP map[int32]bool
	// AwsvpcSlots is how many more awsvpc tasks the instance can address;
	// negative when it has no awsvpc task network at all.
	AwsvpcSlots int
	// Groups counts the instance's tasks whose desired status is RUNNING, by
	// task group (service:<name>, family:<family> or a custom group).
	Groups       map[string]int
	RunningTasks int
}

// StatusActive is the only status that takes new tasks.
const StatusActive = "ACTIVE"

// Attribute is a requiresAttributes entry: the instance must have Name and,
// when Value is set, that value.
type Attribute struct {
	Name  string
	Value *string
}

// Constraint is a placementConstraints entry: Type distinctInstance or
// memberOf (with a CQL Expression).
type Constraint struct {
	Type, Expression string
}

// Strategy is a placementStrategy entry: Type binpack (Field cpu or memory),
// spread (Field instanceId, host or attribute:<name>) or random.
type Strategy struct {
	Type, Field string
}

// Limits ECS enforces on a request.
const (
	MaxStrategies       = 5
	MaxConstraints      = 10
	MaxExpressionLength = 2000
)

// Request is Count identical tasks of one group to place.
type Request struct {
	Count           int
	CPU, Memory     int64
	Ports, PortsUDP []int32 // static host ports each task needs
	Awsvpc          bool    // each task needs an awsvpc address
	// Subnets, for an awsvpc request, are the subnets it may use: an
	// instance whose task network is another subnet (its SubnetAttribute)
	// is refused with LOCATION. Empty: any.
	Subnets          []string
	Group            string // task group the spread and distinctInstance rules count
	Requires         []Attribute
	Constraints      []Constraint
	Strategies       []Strategy
	CapacityProvider string // when set, only instances of this provider
	// Targets, when set (StartTask), names the instance of each task
	// (len(Targets) == Count); constraints and strategies do not apply.
	Targets []string
	// Seed makes the random choices (tie-breaks, the random strategy)
	// replayable.
	Seed uint64
	// InOrder breaks the remaining ties by snapshot order instead of the
	// seeded permutation: first fit when there are no strategies.
	InOrder bool
}

// Filter names a step of the pipeline that rejects instances.
type Filter uint8

// Filters, in the order they run.
const (
	filterNone Filter = iota
	FilterStatus
	FilterAgent
	FilterCapacityProvider
	FilterAttributes
	FilterMemberOf
	FilterCPU
	FilterMemory
	FilterPorts
	FilterPortsUDP
	FilterAwsvpc
	FilterLocation
	FilterENI
	FilterDistinctInstance
	FilterMissing // a StartTask target that is not in the snapshot
	numFilters
)

var filterNames = [numFilters]string{"", "status", "agentConnected", "capacityProvider", "requiresAttributes",
	"memberOf", "cpu", "memory", "ports", "portsUdp", "awsvpc", "location", "eni", "distinctInstance", "missing"}

func (f Filter) String() string { return filterNames[f] }

// Failure reasons as ECS reports them in RunTask's failures[].
const (
	ReasonAgent            = "AGENT"
	ReasonAttribute        = "ATTRIBUTE"
	ReasonCPU              = "RESOURCE:CPU"
	ReasonMemory           = "RESOURCE:MEMORY"
	ReasonPorts            = "RESOURCE:PORTS"
	ReasonPortsUDP         = "RESOURCE:PORTS_UDP"
	ReasonENI              = "RESOURCE:ENI"
	ReasonLocation         = "LOCATION"
	ReasonMissing          = "MISSING"
	ReasonInactive         = "INACTIVE"
	ReasonDraining         = "DRAINING"
	ReasonCapacityProvider = "CAPACITY_PROVIDER"
	ReasonMemberOf         = "MemberOf placement constraint unsatisfied."
	ReasonDistinctInstance = "DistinctInstance placement constraint unsatisfied."
)

// SubnetAttribute names the subnet of an instance's awsvpc task network.
const SubnetAttribute = "ecs.subnet-id"

// AwsvpcNetworkAttribute is the detail of the ATTRIBUTE failure of an
// instance without an awsvpc task network.
const AwsvpcNetworkAttribute = "ecs.capability.task-eni"

// Rejection is why one instance could not take a task.
type Rejection struct {
	InstanceID, ARN string
	Filter          Filter
	Reason, Detail  string
}

// Step is one line of the explanation: how many instances a filter removed.
type Step struct {
	Filter  Filter
	Removed int
}

// Result is the outcome of a request.
type Result struct {
	// Placements holds the instance ID of each placed task, in order;
	// fewer than Count when some tasks fit nowhere.
	Placements []string
	// Failures, set when a task could not be placed (or a target refused
	// one), is the last rejection of every instance that refused.
	Failures []Rejection
	// Explain counts the instances each filter removed, in pipeline order,
	// filters that removed none left out. Draining instances are counted
	// here but, as in ECS, are not failures.
	Explain []Step
	// Candidates is how many instances passed every filter at the start.
	Candidates int
}

// Explanation renders Explain for people: "3 of 10 instances passed;
// cpu removed 5, memberOf removed 2".
func (r Result) Explanation(total int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d instances passed", r.Candidates, total)
	for i, s := range r.Explain {
		if i == 0 {
			b.WriteString("; ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s removed %d", s.Filter, s.Removed)
	}
	return b.String()
}

// ValidationError is a request ECS would refuse (InvalidParameterException).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

type strategyKind uint8

const (
	kindBinpackCPU strategyKind = iota
	kindBinpackMemory
	kindSpreadInstance
	kindSpreadAttribute
	kindRandom
)

// compiled is a validated request: its strategies and constraints parsed.
type compiled struct {
	strategies []compiledStrategy
	memberOf   []*cql.Expr
	dynamic    []*cql.Expr // the memberOf expressions placement can change
	distinct   bool
}

type compiledStrategy struct {
	kind strategyKind
	attr string // kindSpreadAttribute
}

// compile validates the request's strategies and constraints as ECS does.
func compile(req *Request) (*compiled, error) {
	if req.Count < 0 {
		return nil, invalid("count must be at least 1")
	}
	if req.Targets != nil && len(req.Targets) != req.Count {
		return nil, invalid("one target instance per task is required")
	}
	if len(req.Strategies) > MaxStrategies {
		return nil, invalid("The number of placement strategies (%d) exceeds the limit of %d.", len(req.Strategies), MaxStrategies)
	}
	if len(req.Constraints) > MaxConstraints {
		return nil, invalid("The number of placement constraints (%d) exceeds the limit of %d.", len(req.Constraints), MaxConstraints)
	}
	c := &compiled{}
	for _, s := range req.Strategies {
		switch s.Type {
		case "binpack":
			switch strings.ToLower(s.Field) {
			case "cpu":
				c.strategies = append(c.strategies, compiledStrategy{kind: kindBinpackCPU})
			case "memory":
				c.strategies = append(c.strategies, compiledStrategy{kind: kindBinpackMemory})
			default:
				return nil, invalid("Invalid placement strategy field %q for binpack: use cpu or memory.", s.Field)
			}
		case "spread":
			switch {
			case s.Field == "instanceId" || s.Field == "host":
				c.strategies = append(c.strategies, compiledStrategy{kind: kindSpreadInstance})
			case strings.HasPrefix(s.Field, "attribute:") && len(s.Field) > len("attribute:"):
				c.strategies = append(c.strategies, compiledStrategy{kind: kindSpreadAttribute, attr: strings.TrimPrefix(s.Field, "attribute:")})
			default:
				return nil, invalid("Invalid placement strategy field %q for spread: use instanceId, host or attribute:<name>.", s.Field)
			}
		case "random":
			if s.Field != "" {
				return nil, invalid("The random placement strategy takes no field.")
			}
			c.strategies = append(c.strategies, compiledStrategy{kind: kindRandom})
		default:
			return nil, invalid("Invalid placement strategy type %q: use binpack, spread or random.", s.Type)
		}
	}
	for _, k := range req.Constraints {
		switch k.Type {
		case "distinctInstance":
			if k.Expression != "" {
				return nil, invalid("An expression cannot be specified for a distinctInstance placement constraint.")
			}
			c.distinct = true
		case "memberOf":
			if k.Expression == "" {
				return nil, invalid("An expression is required for a memberOf placement constraint.")
			}
			if len(k.Expression) > MaxExpressionLength {
				return nil, invalid("The placement constraint expression exceeds %d characters.", MaxExpressionLength)
			}
			e, err := cql.Parse(k.Expression)
			if err != nil {
				return nil, invalid("Invalid placement constraint expression %q: %v", k.Expression, err)
			}
			if e.Dynamic() {
				c.dynamic = append(c.dynamic, e)
			} else {
				c.memberOf = append(c.memberOf, e)
			}
		default:
			return nil, invalid("Invalid placement constraint type %q: use distinctInstance or memberOf.", k.Type)
		}
	}
	return c, nil
}

// Validate reports whether ECS would accept req's strategies and constraints.
func Validate(req Request) error {
	_, err := compile(&req)
	return err
}
