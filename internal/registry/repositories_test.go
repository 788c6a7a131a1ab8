package registry

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestRepositoriesLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, ctx := e.ecr(), t.Context()

	out, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:     aws.String("team/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutable,
		Tags:               []types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}},
	})
	if err != nil {
		t.Fatalf("CreateRepository: %v", err)
	}
	repo := out.Repository
	if got, want := aws.ToString(repo.RepositoryUri), e.host+"/team/app"; got != want {
		t.Errorf("uri = %q, want %q", got, want)
	}
	if got, want := aws.ToString(repo.RepositoryArn), "arn:aws:ecr:us-east-1:000000000000:repository/team/app"; got != want {
		t.Errorf("arn = %q, want %q", got, want)
	}
	if repo.ImageTagMutability != types.ImageTagMutabilityImmutable || repo.ImageScanningConfiguration.ScanOnPush {
		t.Errorf("settings not kept: %+v", repo)
	}
	if repo.EncryptionConfiguration == nil || repo.EncryptionConfiguration.EncryptionType != types.EncryptionTypeAes256 {
		t.Errorf("encryption = %+v, want AES256", repo.EncryptionConfiguration)
	}

	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	var exists *types.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second create: %v, want RepositoryAlreadyExistsException", err)
	}
	_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Bad_Name")})
	var inv *types.InvalidParameterException
	if !errors.As(err, &inv) {
		t.Fatalf("bad name: %v, want InvalidParameterException", err)
	}

	for _, n := range []string{"b-repo", "a-repo"} {
		if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pg.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
	}
	if want := []string{"a-repo", "b-repo", "team/app"}; !equal(names, want) {
		t.Errorf("repositories = %v, want %v", names, want)
	}
	_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"nope"}})
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("describe missing: %v", err)
	}

	// Tags, mutability, scan settings and policies.
	arn := repo.RepositoryArn
	if _, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("x")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil || len(lt.Tags) != 1 || aws.ToString(lt.Tags[0].Key) != "team" {
		t.Fatalf("tags = %+v, %v", lt, err)
	}
	if _, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("team/app"), ImageTagMutability: types.ImageTagMutabilityMutable}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("team/app"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := d.Repositories[0]; r.ImageTagMutability != types.ImageTagMutabilityMutable || !r.ImageScanningConfiguration.ScanOnPush {
		t.Errorf("after updates: %+v", r)
	}
	_, err = c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	var pnf *types.RepositoryPolicyNotFoundException
	if !errors.As(err, &pnf) {
		t.Fatalf("policy before set: %v", err)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("team/app"), PolicyText: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	gp, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("team/app")})
	if err != nil || aws.ToString(gp.PolicyText) != policy {
		t.Fatalf("policy = %v, %v", gp, err)
	}
	if _, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("a-repo")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("a-repo")})
	if !errors.As(err, &nf) {
		t.Fatalf("delete twice: %v", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
