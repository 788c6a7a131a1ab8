package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/berth-dev/berth/internal/images"
)

// dockerCLI runs the docker CLI with its own config dir (logins stay out of
// the user's ~/.docker). It fails the test, never skips, without an engine.
type dockerCLI struct {
	t   testing.TB
	cfg string
}

func newDockerCLI(t testing.TB) *dockerCLI {
	t.Helper()
	d := &dockerCLI{t: t, cfg: t.TempDir()}
	if out, err := d.try("version", "--format", "{{.Server.Version}}"); err != nil {
		t.Fatalf("these tests need the docker CLI and a Docker engine; none answers: %v\n%s", err, out)
	}
	return d
}

func (d *dockerCLI) try(args ...string) (string, error) {
	return d.tryInput(nil, args...)
}

func (d *dockerCLI) tryInput(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+d.cfg)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *dockerCLI) run(args ...string) string {
	d.t.Helper()
	out, err := d.try(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// removeLater removes image refs from the local engine when the test ends.
func (d *dockerCLI) removeLater(refs ...string) {
	d.t.Cleanup(func() {
		for _, ref := range refs {
			_, _ = d.try("rmi", "-f", ref)
		}
	})
}

// testImage builds a small single-layer image with unique content and loads
// it into the engine as ref.
func (d *dockerCLI) testImage(ref string, size int) *images.Image {
	d.t.Helper()
	im := buildTestImage(d.t, ref, size)
	var buf bytes.Buffer
	if err := images.WriteDockerArchive(&buf, im); err != nil {
		d.t.Fatal(err)
	}
	// By id too: a tag moved away leaves the image under its digest only.
	d.removeLater(ref, im.ID())
	if out, err := d.tryInput(buf.Bytes(), "load"); err != nil {
		d.t.Fatalf("docker load: %v\n%s", err, out)
	}
	return im
}

// buildTestImage builds a single-layer image of a file of size random bytes.
func buildTestImage(t testing.TB, ref string, size int) *images.Image {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	path := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	im, err := images.Build(path, images.Spec{Ref: ref, Entrypoint: []string{images.BinaryPath}})
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// login logs the CLI in with a token from GetAuthorizationToken.
func (e *env) login(d *dockerCLI) {
	e.t.Helper()
	out, err := e.ecr().GetAuthorizationToken(e.t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		e.t.Fatal(err)
	}
	user, pw := decodeToken(e.t, aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if out, err := d.tryInput([]byte(pw), "login", "-u", user, "--password-stdin", e.host); err != nil {
		e.t.Fatalf("docker login: %v\n%s", err, out)
	}
}

func decodeToken(t testing.TB, token string) (string, string) {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("token is not base64: %v", err)
	}
	user, pw, ok := strings.Cut(string(b), ":")
	if !ok {
		t.Fatalf("token %q is not user:password", b)
	}
	return user, pw
}

func uniq() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestDockerPushPull(t *testing.T) {
	t.Parallel()
	d := newDockerCLI(t)
	e := newEnv(t, envOpts{})
	ctx := t.Context()
	name := "docker-push/app-" + uniq()
	if _, err := e.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	local := "berth-test.local/" + name + ":v1"
	im := d.testImage(local, 1<<20)
	remote := e.host + "/" + name + ":v1"
	d.run("tag", local, remote)
	d.removeLater(remote)

	// Anonymous pushes are refused.
	if out, err := d.try("push", remote); err == nil {
		t.Fatalf("anonymous push succeeded:\n%s", out)
	}
	e.login(d)
	d.run("push", remote)

	di, err := e.ecr().DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(di.ImageDetails) != 1 {
		t.Fatalf("images = %+v", di.ImageDetails)
	}
	det := di.ImageDetails[0]
	if !equal(det.ImageTags, []string{"v1"}) || aws.ToInt64(det.ImageSizeInBytes) <= 0 || det.ImagePushedAt == nil {
		t.Errorf("image detail = %+v", det)
	}

	// Pull it back into a clean engine state.
	d.run("rmi", "-f", remote, local)
	d.run("pull", remote)
	id := strings.TrimSpace(d.run("image", "inspect", "--format", "{{.Id}}", remote))
	if id != im.ID() {
		t.Errorf("pulled image id = %s, want %s", id, im.ID())
	}
}

func TestDockerImmutableTagRefusesOverwrite(t *testing.T) {
	t.Parallel()
	d := newDockerCLI(t)
	e := newEnv(t, envOpts{})
	ctx := t.Context()
	name := "immutable-" + uniq()
	if _, err := e.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName: aws.String(name), ImageTagMutability: types.ImageTagMutabilityImmutable,
	}); err != nil {
		t.Fatal(err)
	}
	e.login(d)
	remote := e.host + "/" + name + ":v1"
	d.removeLater(remote)
	first := d.testImage("berth-test.local/"+name+":a", 4096)
	d.run("tag", first.Ref, remote)
	d.run("push", remote)
	d.run("push", remote) // the same image again is fine
	d.testImage("berth-test.local/"+name+":b", 4096)
	d.run("tag", "berth-test.local/"+name+":b", remote)
	out, err := d.try("push", remote)
	if err == nil {
		t.Fatalf("overwriting an immutable tag succeeded:\n%s", out)
	}
	if !strings.Contains(out, "cannot be overwritten because the repository is immutable") {
		t.Errorf("push output does not say why:\n%s", out)
	}
	li, err := e.ecr().ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(li.ImageIds) != 1 || aws.ToString(li.ImageIds[0].ImageDigest) == "" {
		t.Fatalf("images = %+v", li.ImageIds)
	}
	bgi, err := e.ecr().BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(name), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil || len(bgi.Images) != 1 || !strings.Contains(aws.ToString(bgi.Images[0].ImageManifest), first.ConfigDigest.String()) {
		t.Fatalf("v1 no longer names the first image: %+v %v", bgi, err)
	}
}

func TestDockerPushToMissingRepository(t *testing.T) {
	t.Parallel()
	d := newDockerCLI(t)
	for _, auto := range []bool{false, true} {
		e := newEnv(t, envOpts{autoCreate: auto})
		e.login(d)
		name := "missing-" + uniq()
		remote := e.host + "/" + name + ":latest"
		d.removeLater(remote)
		im := d.testImage("berth-test.local/"+name+":x", 4096)
		d.run("tag", im.Ref, remote)
		out, err := d.try("push", remote)
		if !auto {
			if err == nil {
				t.Fatalf("push to a missing repository succeeded:\n%s", out)
			}
			if !strings.Contains(out, "does not exist") {
				t.Errorf("push output does not say why:\n%s", out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("push with auto-create: %v\n%s", err, out)
		}
		if _, err := e.ecr().DescribeRepositories(t.Context(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}}); err != nil {
			t.Fatalf("auto-created repository: %v", err)
		}
	}
}

func TestDockerConcurrentPushesShareALayer(t *testing.T) {
	t.Parallel()
	d := newDockerCLI(t)
	e := newEnv(t, envOpts{})
	name := "shared-" + uniq()
	if _, err := e.ecr().CreateRepository(t.Context(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	e.login(d)
	// Two images of one binary differ only in their config: same layer.
	bin := buildTestImage(t, "x", 2<<20).Binary
	var refs []string
	var archive bytes.Buffer
	var ims []*images.Image
	for i := range 3 {
		ref := fmt.Sprintf("%s/%s:c%d", e.host, name, i)
		im, err := images.Build(bin, images.Spec{Ref: ref, Cmd: []string{fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
		ims = append(ims, im)
		refs = append(refs, ref)
	}
	if err := images.WriteDockerArchive(&archive, ims...); err != nil {
		t.Fatal(err)
	}
	d.removeLater(refs...)
	if out, err := d.tryInput(archive.Bytes(), "load"); err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	var wg sync.WaitGroup
	outs := make([]string, len(refs))
	errs := make([]error, len(refs))
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = d.try("push", ref)
		}()
	}
	wg.Wait()
	for i := range refs {
		if errs[i] != nil {
			t.Errorf("push %s: %v\n%s", refs[i], errs[i], outs[i])
		}
	}
	d.run(append([]string{"rmi", "-f"}, refs...)...)
	for i, ref := range refs {
		d.run("pull", ref)
		if id := strings.TrimSpace(d.run("image", "inspect", "--format", "{{.Id}}", ref)); id != ims[i].ID() {
			t.Errorf("%s: id %s, want %s", ref, id, ims[i].ID())
		}
	}
}
