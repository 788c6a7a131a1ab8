package registry

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/distribution/distribution/v3"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

// The ECR layer operations drive Distribution's blob uploads directly: an
// uploadId is a Distribution upload id, so an upload started here could be
// finished over /v2/ and the other way round.

// layerPartSize is the part size InitiateLayerUpload suggests: base64 in a
// JSON body, it stays under the edge's request size limit.
const layerPartSize = 5 << 20

// downloadURLTTL is how long a GetDownloadUrlForLayer URL works.
const downloadURLTTL = time.Hour

func (r *Registry) uploadNotFound(repo, id string) error {
	return ecrapi.NewUploadNotFoundException("The upload with id '%s' does not exist in the repository with name '%s' in the registry with id '%s'", id, repo, r.cfg.AccountID)
}

// blobs is the blob service of an existing repository.
func (r *Registry) blobs(ctx context.Context, registryID *string, repo string) (distribution.BlobStore, error) {
	if _, _, err := r.repo(registryID, repo); err != nil {
		return nil, err
	}
	rp, err := r.repositoryByName(ctx, repo)
	if err != nil {
		return nil, err
	}
	return rp.Blobs(ctx), nil
}

// InitiateLayerUpload implements ecrapi.Handler.
func (r *Registry) InitiateLayerUpload(ctx context.Context, in *ecrapi.InitiateLayerUploadRequest) (*ecrapi.InitiateLayerUploadResponse, error) {
	bs, err := r.blobs(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	bw, err := bs.Create(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting an upload: %w", err)
	}
	id := bw.ID()
	if err := bw.Close(); err != nil {
		return nil, fmt.Errorf("starting an upload: %w", err)
	}
	return &ecrapi.InitiateLayerUploadResponse{UploadId: ptr(id), PartSize: ptr(int64(layerPartSize))}, nil
}

// resume reopens an upload.
func (r *Registry) resume(ctx context.Context, bs distribution.BlobStore, repo, id string) (distribution.BlobWriter, error) {
	bw, err := bs.Resume(ctx, id)
	if errors.Is(err, distribution.ErrBlobUploadUnknown) {
		return nil, r.uploadNotFound(repo, id)
	}
	if err != nil {
		return nil, fmt.Errorf("resuming upload %s: %w", id, err)
	}
	return bw, nil
}

// UploadLayerPart implements ecrapi.Handler: parts must arrive in order.
func (r *Registry) UploadLayerPart(ctx context.Context, in *ecrapi.UploadLayerPartRequest) (*ecrapi.UploadLayerPartResponse, error) {
	bs, err := r.blobs(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if in.PartLastByte < in.PartFirstByte || in.PartLastByte-in.PartFirstByte+1 != int64(len(in.LayerPartBlob)) {
		return nil, ecrapi.NewInvalidLayerPartException("The part's byte range %d-%d does not match its %d bytes.", in.PartFirstByte, in.PartLastByte, len(in.LayerPartBlob))
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	bw, err := r.resume(ctx, bs, in.RepositoryName, in.UploadId)
	if err != nil {
		return nil, err
	}
	if bw.Size() != in.PartFirstByte {
		last := bw.Size() - 1
		_ = bw.Close()
		e := ecrapi.NewInvalidLayerPartException("The part starts at byte %d but the upload has %d bytes; parts must be sent in order.", in.PartFirstByte, bw.Size())
		e.Fields = map[string]any{"registryId": r.cfg.AccountID, "repositoryName": in.RepositoryName, "uploadId": in.UploadId, "lastValidByteReceived": last}
		return nil, e
	}
	if _, err := bw.Write(in.LayerPartBlob); err != nil {
		_ = bw.Close()
		return nil, fmt.Errorf("writing upload %s: %w", in.UploadId, err)
	}
	if err := bw.Close(); err != nil {
		return nil, fmt.Errorf("writing upload %s: %w", in.UploadId, err)
	}
	return &ecrapi.UploadLayerPartResponse{
		RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(in.RepositoryName), UploadId: ptr(in.UploadId),
		LastByteReceived: ptr(in.PartLastByte),
	}, nil
}

// CompleteLayerUpload implements ecrapi.Handler.
func (r *Registry) CompleteLayerUpload(ctx context.Context, in *ecrapi.CompleteLayerUploadRequest) (*ecrapi.CompleteLayerUploadResponse, error) {
	bs, err := r.blobs(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(in.LayerDigests) != 1 {
		return nil, ecrapi.NewInvalidParameterException("CompleteLayerUpload takes exactly one layer digest; %d were given.", len(in.LayerDigests))
	}
	d, err := digest.Parse(in.LayerDigests[0])
	if err != nil {
		return nil, ecrapi.NewInvalidLayerException("Invalid layer digest %q: %v", in.LayerDigests[0], err)
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	bw, err := r.resume(ctx, bs, in.RepositoryName, in.UploadId)
	if err != nil {
		return nil, err
	}
	if bw.Size() == 0 {
		_ = bw.Cancel(ctx)
		return nil, ecrapi.NewEmptyUploadException("The upload %s has no layer parts.", in.UploadId)
	}
	if _, err := bs.Stat(ctx, d); err == nil {
		_ = bw.Cancel(ctx)
		return nil, ecrapi.NewLayerAlreadyExistsException("The layer with digest '%s' already exists in the repository with name '%s' in the registry with id '%s'", d, in.RepositoryName, r.cfg.AccountID)
	}
	if _, err := bw.Commit(ctx, v1.Descriptor{Digest: d}); err != nil {
		var bad distribution.ErrBlobInvalidDigest
		if errors.As(err, &bad) {
			_ = bw.Cancel(ctx)
			return nil, ecrapi.NewInvalidLayerException("The layer digest %s does not match the uploaded content.", d)
		}
		return nil, fmt.Errorf("completing upload %s: %w", in.UploadId, err)
	}
	return &ecrapi.CompleteLayerUploadResponse{
		RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(in.RepositoryName), UploadId: ptr(in.UploadId),
		LayerDigest: ptr(d.String()),
	}, nil
}

// BatchCheckLayerAvailability implements ecrapi.Handler.
func (r *Registry) BatchCheckLayerAvailability(ctx context.Context, in *ecrapi.BatchCheckLayerAvailabilityRequest) (*ecrapi.BatchCheckLayerAvailabilityResponse, error) {
	bs, err := r.blobs(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	out := &ecrapi.BatchCheckLayerAvailabilityResponse{Layers: []ecrapi.Layer{}, Failures: []ecrapi.LayerFailure{}}
	for _, s := range in.LayerDigests {
		d, err := digest.Parse(s)
		if err != nil {
			out.Failures = append(out.Failures, ecrapi.LayerFailure{LayerDigest: ptr(s),
				FailureCode: ptr(ecrapi.LayerFailureCodeInvalidLayerDigest), FailureReason: ptr("Invalid layer digest")})
			continue
		}
		desc, err := bs.Stat(ctx, d)
		if err != nil {
			out.Failures = append(out.Failures, ecrapi.LayerFailure{LayerDigest: ptr(s),
				FailureCode: ptr(ecrapi.LayerFailureCodeMissingLayerDigest), FailureReason: ptr("Could not find layer with digest " + s)})
			continue
		}
		out.Layers = append(out.Layers, ecrapi.Layer{LayerDigest: ptr(s), LayerAvailability: ptr(ecrapi.LayerAvailabilityAvailable),
			LayerSize: ptr(desc.Size), MediaType: ptr("application/octet-stream")})
	}
	return out, nil
}

// GetDownloadUrlForLayer implements ecrapi.Handler: a presigned /v2/ blob
// URL, valid for downloadURLTTL without other credentials.
func (r *Registry) GetDownloadUrlForLayer(ctx context.Context, in *ecrapi.GetDownloadUrlForLayerRequest) (*ecrapi.GetDownloadUrlForLayerResponse, error) {
	bs, err := r.blobs(ctx, in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	d, err := digest.Parse(in.LayerDigest)
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid layer digest %q.", in.LayerDigest)
	}
	if _, err := bs.Stat(ctx, d); err != nil {
		return nil, ecrapi.NewLayersNotFoundException("The layer with digest '%s' does not exist in the repository with name '%s' in the registry with id '%s'", d, in.RepositoryName, r.cfg.AccountID)
	}
	path := "/v2/" + in.RepositoryName + "/blobs/" + d.String()
	expires := strconv.FormatInt(r.now().Add(downloadURLTTL).Unix(), 10)
	q := url.Values{"X-Berth-Expires": {expires}, "X-Berth-Signature": {fmt.Sprintf("%x", r.mac("download", path, expires))}}
	return &ecrapi.GetDownloadUrlForLayerResponse{DownloadUrl: ptr(r.ProxyEndpoint() + path + "?" + q.Encode()), LayerDigest: ptr(d.String())}, nil
}

// presigned authenticates a GetDownloadUrlForLayer URL: a valid one gets a
// short-lived password for Distribution's access controller.
func (r *Registry) presigned(req *http.Request) {
	q := req.URL.Query()
	expires, sig := q.Get("X-Berth-Expires"), q.Get("X-Berth-Signature")
	if sig == "" || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return
	}
	if !hmac.Equal([]byte(fmt.Sprintf("%x", r.mac("download", req.URL.Path, expires))), []byte(sig)) {
		return
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || !r.cfg.Now().Before(time.Unix(exp, 0)) {
		return
	}
	req.SetBasicAuth(tokenUser, r.NewPassword(awsapi.Principal{ARN: "presigned-url"}, time.Unix(exp, 0)))
}
