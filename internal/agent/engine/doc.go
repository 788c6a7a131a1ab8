// Package engine is the agent's task engine: it moves every task and
// container it owns from its known status to its desired status on a
// runtime.Runtime, and reports each transition.
//
// One goroutine owns each task and is the only writer of its statuses. A pure
// function, next, decides which transitions may happen now (pull, create,
// start in dependsOn order, stop in reverse order) from the task alone; the
// task goroutine performs them on the runtime, records the result, saves the
// task to the data dir and reports what the control plane has not seen yet
// (known vs sent), so a restart repeats no side effect and loses no report.
//
// It speaks only the runtime interface and the link's types. It must not
// import the Docker client, the control plane, or the AWS SDK: reports go
// through the Reporter interface.
package engine
