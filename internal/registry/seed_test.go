package registry

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/berth-dev/berth/internal/images"
)

func TestSeedSampleApp(t *testing.T) {
	t.Parallel()
	d := newDockerCLI(t)
	e := newEnv(t, envOpts{})
	ctx := t.Context()
	uri, err := e.reg.SeedSampleApp(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.host + "/sample-app:latest"; uri != want {
		t.Fatalf("uri = %q, want %q", uri, want)
	}
	di, err := e.ecr().DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(SampleAppRepository),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(SampleAppTag)}}})
	if err != nil {
		t.Fatal(err)
	}
	pushedAt := aws.ToTime(di.ImageDetails[0].ImagePushedAt)
	// Seeding again leaves the image alone.
	if _, err := e.reg.SeedSampleApp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	di2, err := e.ecr().DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(SampleAppRepository)})
	if err != nil || len(di2.ImageDetails) != 1 || !aws.ToTime(di2.ImageDetails[0].ImagePushedAt).Equal(pushedAt) {
		t.Fatalf("second seed changed the repository: %+v %v", di2, err)
	}
	e.login(d)
	d.removeLater(uri)
	d.run("pull", uri)
	labels := d.run("image", "inspect", "--format", "{{index .Config.Labels \""+images.LabelBinarySHA256+"\"}}", uri)
	if len(strings.TrimSpace(labels)) != 64 {
		t.Errorf("seeded image lacks the binary hash label: %q", labels)
	}
}
