package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The classic `docker save` (and `skopeo copy ... docker-archive:`) form:
// manifest.json lists each image's config file, its names and its layer
// files, one platform per image; there are no manifests. mlaudit writes
// each image's Docker manifest itself, so the image is read like any
// other: the config by its sha256, the layers, uncompressed tars, by their
// diff IDs (which are their sha256), checked when they are read.
//
// Docker Engine 25 and later also write an OCI layout (index.json) in the
// same tar; it is read instead when there is one.

// classicImage is one manifest.json entry.
type classicImage struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// blobFile is a file named as a blob: blobs/sha256/<hex> (Docker 25) or
// <hex>.json, <hex>/layer.tar, <hex>.tar (older saves and skopeo).
var blobFile = regexp.MustCompile(`^blobs/sha256/([a-f0-9]{64})$`)

func (a *archiveRepo) loadClassic(t *tarFile) (*archiveContent, error) {
	raw, err := t.readFile("manifest.json", maxManifestBytes)
	if err != nil {
		return nil, err
	}
	var images []classicImage
	if err := json.Unmarshal(raw, &images); err != nil {
		return nil, fmt.Errorf("%w: manifest.json in %s is not a docker save's: %v", ErrBadResponse, a.where, err)
	}
	c := &archiveContent{t: t, made: map[string][]byte{}, files: map[string]string{}}
	for i, img := range images {
		m, err := a.classicManifest(c, img)
		if err != nil {
			return nil, fmt.Errorf("image %d of manifest.json in %s: %w", i+1, a.where, err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		d := sha256Of(b)
		c.made[blobPath(d)] = b
		desc := v1.Descriptor{MediaType: types.DockerManifestSchema2, Size: int64(len(b)), Digest: d}
		if len(img.RepoTags) == 0 {
			c.entries = append(c.entries, desc)
		}
		for _, tag := range img.RepoTags {
			named := desc
			named.Annotations = map[string]string{annotationContainerdName: tag}
			c.entries = append(c.entries, named)
		}
	}
	return c, nil
}

// classicManifest writes the Docker manifest of one saved image.
func (a *archiveRepo) classicManifest(c *archiveContent, img classicImage) (*v1.Manifest, error) {
	cfgRaw, err := c.t.readFile(img.Config, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	cfgDigest := sha256Of(cfgRaw)
	c.files[blobPath(cfgDigest)] = img.Config
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("%w: the config %s does not parse: %v", ErrBadResponse, img.Config, err)
	}
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfgRaw)), Digest: cfgDigest},
	}
	for i, file := range img.Layers {
		var d v1.Hash
		switch {
		case blobFile.MatchString(cleanEntry(file)):
			d = v1.Hash{Algorithm: "sha256", Hex: blobFile.FindStringSubmatch(cleanEntry(file))[1]}
		case len(cfg.RootFS.DiffIDs) == len(img.Layers):
			d = cfg.RootFS.DiffIDs[i]
		default:
			return nil, fmt.Errorf("%w: it lists %d layers and its config %d diff IDs", ErrBadResponse, len(img.Layers), len(cfg.RootFS.DiffIDs))
		}
		e, ok := c.t.entries[cleanEntry(file)]
		if !ok {
			return nil, a.notExported(d)
		}
		c.files[blobPath(d)] = file
		mt := types.DockerUncompressedLayer
		if head, err := c.t.readHead(file, 2); err == nil && bytes.Equal(head, []byte{0x1f, 0x8b}) {
			mt = types.DockerLayer
		}
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: mt, Size: e.size, Digest: d})
	}
	return m, nil
}
