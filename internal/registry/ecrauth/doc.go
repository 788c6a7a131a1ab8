// Package ecrauth is what an image puller needs from Berth's registry,
// without the registry itself: resolving ECR-form image references
// (<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>) to the built-in
// registry, and registry credentials from ECR GetAuthorizationToken,
// fetched with the caller's own AWS credentials and cached until shortly
// before they expire.
//
// It must not import Distribution or any server package; the agent imports
// it.
package ecrauth
