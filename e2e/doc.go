// Package e2e drives a real `berth dev` process with Debian's `aws` CLI
// (/usr/bin/aws, package awscli) the way the README tells users to. The tests
// build the berth binary once per run.
package e2e
