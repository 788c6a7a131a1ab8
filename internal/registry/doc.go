// Package registry is Berth's built-in image registry: the CNCF Distribution
// registry (github.com/distribution/distribution/v3) embedded as a library,
// serving the Docker registry protocol under /v2/ with filesystem storage,
// and the Amazon ECR API (the Handler of internal/awsapi/ecr) on the same
// blobs and manifests.
//
// It owns: ECR repositories, image and tag records (etcd, under
// /berth/<account>/<region>/ecr/...), registry authorization tokens
// (GetAuthorizationToken and the /v2/ access controller), tag immutability,
// lifecycle policies and their expiry loop, repository policies (stored),
// the ECR layer upload operations, garbage collection of unreferenced blobs,
// seeding images built in-process (SeedImage) and resolving ECR-form image
// references for the agent (ResolveImage, DockerAuth).
//
// Tag and image records in etcd are the source of truth for what a
// repository holds; Distribution's storage holds the bytes. Distribution's
// own tag store is replaced by a TagService over those records, so /v2/
// pulls, ECR views and lifecycle policies can never disagree.
//
// It must not import internal/ecs, internal/agent or internal/controlplane;
// Distribution is imported only here.
package registry
