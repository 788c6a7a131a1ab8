// Package cql is ECS's Cluster Query Language: the expressions of memberOf
// placement constraints and of ListContainerInstances' filter, such as
//
//	attribute:ecs.availability-zone in [us-east-1a, us-east-1b] and not(task:group == database)
//
// Parse compiles an expression once (syntax, operator validity per subject,
// literal types, regular expressions); Expr.Eval then evaluates it against
// any number of container instances seen through the Instance interface.
// Parse errors name the 1-based position and what was expected there.
//
// Semantics follow ECS's documentation (see ECS-SEMANTICS.md §3.14): keywords
// are case-sensitive; not binds tighter than and, and tighter than or;
// matches (=~) is a full-string regular-expression match; runningTasksCount
// compares as an integer, registeredAt as a date, agentVersion as a dotted
// version, attributes as numbers when both sides are numbers and as strings
// otherwise. Negated operators (!=, not_in, !~, !exists) are exactly the
// negation of their positive form, so a missing attribute satisfies
// "attribute:x != y".
//
// The package is pure: it must not import anything from Berth.
package cql
