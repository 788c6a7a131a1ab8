package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestLifecycleExpired(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	img := func(d string, ageDays int, tags ...string) image {
		return image{imageRecord: imageRecord{Digest: d, PushedAt: now.Add(-time.Duration(ageDays) * 24 * time.Hour)}, Tags: tags}
	}
	imgs := []image{
		img("p1", 5, "prod-1"), img("p2", 4, "prod-2"), img("p3", 3, "prod-3", "stable"),
		img("d1", 9, "dev-1"), img("d2", 1, "dev-2"),
		img("u1", 8), img("u2", 2),
	}
	tests := []struct {
		name, policy string
		want         []string
	}{
		{"keep newest 2 prod", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}`,
			[]string{"p1"}},
		{"untagged older than 3 days", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3},"action":{"type":"expire"}}]}`,
			[]string{"u1"}},
		{"pattern needs all patterns", `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPatternList":["prod-*","st*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
			nil},
		{"claimed by a higher priority rule", `{"rules":[
			{"rulePriority":1,"selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}},
			{"rulePriority":2,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
			[]string{"d1", "u1", "u2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseLifecyclePolicy(tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for d := range p.expired(imgs, now) {
				got = append(got, d)
			}
			slices.Sort(got)
			if !equal(got, tc.want) {
				t.Errorf("expired %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLifecyclePolicyValidation(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`{}`, `not json`,
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1},"action":{"type":"expire"}}]}`,
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
		           {"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
		`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0},"action":{"type":"expire"}}]}`,
	} {
		if _, err := parseLifecyclePolicy(bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestLifecycleAndGarbageCollection pushes images over "days", lets a policy
// expire some, collects garbage, and checks the kept images still pull and
// the expired layers left the disk.
func TestLifecycleAndGarbageCollection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, envOpts{dataDir: dir})
	c, ctx := e.ecr(), t.Context()
	repo := aws.String("life")
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	layerPath := func(d string) string {
		return filepath.Join(dir, "registry", "docker", "registry", "v2", "blobs", "sha256", d[7:9], d[7:], "data")
	}
	var layers []string
	for i := range 4 {
		im := buildTestImage(t, "x", 2000+i)
		if err := sdkPush(t, c, "life", fmt.Sprintf("prod-%d", i), im, 1<<20); err != nil {
			t.Fatal(err)
		}
		layers = append(layers, im.LayerDigest.String())
		e.advance(24 * time.Hour)
	}
	// An untagged image, pushed "now".
	un := buildTestImage(t, "x", 999)
	if err := sdkPush(t, c, "life", "", un, 1<<20); err != nil {
		t.Fatal(err)
	}

	_, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":5}]}`)})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Fatalf("invalid policy: %v", err)
	}
	policy := `{"rules":[{"rulePriority":1,"description":"keep two prod","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":2},"action":{"type":"expire"}}]}`
	if _, err := c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo, LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	pv, err := c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil || aws.ToInt32(pv.Summary.ExpiringImageTotalCount) != 2 {
		t.Fatalf("preview = %+v, %v", pv, err)
	}
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	tags := func() []string {
		li, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, Filter: &types.ListImagesFilter{TagStatus: types.TagStatusTagged}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, id := range li.ImageIds {
			out = append(out, aws.ToString(id.ImageTag))
		}
		slices.Sort(out)
		return out
	}
	if got := tags(); !equal(got, []string{"prod-2", "prod-3"}) {
		t.Fatalf("after the policy: %v, want prod-2 prod-3", got)
	}
	gp, err := c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: repo})
	if err != nil || gp.LastEvaluatedAt == nil {
		t.Fatalf("GetLifecyclePolicy = %+v, %v", gp, err)
	}

	// A second policy for the untagged image, applied by the periodic path.
	policy2 := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}`
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(policy2)}); err != nil {
		t.Fatal(err)
	}
	if li, _ := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, Filter: &types.ListImagesFilter{TagStatus: types.TagStatusUntagged}}); len(li.ImageIds) != 1 {
		t.Fatalf("the untagged image expired too early: %+v", li.ImageIds)
	}
	e.advance(25 * time.Hour)
	if err := e.reg.Maintain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if li, _ := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, Filter: &types.ListImagesFilter{TagStatus: types.TagStatusUntagged}}); len(li.ImageIds) != 0 {
		t.Fatalf("the untagged image was not expired: %+v", li.ImageIds)
	}

	// Maintain collected the garbage: expired layers are gone, kept ones stay.
	for i, d := range layers {
		_, err := os.Stat(layerPath(d))
		if kept := i >= 2; kept != (err == nil) {
			t.Errorf("layer of prod-%d: on disk = %v, want %v", i, err == nil, kept)
		}
	}
	if _, err := os.Stat(layerPath(un.LayerDigest.String())); err == nil {
		t.Errorf("the untagged image's layer is still on disk")
	}
	sdkPull(t, c, "life", "prod-2")
	sdkPull(t, c, "life", "prod-3")
	// A swept layer can be pushed again (nothing remembers it).
	again := buildTestImage(t, "x", 10)
	if err := sdkPush(t, c, "life", "again", again, 1<<20); err != nil {
		t.Fatal(err)
	}
	st, err := e.reg.CollectGarbage(ctx, 0)
	if err != nil || st.Blobs != 0 {
		t.Fatalf("second collection: %+v, %v", st, err)
	}
	sdkPull(t, c, "life", "again")
}

func TestGarbageCollectionKeepsYoungBlobsAndDropsDeletedRepositories(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, ctx := e.ecr(), t.Context()
	for _, n := range []string{"gone", "kept"} {
		if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
		if err := sdkPush(t, c, n, "v1", buildTestImage(t, "x", 500), 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	// An uploaded layer nothing references yet (a push in progress).
	up, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("a layer in flight")
	if _, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("kept"), UploadId: up.UploadId,
		PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(int64(len(body) - 1)), LayerPartBlob: body}); err != nil {
		t.Fatal(err)
	}
	d := "sha256:" + digestOf(body)
	if _, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("kept"), UploadId: up.UploadId, LayerDigests: []string{d}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("gone"), Force: true}); err != nil {
		t.Fatal(err)
	}
	st, err := e.reg.CollectGarbage(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 0 {
		t.Errorf("young blobs were swept: %+v", st)
	}
	chk, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String("kept"), LayerDigests: []string{d}})
	if err != nil || len(chk.Layers) != 1 {
		t.Fatalf("in-flight layer lost: %+v %v", chk, err)
	}
	st, err = e.reg.CollectGarbage(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// gone's manifest, config and layer, and the in-flight layer.
	if st.Blobs != 4 {
		t.Errorf("collection = %+v, want 4 blobs", st)
	}
	sdkPull(t, c, "kept", "v1")
}
