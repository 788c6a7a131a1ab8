package registry

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/images"
)

// sdkPush pushes im as repo:tag (untagged for "") with the ECR layer operations, in parts of
// partSize bytes, skipping blobs the registry has.
func sdkPush(t testing.TB, c *ecr.Client, repo, tag string, im *images.Image, partSize int) error {
	t.Helper()
	ctx := t.Context()
	var layer bytes.Buffer
	if err := im.WriteLayer(&layer); err != nil {
		t.Fatal(err)
	}
	blobs := map[digest.Digest][]byte{im.ConfigDigest: im.Config, im.LayerDigest: layer.Bytes()}
	for d, body := range blobs {
		chk, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo), LayerDigests: []string{d.String()}})
		if err != nil {
			return err
		}
		if len(chk.Layers) == 1 && chk.Layers[0].LayerAvailability == types.LayerAvailabilityAvailable {
			continue
		}
		up, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
		if err != nil {
			return err
		}
		for off := 0; off < len(body); off += partSize {
			end := min(off+partSize, len(body))
			if _, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: up.UploadId,
				PartFirstByte: aws.Int64(int64(off)), PartLastByte: aws.Int64(int64(end - 1)), LayerPartBlob: body[off:end]}); err != nil {
				return err
			}
		}
		_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: up.UploadId, LayerDigests: []string{d.String()}})
		var exists *types.LayerAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return err
		}
	}
	manifest, err := im.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	in := &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(manifest))}
	if tag != "" {
		in.ImageTag = aws.String(tag)
	}
	_, err = c.PutImage(ctx, in)
	return err
}

// sdkPull reads repo:tag back with BatchGetImage and the layer download URLs
// and checks every blob against its digest.
func sdkPull(t testing.TB, c *ecr.Client, repo, tag string) []byte {
	t.Helper()
	ctx := t.Context()
	bgi, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(tag)}}})
	if err != nil || len(bgi.Images) != 1 {
		t.Fatalf("BatchGetImage: %+v %v", bgi, err)
	}
	manifest := []byte(aws.ToString(bgi.Images[0].ImageManifest))
	var m struct {
		Config struct{ Digest digest.Digest }
		Layers []struct{ Digest digest.Digest }
	}
	if err := jsonUnmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]digest.Digest{m.Config.Digest}, m.Layers[0].Digest) {
		u, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String(repo), LayerDigest: aws.String(d.String())})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(aws.ToString(u.DownloadUrl))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("download %s: status %d, %v", d, resp.StatusCode, err)
		}
		if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != d.String() {
			t.Fatalf("downloaded %s, content is %s", d, got)
		}
	}
	return manifest
}

func TestSDKPushPull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, ctx := e.ecr(), t.Context()
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("sdk/app")}); err != nil {
		t.Fatal(err)
	}
	im := buildTestImage(t, "sdk/app:v1", 3<<20+123)
	if err := sdkPush(t, c, "sdk/app", "v1", im, 1<<20); err != nil {
		t.Fatalf("push: %v", err)
	}
	want, _ := im.Manifest()
	if got := sdkPull(t, c, "sdk/app", "v1"); !bytes.Equal(got, want) {
		t.Errorf("manifest changed:\n%s\n%s", got, want)
	}
	// The same manifest again under the same tag is refused, as on ECR.
	_, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("sdk/app"), ImageTag: aws.String("v1"), ImageManifest: aws.String(string(want))})
	var exists *types.ImageAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("PutImage again: %v, want ImageAlreadyExistsException", err)
	}
	// A manifest whose layers were never uploaded.
	other := buildTestImage(t, "x", 100)
	om, _ := other.Manifest()
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("sdk/app"), ImageTag: aws.String("v2"), ImageManifest: aws.String(string(om))})
	var lnf *types.LayersNotFoundException
	if !errors.As(err, &lnf) {
		t.Errorf("PutImage without layers: %v, want LayersNotFoundException", err)
	}
	// A wrong digest and an out-of-order part.
	up, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("sdk/app")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("sdk/app"), UploadId: up.UploadId,
		PartFirstByte: aws.Int64(5), PartLastByte: aws.Int64(7), LayerPartBlob: []byte("abc")})
	var badPart *types.InvalidLayerPartException
	if !errors.As(err, &badPart) {
		t.Errorf("out-of-order part: %v", err)
	}
	if _, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("sdk/app"), UploadId: up.UploadId,
		PartFirstByte: aws.Int64(0), PartLastByte: aws.Int64(2), LayerPartBlob: []byte("abc")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String("sdk/app"), UploadId: up.UploadId,
		LayerDigests: []string{digest.FromString("xyz").String()}})
	var badLayer *types.InvalidLayerException
	if !errors.As(err, &badLayer) {
		t.Errorf("wrong digest: %v", err)
	}
}

func TestConcurrentPushesOfTheSameLayer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	c, ctx := e.ecr(), t.Context()
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("same")}); err != nil {
		t.Fatal(err)
	}
	im := buildTestImage(t, "same", 2<<20)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = sdkPush(t, c, "same", fmt.Sprintf("t%d", i), im, 512<<10)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("push %d: %v", i, err)
		}
	}
	for i := range n {
		sdkPull(t, c, "same", fmt.Sprintf("t%d", i))
	}
	di, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("same")})
	if err != nil || len(di.ImageDetails) != 1 || len(di.ImageDetails[0].ImageTags) != n {
		t.Fatalf("images = %+v, %v; want one image with %d tags", di, err, n)
	}
}
