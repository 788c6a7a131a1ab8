package registry

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestImagesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, ctx := e.ecr(), t.Context()
	repo := aws.String("imgs")
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	a, b := buildTestImage(t, "a", 1000), buildTestImage(t, "b", 2000)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(sdkPush(t, c, "imgs", "a1", a, 1<<20))
	must(sdkPush(t, c, "imgs", "a2", a, 1<<20))
	must(sdkPush(t, c, "imgs", "b1", b, 1<<20))
	list := func(status types.TagStatus) []string {
		t.Helper()
		out, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo, Filter: &types.ListImagesFilter{TagStatus: status}})
		must(err)
		var got []string
		for _, id := range out.ImageIds {
			got = append(got, aws.ToString(id.ImageTag))
		}
		slices.Sort(got)
		return got
	}
	if got := list(types.TagStatusTagged); !equal(got, []string{"a1", "a2", "b1"}) {
		t.Errorf("tagged = %v", got)
	}
	// Moving b1 to a leaves b untagged.
	am, _ := a.Manifest()
	_, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: repo, ImageTag: aws.String("b1"), ImageManifest: aws.String(string(am))})
	must(err)
	if got := list(types.TagStatusUntagged); !equal(got, []string{""}) {
		t.Errorf("untagged = %v, want one untagged image", got)
	}
	di, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("a1")}}})
	must(err)
	if d := di.ImageDetails[0]; !equal(d.ImageTags, []string{"a1", "a2", "b1"}) || aws.ToString(d.ImageDigest) != "sha256:"+digestOf(am) ||
		aws.ToInt64(d.ImageSizeInBytes) != a.LayerSize || aws.ToString(d.ImageManifestMediaType) != "application/vnd.oci.image.manifest.v1+json" ||
		aws.ToString(d.ArtifactMediaType) != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("detail = %+v", d)
	}
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("zz")}}})
	var nf *types.ImageNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("describe missing: %v", err)
	}

	// Removing tags one by one removes the image with its last tag.
	del, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{
		{ImageTag: aws.String("a1")}, {ImageTag: aws.String("nope")}}})
	must(err)
	if len(del.ImageIds) != 1 || len(del.Failures) != 1 || del.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Errorf("delete = %+v", del)
	}
	_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("a2")}, {ImageTag: aws.String("b1")}}})
	must(err)
	if got := list(types.TagStatusAny); !equal(got, []string{""}) {
		t.Errorf("after deletes = %v, want only the untagged image", got)
	}
	// Delete by digest; then the repository is empty and deletes without force.
	li, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo})
	must(err)
	_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: repo, ImageIds: li.ImageIds})
	must(err)
	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: repo})
	must(err)
}

func TestDeleteRepositoryNeedsForce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, ctx := e.ecr(), t.Context()
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("full")}); err != nil {
		t.Fatal(err)
	}
	if err := sdkPush(t, c, "full", "v1", buildTestImage(t, "x", 100), 1<<20); err != nil {
		t.Fatal(err)
	}
	_, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("full")})
	var ne *types.RepositoryNotEmptyException
	if !errors.As(err, &ne) {
		t.Fatalf("delete without force: %v", err)
	}
	if _, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("full"), Force: true}); err != nil {
		t.Fatal(err)
	}
	// Re-created, it is empty.
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("full")}); err != nil {
		t.Fatal(err)
	}
	li, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("full")})
	if err != nil || len(li.ImageIds) != 0 {
		t.Fatalf("re-created repository lists %+v, %v", li, err)
	}
}
