package deep

import (
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SkippedLayer is a layer the deep check did not read: its media type
// does not say it is a tar (an artifact's JSON: an SBOM, an in-toto
// statement, the OCI empty descriptor; an encrypted layer, and the like),
// or it is a foreign layer ([IsForeign]).
type SkippedLayer struct {
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// Foreign is set for a foreign layer, which lives at its URLs.
	Foreign bool `json:"foreign,omitempty"`
}

// IsForeign reports whether a layer is foreign: a Docker foreign or OCI
// nondistributable layer that names URLs, such as the Windows base layers
// of images built on Microsoft's nanoserver and servercore before 2023.
// Registries do not store them and clients download them from the URLs;
// the deep check never dials a URL a registry gave it, so it does not
// read them (the image's own layers still decide the verdict).
func IsForeign(d v1.Descriptor) bool {
	mt := strings.ToLower(string(d.MediaType))
	return len(d.URLs) > 0 && (strings.Contains(mt, ".foreign.") || strings.Contains(mt, ".nondistributable."))
}

// readable reports whether the deep check reads a layer: a tar that is
// not foreign.
func readable(d v1.Descriptor) bool { return IsTar(d.MediaType) && !IsForeign(d) }

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
