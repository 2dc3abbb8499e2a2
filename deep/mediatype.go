package deep

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SkippedLayer is a layer the deep check did not read because its media
// type does not say it is a tar: an artifact's JSON (an SBOM, an in-toto
// statement, the OCI empty descriptor), an encrypted layer, and the like.
type SkippedLayer struct {
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
}

// IsTar reports whether a layer of media type mt is a tar, plain or
// compressed with gzip or zstd, which is what the deep check reads:
//
//	application/vnd.oci.image.layer.v1.tar                        OCI, plain
//	application/vnd.oci.image.layer.v1.tar+gzip                   OCI, gzip
//	application/vnd.oci.image.layer.v1.tar+zstd                   OCI, zstd
//	application/vnd.oci.image.layer.nondistributable.v1.tar[+...] the same, nondistributable
//	application/vnd.docker.image.rootfs.diff.tar.gzip             Docker schema 2
//	application/vnd.docker.image.rootfs.foreign.diff.tar.gzip     Docker schema 2, foreign
//	application/vnd.cncf.helm.chart.content.v1.tar+gzip           an artifact's tar
//	application/x-tar, application/tar                            plain tar
//
// The rule: the subtype, without parameters and without a trailing
// compression ("+gzip", "+zstd", ".gzip", ".zstd"), is "tar" or "x-tar" or
// ends in ".tar" or "+tar". Anything else (application/spdx+json,
// application/vnd.in-toto+json, application/vnd.oci.empty.v1+json,
// application/json, a "+encrypted" layer) is not read.
//
// An empty media type is taken for a tar, as before media types were
// checked: descriptors must carry one, and the stream's magic bytes still
// pick the decompressor.
func IsTar(mt types.MediaType) bool {
	s := strings.ToLower(strings.TrimSpace(string(mt)))
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if s == "" {
		return true
	}
	_, sub, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	for _, c := range []string{"+gzip", "+zstd", ".gzip", ".zstd"} {
		if strings.HasSuffix(sub, c) {
			sub = strings.TrimSuffix(sub, c)
			break
		}
	}
	return sub == "tar" || sub == "x-tar" || strings.HasSuffix(sub, ".tar") || strings.HasSuffix(sub, "+tar")
}
