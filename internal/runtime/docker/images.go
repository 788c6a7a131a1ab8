package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// PullImage pulls ref and reads the progress stream to its end, since Docker
// reports most pull failures inside a 200 response.
func (r *Runtime) PullImage(ctx context.Context, ref string, auth *runtime.RegistryAuth) error {
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	var opts image.PullOptions
	if auth != nil {
		enc, err := registry.EncodeAuthConfig(registry.AuthConfig{
			Username: auth.Username, Password: auth.Password, ServerAddress: auth.ServerAddress,
		})
		if err != nil {
			return runtime.Errorf(runtime.ErrInvalid, "pull image", ref, err)
		}
		opts.RegistryAuth = enc
	}
	body, err := r.cli.ImagePull(ctx, ref, opts)
	if err != nil {
		return runtime.Errorf(pullClass(err), "pull image", ref, err)
	}
	defer body.Close()
	if err := readStream(body); err != nil {
		return runtime.Errorf(pullClass(err), "pull image", ref, err)
	}
	return nil
}

// pullClass classifies a pull failure. Registry errors reach us as text
// inside the progress stream, so besides Docker's error types this looks at
// the wording registries and the engine use.
func pullClass(err error) *runtime.Class {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if c := classOf(err); c != nil {
		switch c {
		case runtime.ErrNotFound:
			return runtime.ErrImageNotFound
		case runtime.ErrInvalid, runtime.ErrConflict:
			return runtime.ErrPull
		}
		return c
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "manifest unknown"), strings.Contains(msg, "not found"),
		strings.Contains(msg, "repository does not exist"), strings.Contains(msg, "no such image"):
		return runtime.ErrImageNotFound
	case strings.Contains(msg, "unauthorized"), strings.Contains(msg, "authentication required"),
		strings.Contains(msg, "denied"):
		return runtime.ErrUnauthorized
	case strings.Contains(msg, "dial tcp"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "tls handshake timeout"), strings.Contains(msg, "server misbehaving"),
		strings.Contains(msg, "temporary failure"), strings.Contains(msg, "network is unreachable"):
		return runtime.ErrUnavailable
	}
	return runtime.ErrPull
}

// streamMessage is one line of Docker's JSON progress stream (pull, load).
type streamMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readStream drains a progress stream and returns the first error it carries.
func readStream(body io.Reader) error {
	dec := json.NewDecoder(body)
	for {
		var m streamMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading progress: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// InspectImage describes a local image.
func (r *Runtime) InspectImage(ctx context.Context, ref string) (runtime.ImageInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	in, err := r.cli.ImageInspect(ctx, ref)
	if err != nil {
		return runtime.ImageInfo{}, imageErr("inspect image", ref, err)
	}
	info := runtime.ImageInfo{
		ID:          in.ID,
		RepoTags:    in.RepoTags,
		RepoDigests: in.RepoDigests,
		Created:     parseTime(in.Created),
		Size:        in.Size,
		OS:          in.Os,
		Arch:        in.Architecture,
	}
	if c := in.Config; c != nil {
		info.Labels = c.Labels
		info.Entrypoint = c.Entrypoint
		info.Cmd = c.Cmd
		info.Env = c.Env
		info.User = c.User
		info.WorkingDir = c.WorkingDir
		for p := range c.ExposedPorts {
			info.ExposedPorts = append(info.ExposedPorts, p)
		}
	}
	return info, nil
}

// imageErr classifies an error about a local image: not found means the
// image is absent.
func imageErr(op, ref string, err error) error {
	c := classOf(err)
	if c == runtime.ErrNotFound {
		c = runtime.ErrImageNotFound
	}
	return runtime.Errorf(c, op, ref, err)
}

// LoadImage loads a `docker save`-format archive and checks the engine's
// answer stream for errors.
func (r *Runtime) LoadImage(ctx context.Context, archive io.Reader) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	resp, err := r.cli.ImageLoad(ctx, archive, client.ImageLoadWithQuiet(true))
	if err != nil {
		return classify("load image", "", err)
	}
	defer resp.Body.Close()
	if !resp.JSON {
		_, err = io.Copy(io.Discard, resp.Body)
		return classify("load image", "", err)
	}
	if err := readStream(resp.Body); err != nil {
		return runtime.Errorf(runtime.ErrInvalid, "load image", "", err)
	}
	return nil
}

// RemoveImage deletes a local image.
func (r *Runtime) RemoveImage(ctx context.Context, ref string, force bool) error {
	ctx, cancel := context.WithTimeout(ctx, imageRemoveTimeout)
	defer cancel()
	_, err := r.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: force, PruneChildren: true})
	if err != nil {
		return imageErr("remove image", ref, err)
	}
	return nil
}

// PruneUntaggedImages deletes untagged images carrying the filter's labels
// that no container uses (images.EnsureImages sweeps the images of earlier
// berth builds with it). It is not part of runtime.Runtime.
func (r *Runtime) PruneUntaggedImages(ctx context.Context, f runtime.Filter) error {
	ctx, cancel := context.WithTimeout(ctx, imageRemoveTimeout)
	defer cancel()
	args := labelFilter(f)
	args.Add("dangling", "true")
	_, err := r.cli.ImagesPrune(ctx, args)
	return classify("prune images", "", err)
}
